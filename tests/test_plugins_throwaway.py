"""Adding a plugin is one new file: a throwaway plugin of each kind, registered only for the
test, passes the same conformance checks as the real ones and runs where they run.

Each class below is what a contributor's new file would hold (plus its decorator line); no
list, test table or other module is edited to make them work.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from losslib import assert_finite_scalar, assert_grads_reach_student
from pluginlib import check_augmentation, check_dataset, check_model_family, check_scheme
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from edgekd.data import DATASETS, Dataset, RawData
from edgekd.data.augment import AUGMENTATIONS, Augmentation
from edgekd.distill.losses import LOSSES, DistillLoss, LossContext, Outputs
from edgekd.distill.schemes import (
    SCHEMES,
    DistillJob,
    Scheme,
    WeightedLosses,
    freeze,
    loss_context,
)
from edgekd.models import MODELS, ModelFamily, need_rank


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bottleneck(ModelFamily):
    """A model family: (C, L) signals through a linear bottleneck."""

    class Options(Strict):
        width: int = Field(4, ge=1)

    description = "throwaway: flatten (C, L), one hidden layer"
    examples = ({}, {"width": 2})
    example_shapes = ((1, 16), (2, 5))

    @staticmethod
    def check_input(options, input_shape, where: str) -> None:
        need_rank(input_shape, (2,), "model 'bottleneck' reads (channels, length) samples", where)

    @staticmethod
    def build(options, input_shape, num_classes: int) -> nn.Module:
        n = input_shape[0] * input_shape[1]
        hidden = nn.Linear(n, options.width)
        return nn.Sequential(nn.Flatten(), hidden, nn.ReLU(), nn.Linear(options.width, num_classes))


class LogitL2(DistillLoss):
    """A loss: mean squared distance between the logits."""

    class Options(Strict):
        scale: float = Field(1.0, gt=0)

    kind = "response"
    description = "throwaway: L2 between student and teacher logits"
    paper = "nobody, 2026"

    def __init__(self, options, ctx: LossContext):
        super().__init__()
        self.scale = options.scale

    def forward(self, out: Outputs) -> torch.Tensor:
        return self.scale * F.mse_loss(out.s_logits, out.t_logits)


class NoisyTeacher(Scheme):
    """A scheme: offline KD from the teacher's logits with noise added."""

    class Options(Strict):
        noise: float = Field(0.1, ge=0)

    kind = "scheme/throwaway"
    description = "throwaway: the frozen teacher's logits plus Gaussian noise"
    paper = "nobody, 2026"
    examples = ({}, {"noise": 0.0})

    def run(self, job: DistillJob) -> nn.Module:
        opts = job.options(type(self))
        teacher, student = freeze(job.teachers[0]), job.student
        losses = WeightedLosses(job.distill, loss_context(job, student, teacher))

        def batch_loss(idx, xb, yb):
            with torch.no_grad():
                t_logits = teacher(xb)
                t_logits = t_logits + opts.noise * torch.randn_like(t_logits)
            return losses(Outputs(xb, yb, student(xb), t_logits, index=idx))

        job.fit(nn.ModuleDict({"student": student, "losses": losses}), batch_loss, student)
        return student


class Blobs(Dataset):
    """A dataset: three Gaussian blobs, augmented by the throwaway augmentation below."""

    class Options(Strict):
        num_samples: int = Field(90, ge=30)
        seed: int = 0

    description = "throwaway: three Gaussian blobs in (1, 6)"

    @staticmethod
    def load(options) -> RawData:
        rng = np.random.default_rng(options.seed)
        y = np.arange(options.num_samples) % 3
        x = (rng.normal(size=(len(y), 1, 6)) + y[:, None, None]).astype(np.float32)
        cut = len(y) * 2 // 3
        labels = ["a", "b", "c"]
        return RawData(x[:cut], y[:cut], x[cut:], y[cut:], labels, augment="jitter")


class Jitter(Augmentation):
    """An augmentation: Gaussian noise drawn from the epoch's generator."""

    class Options(Strict):
        sigma: float = Field(0.05, ge=0)

    description = "throwaway: add Gaussian noise"
    examples = ({}, {"sigma": 0.5})
    example_shapes = ((6,), (1, 6), (3, 4, 4))

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return x + self.options.sigma * torch.randn(x.shape, generator=gen)


def test_throwaway_model_family():
    with MODELS.registered("bottleneck", Bottleneck):
        check_model_family(MODELS.get("bottleneck"))


@pytest.mark.parametrize("check", [assert_finite_scalar, assert_grads_reach_student])
def test_throwaway_loss(check):
    with LOSSES.registered("logit-l2", LogitL2):
        check("logit-l2", "logits")


def test_throwaway_dataset_and_augmentation(tmp_path):
    with DATASETS.registered("blobs", Blobs), AUGMENTATIONS.registered("jitter", Jitter):
        check_augmentation(AUGMENTATIONS.get("jitter"))
        check_dataset("blobs", DATASETS.get("blobs"), tmp_path)


def test_throwaway_scheme_with_the_throwaway_loss(tmp_path):
    from pluginlib import prepare_teachers

    prepared = prepare_teachers(tmp_path)
    losses = [{"name": "logit-l2", "weight": 1.0}]
    with SCHEMES.registered("noisy", NoisyTeacher), LOSSES.registered("logit-l2", LogitL2):
        for i, options in enumerate(NoisyTeacher.examples):
            folder = tmp_path / f"run{i}"
            folder.mkdir()
            info = check_scheme(NoisyTeacher, "noisy", options, prepared, folder, losses)
            assert info["method"] == "logit-l2"


def test_methods_lists_the_throwaway_loss_and_scheme():
    from typer.testing import CliRunner

    from edgekd.cli import app

    with SCHEMES.registered("noisy", NoisyTeacher), LOSSES.registered("logit-l2", LogitL2):
        res = CliRunner().invoke(app, ["methods"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    assert "loss/response" in next(ln for ln in res.output.splitlines() if " logit-l2 " in ln)
    assert "scheme/throwaway" in next(ln for ln in res.output.splitlines() if " noisy " in ln)
    assert "noise=0.1" in res.output and "scale=1.0" in res.output
