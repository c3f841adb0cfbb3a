"""Multi-teacher distillation: 2+ frozen teachers, their logits combined per sample.

`mean` averages the teachers' logits (You et al. 2017); `confidence` weights each teacher per
sample by how well it predicts the true label, as in CA-MKD: w_k = (1 - softmax_k(CE_k)) /
(K - 1), where CE_k is teacher k's cross-entropy on the label. Feature losses read the taps of
one chosen teacher (`feature_teacher`).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from edgekd.distill.cache import teacher_logits
from edgekd.distill.schemes import (
    SCHEMES,
    DistillJob,
    Scheme,
    WeightedLosses,
    fill_labels,
    freeze,
    loss_context,
)
from edgekd.distill.taps import Taps
from edgekd.errors import ConfigError


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    weighting: Literal["mean", "confidence"] = "confidence"
    feature_teacher: int = Field(0, ge=0)  # index into `teachers:` for feature losses


def combine(t_logits: torch.Tensor, y: torch.Tensor, weighting: str) -> torch.Tensor:
    """(K teachers, N, C) logits -> (N, C): their mean, or confidence-weighted per sample."""
    if weighting == "mean":
        return t_logits.mean(0)
    return (teacher_weights(t_logits, y).unsqueeze(-1) * t_logits).sum(0)


def teacher_weights(t_logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(K, N) weights summing to 1 over teachers; lower cross-entropy -> larger weight."""
    k = t_logits.shape[0]
    ce = torch.stack([F.cross_entropy(t, y, reduction="none") for t in t_logits])
    return (1.0 - torch.softmax(ce, dim=0)) / (k - 1)


@SCHEMES.register("multi-teacher")
class MultiTeacher(Scheme):
    Options = Options
    kind = "algorithm/multi-teacher"
    description = "2+ teachers: averaged or confidence-weighted logits; features from one"
    paper = (
        "You, Xu, Xu, Tao. Learning from Multiple Teacher Networks. KDD 2017; Zhang, Chen, "
        "Wang. Confidence-Aware Multi-Teacher Knowledge Distillation. ICASSP 2022"
    )

    @classmethod
    def check(cls, cfg, student, where: str) -> None:
        teachers = cfg.all_teachers
        opts: Options = cls.parse_options(student.distill.options)
        if len(teachers) < 2:
            raise ConfigError(
                f"{where}: scheme 'multi-teacher' needs 2 or more teachers; the pipeline has "
                f"{len(teachers)}. List them under `teachers:`."
            )
        if opts.feature_teacher >= len(teachers):
            raise ConfigError(
                f"{where}.options.feature_teacher: {opts.feature_teacher} is out of range; "
                f"the pipeline has teachers 0..{len(teachers) - 1}."
            )

    def run(self, job: DistillJob) -> nn.Module:
        opts: Options = job.options(type(self))
        x, y = job.training_rows()
        chosen, student = freeze(job.teachers[opts.feature_teacher]), job.student
        s_paths, t_paths = WeightedLosses.required_taps(job.distill)
        losses = WeightedLosses(job.distill, loss_context(job, student, chosen, num_train=len(x)))
        teachers = [job.teacher_on_device(t) for t in job.teachers]
        chosen = teachers[opts.feature_teacher]
        # Only the logits are cached, so losses that read the chosen teacher's layers keep
        # the cache exact: that teacher still runs on every batch to fill its taps.
        cached = teacher_logits(
            job.distill.cache_teacher_outputs,
            teachers,
            x,
            [],
            job.reporter,
            job.label,
            job.splits.augmentation() is not None,
            job.workdir,
            job.hw,
        )
        job.info["teacher_outputs_cached"] = cached is not None
        hw = job.hw

        with Taps(student, s_paths) as s_taps, Taps(chosen, t_paths) as t_taps:

            def batch_loss(idx, xb, yb):
                with torch.no_grad():
                    if t_paths:  # the chosen teacher must run to fill its taps
                        chosen(xb)
                    each = [hw.to(c[idx]) for c in cached] if cached else [t(xb) for t in teachers]
                    stacked = torch.stack(each)
                    yb, labeled = fill_labels(yb, stacked.mean(0))
                    t_logits = combine(stacked, yb, opts.weighting)
                s_logits = student(xb)
                feats = dict(s_taps.out), dict(t_taps.out)
                out = job.outputs(xb, yb, s_logits, t_logits, *feats, index=hw.to(idx))
                return losses(out, labeled)

            trainable = nn.ModuleDict({"student": student, "losses": losses})
            job.fit(trainable, batch_loss, student, x, y)
        job.info["teachers"] = len(teachers)
        return student
