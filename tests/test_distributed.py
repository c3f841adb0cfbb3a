"""DDP with 2 CPU processes (gloo) matches one process, and resumes after kill -9.

Same pipeline, same seed, same global batch: the single run and a `--nproc 2` run that is
SIGKILLed during teacher training and run again must end with weights equal within
ATOL (they differ only by float reduction order; measured ~1e-7 after 5 epochs). Models are
BatchNorm-free MLPs: with BatchNorm each rank normalises over its own shard, as in any DDP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from conftest import REPO

ATOL = 1e-5
EPOCHS = 5


def _pipeline(cfg: dict) -> dict:
    cfg["data"]["options"]["num_samples"] = 1000
    cfg["teacher"] = {
        "model": "mlp",
        "options": {"hidden": [32]},
        "train": {"epochs": EPOCHS, "batch_size": 64, "lr": 0.01},
    }
    cfg["students"][0]["baseline"] = False
    cfg["students"][0]["train"]["epochs"] = EPOCHS
    cfg["targets"] = []
    return cfg


def _weights(out: Path, label: str) -> dict:
    (folder,) = [p for p in out.glob(f"stages/{label}-*") if p.is_dir()]
    return torch.load(folder / "model.pt", weights_only=True)


def _parents() -> dict[int, int]:
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            out[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    return out


def _descendants(pid: int) -> list[int]:
    parents, found, frontier = _parents(), [], [pid]
    while frontier:
        kids = [c for c, p in parents.items() if p in frontier]
        found += kids
        frontier = kids
    return found


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _kill_ddp_at_checkpoint(pipeline: Path, out: Path) -> int:
    cmd = [sys.executable, "-m", "edgekd", "run", str(pipeline), "--out", str(out), "--nproc", "2"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        found = list(out.glob("stages/.partial-teacher-*/resume-checkpoint.pt"))
        if found or proc.poll() is not None:
            break
        time.sleep(0.01)
    victims = [proc.pid, *_descendants(proc.pid)]  # torchrun starts ranks in new sessions
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    while any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in victims):
        time.sleep(0.01)  # every rank gone: the checkpoint read below is the last one
    assert found, f"no DDP checkpoint appeared: {proc.stderr.read()}"
    return torch.load(found[0], weights_only=True)["epoch"]


def test_two_process_ddp_matches_single_process(tiny_config, write_pipeline, tmp_path, cli):
    pipeline = write_pipeline(_pipeline(tiny_config))
    single = cli("run", pipeline, "--out", tmp_path / "single", "-q")
    assert single.returncode == 0, single.stderr

    out = tmp_path / "ddp"
    done = _kill_ddp_at_checkpoint(pipeline, out)
    assert 1 <= done < EPOCHS
    ddp = cli("run", pipeline, "--out", out, "--nproc", "2")
    assert ddp.returncode == 0, ddp.stderr
    assert f"teacher: resuming after epoch {done}" in ddp.stderr
    assert (out / "report.json").is_file()

    for label in ("teacher", "mlp-t"):
        a, b = _weights(tmp_path / "single", label), _weights(out, label)
        diff = max(float((a[k] - b[k]).abs().max()) for k in a)
        print(f"{label}: max |w_single - w_ddp| = {diff:.3g}")
        assert diff < ATOL, f"{label} differs by {diff}"
    assert not list(out.glob("stages/.*")), "rank > 0 scratch and partial folders are removed"


def _fake_cifar10(root: Path, per_file: int = 40) -> Path:
    """A tiny CIFAR-10 in the python-pickle layout (random pixels; offline)."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir()

    def dump(obj, name):
        (folder / name).write_bytes(pickle.dumps(obj, protocol=2))

    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        dump(
            {
                b"data": rng.integers(0, 256, (per_file, 3072), dtype=np.uint8),
                b"labels": [int(v) for v in rng.integers(0, 10, per_file)],
            },
            name,
        )
    dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, "batches.meta")
    return folder


def test_ddp_with_augmentation_matches_single_process(tiny_config, write_pipeline, tmp_path, cli):
    """Each rank augments the whole global batch with the shared seeded generator and keeps
    its rows, so random crops and flips do not break the equality (augmenting only its own
    shard gave 5e-3 here; this gives ~1e-8). SGD: on these random-pixel inputs Adam turns the
    reduction-order noise of near-zero gradients into full-size steps (1e-4 to 1e-3 apart)."""
    cfg = _pipeline(tiny_config)
    cfg["data"] = {
        "dataset": "cifar",
        "options": {"path": str(_fake_cifar10(tmp_path)), "augment": True},
        "calib_size": 16,
    }
    for train in (cfg["teacher"]["train"], cfg["students"][0]["train"]):
        train.update(epochs=2, optimizer="sgd")  # Adam would magnify float noise (see doc)
    pipeline = write_pipeline(cfg)
    single = cli("run", pipeline, "--out", tmp_path / "single", "-q")
    assert single.returncode == 0, single.stderr
    ddp = cli("run", pipeline, "--out", tmp_path / "ddp", "-q", "--nproc", "2")
    assert ddp.returncode == 0, ddp.stderr
    for label in ("teacher", "mlp-t"):
        a, b = _weights(tmp_path / "single", label), _weights(tmp_path / "ddp", label)
        diff = max(float((a[k] - b[k]).abs().max()) for k in a)
        print(f"augmented {label}: max |w_single - w_ddp| = {diff:.3g}")
        assert diff < ATOL, f"{label} differs by {diff}"
