"""DDP with 2 CPU processes (gloo) matches one process, and resumes after kill -9.

Same pipeline, same seed, same global batch: the single run and a `--nproc 2` run that is
SIGKILLed during teacher training and run again must end with weights equal within
ATOL (they differ only by float reduction order; measured ~1e-7 after 5 epochs). Models are
BatchNorm-free MLPs: with BatchNorm each rank normalises over its own shard, as in any DDP.
"""

from __future__ import annotations

import copy
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


def _kill_ddp_at_checkpoint(pipeline: Path, out: Path, label: str = "teacher") -> int:
    cmd = [sys.executable, "-m", "edgekd", "run", str(pipeline), "--out", str(out), "--nproc", "2"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        found = list(out.glob(f"stages/.partial-{label}-*/resume-checkpoint.pt"))
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
    shard gave 5e-3 here; this gives ~1e-8); CS-KD augments the global batch's partners
    the same way. SGD: on these random-pixel inputs Adam turns the
    reduction-order noise of near-zero gradients into full-size steps (1e-4 to 1e-3 apart)."""
    cfg = _pipeline(tiny_config)
    cfg["data"] = {
        "dataset": "cifar",
        "options": {"path": str(_fake_cifar10(tmp_path)), "augment": True},
        "calib_size": 16,
    }
    for train in (cfg["teacher"]["train"], cfg["students"][0]["train"]):
        train.update(epochs=2, optimizer="sgd")  # Adam would magnify float noise (see doc)
    cskd = copy.deepcopy(cfg["students"][0]) | {"name": "cskd"}  # its partners are augmented
    cskd["distill"]["scheme"] = "cs-kd"
    cfg["students"].append(cskd)
    pipeline = write_pipeline(cfg)
    single = cli("run", pipeline, "--out", tmp_path / "single", "-q")
    assert single.returncode == 0, single.stderr
    ddp = cli("run", pipeline, "--out", tmp_path / "ddp", "-q", "--nproc", "2")
    assert ddp.returncode == 0, ddp.stderr
    for label in ("teacher", "mlp-t", "cskd"):
        a, b = _weights(tmp_path / "single", label), _weights(tmp_path / "ddp", label)
        diff = max(float((a[k] - b[k]).abs().max()) for k in a)
        print(f"augmented {label}: max |w_single - w_ddp| = {diff:.3g}")
        assert diff < ATOL, f"{label} differs by {diff}"


def test_every_distributed_scheme_matches_one_process(tiny_config, write_pipeline, tmp_path, cli):
    """Each scheme that runs under DDP (docs/scale.md) gives one process's weights on 2
    processes. Teachers are loaded checkpoints (the same in both runs; one has BatchNorm, in
    eval mode, for DeepInversion); students are BatchNorm- and dropout-free MLPs."""
    from edgekd.models import build_model

    torch.manual_seed(0)
    for name, model, options in (("t0", "cnn1d", {"channels": [8, 8]}), ("t1", "mlp", {})):
        net = build_model(
            model, options | ({"hidden": [24]} if model == "mlp" else {}), (1, 40), 10
        )
        torch.save(net.state_dict(), tmp_path / f"{name}.pt")
    cfg = _pipeline(tiny_config)
    del cfg["teacher"]
    cfg["teachers"] = [
        {"model": "cnn1d", "options": {"channels": [8, 8]}, "checkpoint": "t0.pt"},
        {"model": "mlp", "options": {"hidden": [24]}, "checkpoint": "t1.pt"},
    ]
    base = cfg["students"][0]
    schemes = {
        "dml": {"peers": 2},
        "tf-kd": {"teacher": "self"},
        "cs-kd": {},
        "byot": {"taps": ["features.1"], "head": "fc"},
        "multi-teacher": {},
        "ta": {"model": "mlp", "options": {"hidden": [32]}},
        "data-free": {"num_samples": 96, "batch_size": 32, "steps": 3},
    }
    cfg["students"] = []
    for scheme, options in schemes.items():
        s = {**base, "name": scheme, "train": base["train"] | {"epochs": 2}}
        s["distill"] = base["distill"] | {"scheme": scheme, "options": options}
        cfg["students"].append(s)
    pipeline = write_pipeline(cfg)
    single = cli("run", pipeline, "--out", tmp_path / "single", "-q")
    assert single.returncode == 0, single.stderr
    ddp = cli("run", pipeline, "--out", tmp_path / "ddp", "-q", "--nproc", "2")
    assert ddp.returncode == 0, ddp.stderr
    for label in schemes:
        a, b = _weights(tmp_path / "single", label), _weights(tmp_path / "ddp", label)
        diff = max(float((a[k] - b[k]).abs().max()) for k in a)
        print(f"{label}: max |w_single - w_ddp| = {diff:.3g}")
        assert diff < ATOL, f"{label} differs by {diff}"


def test_adversarial_is_refused_under_ddp(tiny_config, write_pipeline, cli):
    cfg = _pipeline(tiny_config)
    cfg["students"][0]["distill"]["scheme"] = "adversarial"
    res = cli("run", write_pipeline(cfg), "--nproc", "2")
    assert res.returncode == 2
    out = res.stderr + res.stdout
    assert "scheme 'adversarial' does not run on several processes" in out, out
    assert out.count("does not run on several processes") == 1  # said once, by rank 0
    assert "Traceback" not in out


def test_data_free_resumes_under_ddp(tiny_config, write_pipeline, tmp_path, cli):
    """Only rank 0's folder keeps the synthetic inputs across a kill; it hands them to the
    other ranks (which would otherwise synthesise alone and wait for rank 0 forever)."""
    from edgekd.models import build_model

    torch.manual_seed(0)
    net = build_model("cnn1d", {"channels": [8, 8]}, (1, 40), 10)
    torch.save(net.state_dict(), tmp_path / "t0.pt")
    cfg = _pipeline(tiny_config)
    cfg["teacher"] = {"model": "cnn1d", "options": {"channels": [8, 8]}, "checkpoint": "t0.pt"}
    student = cfg["students"][0]
    student["name"] = "free"
    student["train"] |= {"epochs": 4, "batch_size": 16}
    free = {"num_samples": 256, "batch_size": 64, "steps": 2}
    student["distill"] |= {"scheme": "data-free", "options": free}
    pipeline = write_pipeline(cfg)
    single = cli("run", pipeline, "--out", tmp_path / "single", "-q")
    assert single.returncode == 0, single.stderr
    out = tmp_path / "ddp"
    done = _kill_ddp_at_checkpoint(pipeline, out, "free")
    assert 1 <= done < 4 and list(out.glob("stages/.partial-free-*/resume-synthetic-0.npz"))
    ddp = cli("run", pipeline, "--out", out, "--nproc", "2", timeout=300)
    assert ddp.returncode == 0, ddp.stderr
    assert f"free: resuming after epoch {done}" in ddp.stderr
    a, b = _weights(tmp_path / "single", "free"), _weights(out, "free")
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert diff < ATOL, f"free differs by {diff}"
