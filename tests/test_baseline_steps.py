"""Honest baselines: a scratch twin trains for exactly as many optimizer steps as its
distilled student (which may also read a transfer set), with the same augmentation, and the
LR schedule runs per step over that count; without a transfer set nothing changes."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from edgekd.config.schema import StudentConfig, TrainConfig
from edgekd.progress import Reporter


@pytest.mark.parametrize(
    "n, batch", [(48, 16), (49, 16), (50, 16), (17, 16), (3, 1), (1, 8), (2, 8), (100, 7)]
)
def test_steps_per_epoch_counts_the_batches_the_plan_trains(n, batch):
    from edgekd.distill.trainer import _Loop, steps_per_epoch

    loop = _Loop(None, None, None, None, None, TrainConfig(batch_size=batch), "m", None)
    assert steps_per_epoch(n, batch) == len(loop.plan(n, 0, 0))


def _fit(folder, cfg: TrainConfig, reporter=None, n: int = 48):
    from edgekd.distill.trainer import fit

    torch.manual_seed(0)
    x = torch.randn(n, 6).numpy()
    y = (torch.arange(n) % 3).numpy()
    model = nn.Linear(6, 3)
    lrs = []

    def batch_loss(_i, xb, yb):
        return nn.functional.cross_entropy(model(xb), yb)

    opt_step = torch.optim.Adam.step

    def record(self, *a, **k):
        lrs.append(self.param_groups[0]["lr"])
        return opt_step(self, *a, **k)

    torch.optim.Adam.step = record
    try:
        history = fit(
            model, batch_loss, model, x, y, None, cfg, 0, folder, "m", reporter or Reporter(True)
        )
    finally:
        torch.optim.Adam.step = opt_step
    return model, history, lrs


def test_steps_cap_the_run_and_the_cosine_runs_per_step(tmp_path):
    cfg = TrainConfig(steps=10, batch_size=16, lr=0.1)  # 3 batches an epoch: 4 epochs
    _, history, lrs = _fit(tmp_path, cfg)
    assert [h["steps"] for h in history] == [3, 6, 9, 10] and len(lrs) == 10
    expected = [0.05 * (1 + math.cos(math.pi * k / 10)) for k in range(10)]
    assert lrs == pytest.approx(expected)


def test_without_steps_the_schedule_stays_per_epoch(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.1)
    _, history, lrs = _fit(tmp_path, cfg)
    assert [h["steps"] for h in history] == [3, 6]
    assert lrs == pytest.approx([0.1] * 3 + [0.05] * 3)  # cosine over 2 epochs, per epoch


def test_step_milestones_count_steps(tmp_path):
    cfg = TrainConfig(steps=5, batch_size=16, lr=0.1, schedule="step", milestones=[2, 4])
    _, _, lrs = _fit(tmp_path, cfg)
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])


def test_resume_inside_a_step_capped_run_is_bitwise(tmp_path):
    from test_plugins_augmentations import Interrupt, StopAfterFirstEpoch

    cfg = TrainConfig(steps=8, batch_size=16, lr=0.05)
    (tmp_path / "whole").mkdir()
    (tmp_path / "resumed").mkdir()
    whole, _, _ = _fit(tmp_path / "whole", cfg)
    with pytest.raises(Interrupt):
        _fit(tmp_path / "resumed", cfg, StopAfterFirstEpoch())
    resumed, history, _ = _fit(tmp_path / "resumed", cfg)
    assert history[-1]["steps"] == 8
    for k, v in whole.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_epochs_and_steps_together_are_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not both"):
        TrainConfig(epochs=3, steps=10)
    assert TrainConfig(steps=10).steps == 10


def test_the_distilled_spec_runs_by_steps_only_with_more_rows():
    from edgekd.config.matching import baseline_train, distilled_spec
    from edgekd.distill.trainer import steps_per_epoch

    s = StudentConfig.model_validate(
        {
            "name": "s",
            "model": "mlp",
            "train": {"epochs": 3, "batch_size": 64, "milestones": [2], "schedule": "step"},
            "distill": {"losses": [{"name": "kd"}]},
        }
    )
    assert distilled_spec(s, 432, 432) is s and baseline_train(s, s) is s.train
    twin = distilled_spec(s, 732, 432)
    per = steps_per_epoch(732, 64)
    assert twin.train.steps == 3 * per and twin.train.milestones == [2 * per]
    assert baseline_train(s, twin) == twin.train


@pytest.fixture(scope="module")
def transfer_run(tmp_path_factory):
    """The tiny pipeline with 300 generated transfer signals, shift augmentation and a
    scratch twin."""
    import copy

    import yaml
    from conftest import TINY

    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline

    root = tmp_path_factory.mktemp("transfer")
    cfg = copy.deepcopy(TINY)
    cfg["data"] |= {"transfer_samples": 300, "augment": [{"name": "shift"}]}
    path = root / "p.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run_pipeline(load_pipeline(path), path, out=root / "run", reporter=Reporter(True))
    records = {}
    for p in (root / "run" / "stages").glob("*/stage.json"):
        r = json.loads(p.read_text())
        records[r["label"]] = r
    return root / "run", records


def test_the_scratch_twin_takes_as_many_steps_as_its_distilled_student(transfer_run):
    from edgekd.distill.trainer import steps_per_epoch

    _, records = transfer_run
    scratch, distilled = records["mlp-t-scratch"]["info"], records["mlp-t"]["info"]
    labeled = records["data"]["info"]["sizes"]["train"]
    steps = 2 * steps_per_epoch(labeled + 300, 64)
    assert distilled["steps"] == scratch["steps"] == steps
    assert scratch["history"][-1]["steps"] == steps and scratch["step_matched"] is True
    assert len(scratch["history"]) == math.ceil(steps / steps_per_epoch(labeled, 64)) > 2
    assert distilled["transfer_samples"] == 300
    for label in ("mlp-t", "mlp-t-scratch"):  # the same augmentation for both
        assert records[label]["config"]["augment"] == [
            {"name": "shift", "options": {"max": 4, "mode": "edge"}}
        ]


def test_the_report_says_the_baseline_is_step_matched(transfer_run):
    run, _ = transfer_run
    text = (run / "report.md").read_text()
    assert "mlp-t-scratch is step-matched" in text
    assert "cannot use the 300 unlabeled transfer inputs" in text
    report = json.loads((run / "report.json").read_text())
    assert report["models"]["mlp-t-scratch"]["step_matched"] is True
