"""Adversarial KD: a discriminator learns to tell teacher from student outputs (logits, or a
tapped feature), while the student learns to fool it, on top of the configured losses.

Both are trained jointly by one optimiser through a gradient-reversal layer: the
discriminator minimises its classification loss, and the reversed gradient makes the student
maximise it. The discriminator and any adapter are dropped at export.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from edgekd.distill.schemes import (
    SCHEMES,
    DistillJob,
    Scheme,
    WeightedLosses,
    fill_labels,
    freeze,
    loss_context,
)
from edgekd.distill.taps import Taps, adapter, probe_shapes


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    on: Literal["logits", "features"] = "logits"
    student_tap: str | None = None  # with on: features
    teacher_tap: str | None = None
    weight: float = Field(1.0, ge=0)  # of the adversarial term
    hidden: int = Field(128, ge=1)  # discriminator width

    @model_validator(mode="after")
    def _taps(self) -> Options:
        if self.on == "features" and not (self.student_tap and self.teacher_tap):
            raise ValueError("`on: features` needs `student_tap` and `teacher_tap` module paths")
        return self


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


def reverse_grad(x: torch.Tensor) -> torch.Tensor:
    return _Reverse.apply(x)


def flat(x: torch.Tensor) -> torch.Tensor:
    """A feature map pooled over its spatial axes, or logits as they are."""
    return x.flatten(2).mean(2) if x.ndim > 2 else x


@SCHEMES.register("adversarial")
class AdversarialKD(Scheme):
    Options = Options
    kind = "algorithm/adversarial"
    examples = ({}, {"on": "features", "student_tap": "features.1", "teacher_tap": "features.0"})
    description = "a discriminator tells teacher from student logits/features; trained jointly"
    paper = (
        "Xu, Hsu, Huang. Training Shallow and Thin Networks for Acceleration via Knowledge "
        "Distillation with Conditional Adversarial Networks. ICLR Workshop 2018"
    )

    def run(self, job: DistillJob) -> nn.Module:
        opts: Options = job.options(type(self))
        teacher, student = freeze(job.teachers[0]), job.student
        x, y = job.training_rows()
        s_paths, t_paths = WeightedLosses.required_taps(job.distill)
        losses = WeightedLosses(job.distill, loss_context(job, student, teacher, num_train=len(x)))
        shape, k = job.splits.input_shape, job.splits.num_classes
        if opts.on == "features":
            s_shape = probe_shapes(student, [opts.student_tap], shape)[opts.student_tap]
            t_shape = probe_shapes(teacher, [opts.teacher_tap], shape)[opts.teacher_tap]
            adapt, dim = adapter(s_shape, t_shape), t_shape[0]
            s_paths, t_paths = s_paths + [opts.student_tap], t_paths + [opts.teacher_tap]
        else:
            adapt, dim = nn.Identity(), k
        disc = nn.Sequential(
            nn.Linear(dim, opts.hidden), nn.LeakyReLU(0.2), nn.Linear(opts.hidden, 1)
        )
        teacher = job.teacher_on_device(teacher)

        with Taps(student, s_paths) as s_taps, Taps(teacher, t_paths) as t_taps:

            def batch_loss(idx, xb, yb):
                with torch.no_grad():
                    t_logits = teacher(xb)
                s_logits = student(xb)
                feats = dict(s_taps.out), dict(t_taps.out)
                yb, labeled = fill_labels(yb, t_logits)
                out = job.outputs(xb, yb, s_logits, t_logits, *feats, index=job.hw.to(idx))
                loss = losses(out, labeled)
                if opts.on == "features":
                    s_out = flat(adapt(feats[0][opts.student_tap]))
                    t_out = flat(feats[1][opts.teacher_tap])
                else:
                    s_out, t_out = s_logits, t_logits
                real, fake = disc(t_out.detach()), disc(reverse_grad(s_out))
                adv = F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                adv = adv + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
                return loss + opts.weight * adv

            trainable = nn.ModuleDict(
                {"student": student, "losses": losses, "disc": disc, "adapter": adapt}
            )
            job.fit(trainable, batch_loss, student, x, y)
        return student
