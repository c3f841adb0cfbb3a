"""Training where the user's hardware is, the memory-mapped teacher cache, transfer inputs in
distillation, and the warnings a user would want."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgekd.config.schema import DistillConfig, LossSpec, TrainConfig
from edgekd.data import DATASETS, make_splits
from edgekd.data.source import ArraySource
from edgekd.distill.hardware import CPU, Hardware, resolve_hardware
from edgekd.distill.schemes import SCHEMES, DistillJob, WeightedLosses, fill_labels
from edgekd.errors import ConfigError
from edgekd.models import build_model
from edgekd.progress import Reporter


class Lines:
    def __init__(self):
        self.lines = []

    def line(self, text):
        self.lines.append(text)

    def task(self, *_):
        return Reporter(quiet=True).task("x", 1)


@pytest.fixture(scope="module")
def splits():
    plugin = DATASETS.get("mnist1d")
    return make_splits(plugin.load(plugin.Options(num_samples=300)), 0.1, 16, 0)


# ---------------------------------------------------------------- devices


def test_cpu_and_auto_resolve_to_the_cpu_without_a_gpu():
    assert resolve_hardware("cpu") == CPU
    if not torch.cuda.is_available():
        assert resolve_hardware("auto").device == "cpu"
    assert CPU.key() == {"device": "cpu", "amp": "off"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_is_refused_with_a_clear_error_without_a_gpu(device):
    with pytest.raises(ConfigError, match="torch.cuda.is_available\\(\\) is False"):
        resolve_hardware(device, "off", "p.yaml")


def test_fp16_needs_cuda_and_bf16_runs_on_the_cpu():
    with pytest.raises(ConfigError, match="amp: fp16 needs a CUDA GPU"):
        resolve_hardware("cpu", "fp16")
    assert resolve_hardware("cpu", "bf16") == Hardware("cpu", "bf16")


def _job(splits, tmp_path, hw=CPU, scheme="offline", mode="auto", teacher=None):
    shape, k = splits.input_shape, splits.num_classes
    torch.manual_seed(0)
    teacher = teacher or build_model("cnn1d", {"channels": [8, 8]}, shape, k)
    student = build_model("mlp", {"hidden": [16]}, shape, k)
    distill = DistillConfig(scheme=scheme, losses=[LossSpec(name="kd")], cache_teacher_outputs=mode)
    folder = tmp_path / f"{scheme}-{mode}-{hw.amp}"
    folder.mkdir()
    train = TrainConfig(epochs=2, batch_size=32)
    return DistillJob(
        student, [teacher], splits, distill, train, 0, folder, "s", Lines(), lambda: None, hw=hw
    )


def test_amp_bf16_trains_on_the_cpu(splits, tmp_path):
    """torch.autocast on the CPU in bf16: training runs and gives finite weights."""
    job = _job(splits, tmp_path, Hardware("cpu", "bf16"))
    student = SCHEMES.get("offline")().run(job)
    assert all(torch.isfinite(p).all() for p in student.parameters())
    assert next(student.parameters()).dtype == torch.float32  # autocast keeps fp32 weights


# ---------------------------------------------------------------- teacher cache


def test_the_teacher_cache_is_a_memory_mapped_file_that_resume_reuses(splits, tmp_path):
    from edgekd.distill.cache import PREFIX, teacher_logits
    from edgekd.distill.trainer import predict_logits

    torch.manual_seed(0)
    teacher = build_model("cnn1d", {"channels": [8]}, splits.input_shape, 10).eval()
    x = splits.x["train"]
    (cached,) = teacher_logits("auto", [teacher], x, [], Lines(), "s", False, tmp_path)
    path = tmp_path / f"{PREFIX}-0.npy"
    assert path.is_file() and isinstance(np.load(path, mmap_mode="r"), np.memmap)
    idx = torch.tensor([5, 0, 77])
    assert torch.equal(cached[idx], predict_logits(teacher, x)[idx])
    calls = []
    teacher.register_forward_hook(lambda *_: calls.append(1))
    teacher_logits("auto", [teacher], x, [], Lines(), "s", False, tmp_path)
    assert not calls, "a complete cache file is reused, not recomputed"


# ---------------------------------------------------------------- transfer inputs


def test_unlabeled_rows_get_the_teachers_label_and_no_cross_entropy():
    y = torch.tensor([2, -1, 0, -1])
    t = torch.tensor([[0.0, 1, 0], [0, 0, 5], [1, 0, 0], [3, 0, 0]])
    filled, labeled = fill_labels(y, t)
    assert filled.tolist() == [2, 2, 0, 0] and labeled.tolist() == [True, False, True, False]
    assert fill_labels(torch.tensor([1, 0]), t[:2])[1] is None


def test_cross_entropy_reads_only_labeled_rows():
    from edgekd.distill.losses import LossContext, Outputs

    losses = WeightedLosses(
        DistillConfig(ce_weight=1.0, losses=[LossSpec(name="kd", weight=0)]), LossContext(3)
    )
    s = torch.tensor([[2.0, 0, 0], [0, 2.0, 0]])
    y = torch.tensor([0, 2])
    only_first = losses(Outputs(s, y, s, s), torch.tensor([True, False]))
    torch.testing.assert_close(only_first, torch.nn.functional.cross_entropy(s[:1], y[:1]))
    assert losses(Outputs(s, y, s, s), torch.tensor([False, False])) == 0


def test_offline_distillation_covers_the_transfer_set(splits, tmp_path):
    from dataclasses import replace

    plugin = DATASETS.get("mnist1d")
    extra = plugin.transfer(plugin.Options(num_samples=300), 50, 0)
    job = _job(replace(splits, transfer=ArraySource(extra)), tmp_path)
    SCHEMES.get("offline")().run(job)
    n = len(splits.y["train"])
    assert job.info["transfer_samples"] == 50 and job.info["teacher_outputs_cached"]
    assert any(f"{n} labeled + 50 unlabeled" in line for line in job.reporter.lines)


# ---------------------------------------------------------------- warnings


def test_the_data_stage_warns_about_empty_test_classes_and_tiny_test_splits():
    from edgekd.data.notes import data_warnings, wilson
    from edgekd.data.splits import Splits

    y = {"test": np.array([0, 0, 1, 1, 0] * 4)}
    found = data_warnings(Splits({}, y, ["a", "b", "c"], ""))
    assert any("no test samples ('c')" in w for w in found)
    assert any("only 20 samples" in w and "Wilson" in w for w in found)
    y = {"test": np.arange(3000) % 3}
    assert data_warnings(Splits({}, y, ["a", "b", "c"], "")) == []
    low, high = wilson(0.9, 100)
    assert 0.82 < low < 0.83 and 0.94 < high < 0.95


def test_a_student_larger_and_slower_than_its_teacher_is_named():
    from edgekd.stages.models import size_warnings

    teacher = build_model("mlp", {"hidden": [4]}, (1, 40), 10)
    info = {"params": 10**6, "flops": 10**9}
    found = size_warnings(info, [teacher], (1, 40))
    assert len(found) == 2 and "parameters" in found[0] and "FLOPs" in found[1]
    assert size_warnings({"params": 1, "flops": 1}, [teacher], (1, 40)) == []
