"""The teacher-output cache: used exactly when it is exact, and it changes nothing but speed."""

from __future__ import annotations

import pytest
import torch

from edgekd.config.schema import DistillConfig, LossSpec, TrainConfig
from edgekd.data import DATASETS, make_splits
from edgekd.distill.cache import use_cache
from edgekd.distill.schemes import SCHEMES, DistillJob
from edgekd.errors import ConfigError
from edgekd.models import build_model


class Lines:
    def __init__(self):
        self.lines = []

    def line(self, text):
        self.lines.append(text)

    def task(self, *_):
        from edgekd.progress import Reporter

        return Reporter(quiet=True).task("x", 1)


def test_cache_decision():
    assert use_cache("auto", []) and use_cache("on", [])
    assert not use_cache("off", [])
    assert not use_cache("auto", ["features.0"]) and not use_cache("auto", [], augmented=True)
    with pytest.raises(ConfigError, match="cache_teacher_outputs"):
        use_cache("on", ["features.0"])


def _distill(mode: str, splits, tmp_path):
    shape, k = splits.input_shape, splits.num_classes
    torch.manual_seed(0)
    teacher = build_model("cnn1d", {"channels": [8, 8]}, shape, k)
    student = build_model("mlp", {"hidden": [16]}, shape, k)
    distill = DistillConfig(losses=[LossSpec(name="kd")], cache_teacher_outputs=mode)
    reporter = Lines()
    job = DistillJob(
        student,
        [teacher],
        splits,
        distill,
        TrainConfig(epochs=2, batch_size=32),
        0,
        tmp_path / mode,
        "s",
        reporter,
        lambda: None,
    )
    (tmp_path / mode).mkdir()
    state = SCHEMES.get("offline")().run(job).state_dict()
    return state, reporter.lines + [f"cached={job.info['teacher_outputs_cached']}"]


def test_cache_on_and_off_train_the_same_student(tmp_path):
    plugin = DATASETS.get("mnist1d")
    splits = make_splits(plugin.load(plugin.Options(num_samples=300)), 0.1, 16, 0)
    on, on_lines = _distill("auto", splits, tmp_path)
    off, off_lines = _distill("off", splits, tmp_path)
    assert any("computed once" in line for line in on_lines) and "cached=True" in on_lines
    assert any("every batch" in line for line in off_lines) and "cached=False" in off_lines
    for k in on:  # the teacher in eval mode gives the same logits batched or all at once
        torch.testing.assert_close(on[k], off[k], atol=1e-5, rtol=1e-4)


def test_multi_teacher_honours_cache_off(tmp_path):
    """Regression: multi-teacher cached its teachers' logits even with `off`."""
    plugin = DATASETS.get("mnist1d")
    splits = make_splits(plugin.load(plugin.Options(num_samples=300)), 0.1, 16, 0)
    shape, k = splits.input_shape, splits.num_classes
    calls, cached = {}, {}
    for mode in ("auto", "off"):
        torch.manual_seed(0)
        teachers = [build_model("mlp", {"hidden": [8]}, shape, k) for _ in range(2)]
        count = [0]
        for t in teachers:
            t.register_forward_hook(lambda *_, count=count: count.__setitem__(0, count[0] + 1))
        distill = DistillConfig(
            scheme="multi-teacher", losses=[LossSpec(name="kd")], cache_teacher_outputs=mode
        )
        student = build_model("mlp", {"hidden": [8]}, shape, k)
        (tmp_path / mode).mkdir()
        job = DistillJob(
            student,
            teachers,
            splits,
            distill,
            TrainConfig(epochs=2, batch_size=64),
            0,
            tmp_path / mode,
            "s",
            Lines(),
            lambda: None,
        )
        SCHEMES.get("multi-teacher")().run(job)
        calls[mode], cached[mode] = count[0], job.info["teacher_outputs_cached"]
    batches = 2 * -(-len(splits.x["train"]) // 64)
    assert cached == {"auto": True, "off": False}
    assert calls["auto"] == 2  # each teacher once, over the whole training split
    assert calls["off"] == 2 * batches  # each teacher on every batch of every epoch
