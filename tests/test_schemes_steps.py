"""Schemes hand their losses the optimizer step (issue 12, point 7): DKD's warm-up ramps at
the same pace whether a scheme calls it once per batch (offline), once per other peer (DML)
or once per auxiliary head (BYOT), and a resumed run continues the step count."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pluginlib import prepare_teachers, scheme_student
from torch import nn

from edgekd.config.schema import StudentConfig, TrainConfig
from edgekd.distill.losses.response import DKDLoss
from edgekd.distill.schemes import SCHEMES, DistillJob
from edgekd.distill.trainer import StepInfo, fit
from edgekd.models import build_model
from edgekd.progress import Reporter

DKD = [{"name": "dkd", "weight": 1.0, "options": {"warmup": 2.0}}]
EPOCHS = 2


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepare_teachers(tmp_path_factory.mktemp("steps"))


@pytest.fixture
def ramps(monkeypatch):
    """Every DKD call's (step, steps_per_epoch, ramp factor), in call order."""
    seen: list[tuple] = []
    original = DKDLoss.ramp

    def record(self, out):
        factor = original(self, out)
        seen.append((out.step, out.steps_per_epoch, factor))
        return factor

    monkeypatch.setattr(DKDLoss, "ramp", record)
    return seen


def _run(scheme: str, options: dict, prepared, folder, channels=(8, 8)) -> None:
    splits, teachers = prepared["mnist1d"]
    spec = scheme_student(scheme, options, losses=DKD)
    spec["options"] = {"channels": list(channels)}
    spec["train"]["epochs"] = EPOCHS
    s = StudentConfig.model_validate(spec)
    torch.manual_seed(0)

    def build():
        return build_model(s.model, s.options, splits.input_shape, splits.num_classes)

    cls = SCHEMES.get(scheme)
    folder.mkdir()
    given = teachers[:1] if cls.needs_teacher else []
    job = DistillJob(
        build(), given, splits, s.distill, s.train, 0, folder, scheme, Reporter(True), build
    )
    cls().run(job)


def _by_step(seen: list[tuple]) -> dict[int, set]:
    out: dict[int, set] = {}
    for step, _, factor in seen:
        out.setdefault(step, set()).add(factor)
    return out


def test_dkd_ramps_once_per_optimizer_step_in_dml_and_byot(prepared, ramps, tmp_path):
    _run("offline", {}, prepared, tmp_path / "offline")
    offline = _by_step(ramps)
    spe = ramps[0][1]
    assert sorted(offline) == list(range(EPOCHS * spe)) and all(
        len(f) == 1 for f in offline.values()
    )
    assert offline[0] == {1 / (2 * spe)} and offline[EPOCHS * spe - 1] == {1.0}

    ramps.clear()
    _run("dml", {"peers": 3}, prepared, tmp_path / "dml")
    assert len(ramps) == 3 * 2 * EPOCHS * spe  # each of 3 peers learns from 2 others per step
    assert _by_step(ramps) == offline  # the same factor at the same step

    ramps.clear()
    taps = {"taps": ["features.0", "features.1", "features.2"]}
    _run("byot", taps, prepared, tmp_path / "byot", channels=(8, 8, 8))
    assert len(ramps) == 3 * EPOCHS * spe  # one call per head per step
    assert _by_step(ramps) == offline


class _Crash(Exception):
    pass


def test_a_resumed_fit_continues_the_step_count(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(40, 4).numpy()
    y = (np.arange(40) % 2).astype(np.int64)
    cfg = TrainConfig(epochs=3, batch_size=8)

    def train(folder, crash_at=None):
        folder.mkdir(exist_ok=True)
        torch.manual_seed(0)
        model = nn.Linear(4, 2)
        info, steps = StepInfo(), []

        def batch_loss(_idx, xb, yb):
            if info.step == crash_at:
                raise _Crash
            steps.append(info.step)
            return nn.functional.cross_entropy(model(xb), yb)

        try:
            fit(
                model,
                batch_loss,
                model,
                x,
                y,
                None,
                cfg,
                0,
                folder,
                "m",
                Reporter(True),
                step_info=info,
            )
        except _Crash:
            pass
        assert info.steps_per_epoch == 5
        return steps, model.state_dict()

    whole, w_whole = train(tmp_path / "whole")
    assert whole == list(range(15))
    first, _ = train(tmp_path / "killed", crash_at=7)  # in epoch 2, after epoch 1's checkpoint
    assert first == list(range(7))
    resumed, w_resumed = train(tmp_path / "killed")
    assert resumed == list(range(5, 15))  # epoch 2 again, counted from step 5
    assert all(torch.equal(w_whole[k], w_resumed[k]) for k in w_whole)
