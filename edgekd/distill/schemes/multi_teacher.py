"""Multi-teacher distillation: 2+ frozen teachers teach one student.

`mean` averages the teachers' logits (You et al. 2017) and feature losses read one chosen
teacher (`feature_teacher`). `confidence` is CA-MKD: every teacher teaches through its own
copy of the configured losses (feature losses through their own adapters, sized for that
teacher's layers), and each sample's loss from teacher k is weighted by how well teacher k
predicts that sample's label: w_k = (1 - softmax_k(CE_k)) / (K - 1), CE_k teacher k's
cross-entropy on the label, so the weights sum to 1 over the teachers.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from edgekd.distill.cache import teacher_logits
from edgekd.distill.losses import LOSSES, Outputs
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
    weighting: Literal["mean", "confidence"] = Field(
        "confidence", description="confidence: CA-MKD per-sample weights; mean: averaged logits"
    )
    feature_teacher: int = Field(0, ge=0, description="with mean: the teacher feature losses read")


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


def _map(out: Outputs, fn) -> Outputs:
    """`out` with `fn` applied to each of its tensors (features included)."""

    def each(v):
        return fn(v) if torch.is_tensor(v) else v

    feats = {f: {p: fn(t) for p, t in getattr(out, f).items()} for f in ("s_feats", "t_feats")}
    plain = {f.name: each(getattr(out, f.name)) for f in dataclasses.fields(out)}
    return Outputs(**(plain | feats))


def row(out: Outputs, i: int) -> Outputs:
    """The Outputs of sample i alone (a batch of one)."""
    return _map(out, lambda v: v[i : i + 1])


def per_sample(losses: WeightedLosses, out: Outputs) -> torch.Tensor:
    """(N,) the configured losses (no cross-entropy) of each sample on its own: in one pass
    for a loss with a `per_sample` method, else one call per sample."""
    total = out.s_logits.new_zeros(len(out.y))
    for w, loss in zip(losses.weights, losses.losses):
        total = total + w * loss_per_sample(loss, out)
    return total


def loss_per_sample(loss: nn.Module, out: Outputs) -> torch.Tensor:
    fast = getattr(loss, "per_sample", None)
    if fast is not None:
        return fast(out)
    return torch.stack([loss(row(out, i)) for i in range(len(out.y))])


def check_per_sample(losses: WeightedLosses, out: Outputs) -> None:
    """Refuse a loss whose batch value is not the mean of its per-sample values (it relates
    the samples of a batch, as DIST's per-class term does): it cannot be weighted per sample."""
    out = _map(out, lambda v: v.float() if v.is_floating_point() else v)  # not autocast's
    for spec_loss in losses.losses:
        was = spec_loss.training
        spec_loss.eval()  # no side effects (DKD's counter, memory banks) and no DDP gather
        with torch.no_grad(), torch.autocast(out.s_logits.device.type, enabled=False):
            whole = spec_loss(out)
            rows = loss_per_sample(spec_loss, out).mean()
        spec_loss.train(was)
        if not torch.allclose(whole, rows, rtol=1e-4, atol=1e-6):
            name = next(n for n, cls in LOSSES.items() if isinstance(spec_loss, cls))
            raise ConfigError(
                f"scheme 'multi-teacher' with weighting 'confidence' weights each sample's "
                f"loss, but loss '{name}' relates the samples of a batch (its value is not a "
                "mean over samples). Use weighting: mean with it, or a per-sample loss "
                "(kd, dkd, fitnets, at, nst)."
            )


@SCHEMES.register("multi-teacher")
class MultiTeacher(Scheme):
    Options = Options
    kind = "algorithm/multi-teacher"
    examples = ({}, {"weighting": "mean"})
    description = "2+ teachers: confidence-weighted per-sample losses (CA-MKD) or averaged logits"
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
        for j, spec in enumerate(student.distill.losses):
            if opts.weighting == "confidence" and LOSSES.get(spec.name).kind == "relation":
                raise ConfigError(
                    f"{where}.losses[{j}]: loss '{spec.name}' relates the samples of a batch, "
                    "so weighting 'confidence' (a weight per sample and teacher) cannot weight "
                    "it. Use `weighting: mean` with it, or a per-sample loss."
                )

    def run(self, job: DistillJob) -> nn.Module:
        opts: Options = job.options(type(self))
        x, y = job.training_rows()
        frozen = [freeze(t) for t in job.teachers]
        read = frozen if opts.weighting == "confidence" else [frozen[opts.feature_teacher]]
        ctx = [loss_context(job, job.student, t, num_train=len(x)) for t in read]
        distill = job.distill.model_copy(update={"ce_weight": 0.0})
        losses = nn.ModuleList(WeightedLosses(distill, c) for c in ctx)
        teachers = [job.teacher_on_device(t) for t in job.teachers]
        read = teachers if opts.weighting == "confidence" else [teachers[opts.feature_teacher]]
        # Only the logits are cached, so losses that read the teachers' layers keep the
        # cache exact: those teachers still run on every batch to fill their taps.
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
        s_paths, t_paths = WeightedLosses.required_taps(job.distill)
        with contextlib.ExitStack() as stack:
            s_taps = stack.enter_context(Taps(job.student, s_paths))
            t_taps = [stack.enter_context(Taps(t, t_paths)) for t in read]
            step = _Step(job, opts, teachers, cached, losses, s_taps, t_taps)
            trainable = nn.ModuleDict({"student": job.student, "losses": losses})
            job.fit(trainable, step, job.student, x, y)
        job.info["teachers"] = len(teachers)
        job.info["teacher_weighting"] = opts.weighting
        return job.student


class _Step:
    """The loss of one batch: CE on the labels plus the teachers' (weighted) losses."""

    def __init__(self, job, opts: Options, teachers, cached, losses, s_taps, t_taps):
        self.job, self.opts, self.teachers, self.cached = job, opts, teachers, cached
        self.losses, self.s_taps, self.t_taps = losses, s_taps, t_taps
        self.checked = opts.weighting == "mean"

    def __call__(self, idx, xb, yb):
        job, hw = self.job, self.job.hw
        with torch.no_grad():
            if self.t_taps[0].paths:  # the teachers whose layers are read must run
                for taps in self.t_taps:
                    taps.model(xb)
            if self.cached:
                each = [hw.to(c[idx]) for c in self.cached]
            else:
                each = [t(xb) for t in self.teachers]
            stacked = torch.stack(each)
            yb, labeled = fill_labels(yb, stacked.mean(0))
        s_logits, s_feats, index = job.student(xb), dict(self.s_taps.out), hw.to(idx)
        ce = job.distill.ce_weight * WeightedLosses.ce(Outputs(xb, yb, s_logits), labeled)
        if self.opts.weighting == "mean":
            t_feats = dict(self.t_taps[0].out)
            out = job.outputs(xb, yb, s_logits, stacked.mean(0), s_feats, t_feats, index=index)
            return self.losses[0].terms(out, ce)
        weights = teacher_weights(stacked, yb)  # (K, N)
        total = ce
        for k, (t_logits, taps, losses) in enumerate(zip(each, self.t_taps, self.losses)):
            out = job.outputs(xb, yb, s_logits, t_logits, s_feats, dict(taps.out), index=index)
            if not self.checked:
                check_per_sample(losses, out)
            total = total + (weights[k] * per_sample(losses, out)).mean()
        self.checked = True
        return total
