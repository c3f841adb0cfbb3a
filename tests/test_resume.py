"""kill -9 during teacher training and during distillation, rerun: bitwise the same result.

Real subprocesses and SIGKILL: the run is killed as soon as a resume checkpoint appears in the
stage's .partial folder, rerun (killed again in distillation), then completed, and its weights
are compared with an uninterrupted run at the same seed. The student uses dropout, so this
also checks that the RNG state comes back with the checkpoint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO

EPOCHS = 6


def _pipeline(tiny_config: dict) -> dict:
    cfg = tiny_config
    cfg["data"]["options"]["num_samples"] = 800
    cfg["teacher"]["train"].update(epochs=EPOCHS, optimizer="sgd", schedule="cosine")
    cfg["students"][0]["options"]["dropout"] = 0.2
    cfg["students"][0]["baseline"] = False
    cfg["students"][0]["train"].update(epochs=EPOCHS, optimizer="adamw", schedule="step")
    cfg["students"][0]["train"]["milestones"] = [3, 6]
    cfg["targets"] = []
    return cfg


def _start(pipeline: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "edgekd", "run", str(pipeline), "--out", str(out)]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_at_checkpoint(proc: subprocess.Popen, out: Path, label: str) -> int:
    """SIGKILL `proc` once stages/.partial-<label>-*/resume-checkpoint.pt exists; its epoch."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        found = list(out.glob(f"stages/.partial-{label}-*/resume-checkpoint.pt"))
        if found:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return torch.load(found[0], weights_only=True)["epoch"]
        if proc.poll() is not None:
            pytest.fail(f"run ended before a {label} checkpoint appeared: {proc.stderr.read()}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"no {label} checkpoint within 300 s")


def _weights(out: Path, label: str) -> tuple[str, dict]:
    (folder,) = [p for p in out.glob(f"stages/{label}-*") if p.is_dir()]
    return folder.name, torch.load(folder / "model.pt", weights_only=True)


def test_kill9_then_rerun_is_bitwise_identical(tiny_config, write_pipeline, tmp_path, cli):
    pipeline = write_pipeline(_pipeline(tiny_config))
    ref = cli("run", pipeline, "--out", tmp_path / "ref", "-q")
    assert ref.returncode == 0, ref.stderr

    out = tmp_path / "killed"
    done_teacher = _kill_at_checkpoint(_start(pipeline, out), out, "teacher")
    assert 1 <= done_teacher < EPOCHS
    assert not [p for p in out.glob("stages/teacher-*")], "killed stage must not look complete"
    second = _start(pipeline, out)
    done_student = _kill_at_checkpoint(second, out, "mlp-t")
    assert 1 <= done_student < EPOCHS
    assert f"teacher: resuming after epoch {done_teacher}" in second.stderr.read().decode()
    last = cli("run", pipeline, "--out", out)
    assert last.returncode == 0, last.stderr
    assert f"mlp-t: resuming after epoch {done_student}" in last.stderr

    for label in ("teacher", "mlp-t"):
        name_ref, w_ref = _weights(tmp_path / "ref", label)
        name_out, w_out = _weights(out, label)
        assert name_ref == name_out  # same key: same config and bitwise-same inputs
        assert w_ref.keys() == w_out.keys()
        for k in w_ref:
            assert torch.equal(w_ref[k], w_out[k]), f"{label}.{k} differs after resume"
    assert not list(out.glob("stages/.partial-*")), "partial folders are renamed when complete"


def test_unreadable_resume_checkpoint_restarts_the_stage(tmp_path, capfd):
    """A checkpoint cut short (power loss, full disk) is dropped, not a crash."""
    from torch import nn

    from edgekd.config.schema import TrainConfig
    from edgekd.distill.trainer import CKPT, fit
    from edgekd.progress import Reporter

    (tmp_path / CKPT).write_bytes(b"PK\x03\x04 cut short")
    model = nn.Linear(4, 2)
    x, y = torch.randn(16, 4).numpy(), (torch.arange(16) % 2).numpy()
    loss = nn.CrossEntropyLoss()
    cfg = TrainConfig(epochs=2, batch_size=8)
    history = fit(
        model,
        lambda _i, xb, yb: loss(model(xb), yb),
        model,
        x,
        y,
        None,
        cfg,
        0,
        tmp_path,
        "m",
        Reporter(quiet=True),
    )
    assert [h["epoch"] for h in history] == [1, 2]
    assert "unreadable resume checkpoint" in capfd.readouterr().err
    assert torch.load(tmp_path / CKPT, weights_only=True)["epoch"] == 2


def test_kill9_cs_kd_and_teacher_assistant_resume_bitwise(
    tiny_config, write_pipeline, tmp_path, cli
):
    """CS-KD's partner draw has no state to lose, and a teacher-assistant run killed in
    phase 2 resumes there: phase 1 (the assistant) is not trained again."""
    import copy

    cfg = _pipeline(tiny_config)
    base = cfg["students"][0]
    cskd = copy.deepcopy(base) | {"name": "cskd"}
    cskd["distill"] = base["distill"] | {"scheme": "cs-kd"}
    ta = copy.deepcopy(base) | {"name": "ta"}
    assistant = {"model": "mlp", "options": {"hidden": [32]}}
    ta["distill"] = base["distill"] | {"scheme": "ta", "options": assistant}
    cfg["students"] = [cskd, ta]
    pipeline = write_pipeline(cfg)
    ref = cli("run", pipeline, "--out", tmp_path / "ref", "-q")
    assert ref.returncode == 0, ref.stderr

    out = tmp_path / "killed"
    done_cskd = _kill_at_checkpoint(_start(pipeline, out), out, "cskd")
    second = _start(pipeline, out)
    done_ta = _kill_at_checkpoint(second, out, "ta")  # phase 2's checkpoint, not phase 1's
    assert 1 <= done_cskd < EPOCHS and 1 <= done_ta < EPOCHS
    assert f"cskd: resuming after epoch {done_cskd}" in second.stderr.read().decode()
    last = cli("run", pipeline, "--out", out)
    assert last.returncode == 0, last.stderr
    assert f"ta (assistant): resuming after epoch {EPOCHS}" in last.stderr  # not retrained
    assert f"ta: resuming after epoch {done_ta}" in last.stderr

    for label in ("cskd", "ta"):
        name_ref, w_ref = _weights(tmp_path / "ref", label)
        name_out, w_out = _weights(out, label)
        assert name_ref == name_out
        for k in w_ref:
            assert torch.equal(w_ref[k], w_out[k]), f"{label}.{k} differs after resume"
    (stage,) = out.glob("stages/ta-*/stage.json")
    import json

    info = json.loads(stage.read_text())["info"]
    assert info["assistant"]["model"] == "mlp" and 0 <= info["assistant"]["acc_test"] <= 1


class _Killed(Exception):
    pass


@pytest.mark.parametrize(
    ("scheme", "options", "phase"),
    [
        ("tf-kd", {"teacher": "self"}, "self-teacher"),
        ("ta", {"model": "cnn1d", "options": {"channels": [12, 12]}}, "assistant"),
    ],
)
def test_a_finished_first_phase_survives_a_crash_in_the_second(
    scheme, options, phase, tmp_path, capfd, monkeypatch
):
    """A scheme's first model (Tf-KD's self-teacher, the assistant) keeps its checkpoint in a
    resume-* folder, which the stage store keeps across a crash: it is not trained again."""
    from pluginlib import prepare_teachers, scheme_student

    from edgekd.config.schema import StudentConfig
    from edgekd.distill.schemes import DistillJob
    from edgekd.progress import Reporter
    from edgekd.stages.train import run_distill
    from edgekd.store import StageStore

    (tmp_path / "t").mkdir()
    splits, teachers = prepare_teachers(tmp_path / "t")["mnist1d"]
    student = StudentConfig.model_validate(scheme_student(scheme, options))
    store = StageStore(tmp_path / "stages")

    def stage():
        return store.run(
            "distill",
            "s",
            {"scheme": scheme},
            {},
            lambda d: run_distill(student, teachers[:1], splits, 0, d, "s", Reporter()),
        )

    fit, fits = DistillJob.fit, []

    def second_fit_dies(job, *args, **kwargs):
        fits.append(job.label)
        if len(fits) == 2:
            raise _Killed
        return fit(job, *args, **kwargs)

    monkeypatch.setattr(DistillJob, "fit", second_fit_dies)
    with pytest.raises(_Killed):
        stage()
    monkeypatch.setattr(DistillJob, "fit", fit)
    capfd.readouterr()
    stage()
    assert f"s ({phase}): resuming after epoch 1" in capfd.readouterr().err
