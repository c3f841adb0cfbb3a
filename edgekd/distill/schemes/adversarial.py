"""Adversarial KD: a discriminator learns to tell teacher from student outputs (logits, or a
tapped feature), while the student learns to fool it, on top of the configured losses.

Training alternates, as in GAN training: on each batch the discriminator takes one step of
its own optimiser (by default at a tenth of the student's learning rate) on the detached
outputs (teacher = real, student = fake), then the student takes its step with the
non-saturating generator loss -log D(student) added to its losses, judged by the
discriminator just updated. The discriminator's optimiser state is saved with the trainer's
checkpoint, so a resumed run is bitwise the same. The discriminator and any adapter are
dropped at export.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from edgekd.config.schema import TrainConfig
from edgekd.distill import distributed as ddp
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
from edgekd.distill.trainer import make_optimizer

# Defaults measured on the KD table's recipe (MNIST-1D, 842-parameter student, function
# matching at lr 0.02, seed 0, validation split): with the generator loss at weight 1 or a
# discriminator as fast as the student, the student collapsed to chance (val 11.5%) or
# lost 15-20 points; weight 0.1 with the discriminator at a tenth of the student's lr kept
# it at 91.3% (function matching alone: 91.8%). A discriminator that wins every step
# hands the student saturated, ever-larger gradients that drown the distillation loss.
DISC_LR_FRACTION = 0.1


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    on: Literal["logits", "features"] = Field("logits", description="what D tells apart")
    student_tap: str | None = Field(None, description="student module path (on: features)")
    teacher_tap: str | None = Field(None, description="teacher module path (on: features)")
    weight: float = Field(0.1, ge=0, description="weight of the generator loss -log D(student)")
    hidden: int = Field(128, ge=1, description="discriminator width")
    disc_lr: float | None = Field(
        None,
        gt=0,
        description="discriminator lr (None: train.lr / 10); its optimizer is train.optimizer",
    )

    @model_validator(mode="after")
    def _taps(self) -> Options:
        if self.on == "features" and not (self.student_tap and self.teacher_tap):
            raise ValueError("`on: features` needs `student_tap` and `teacher_tap` module paths")
        return self


class Discriminator(nn.Module):
    """The discriminator and its own optimiser. Its parameters do not require grad outside
    its own update, so the student's optimiser never holds them and the student's loss
    leaves them alone; the optimiser's state rides in this module's state_dict."""

    def __init__(self, dim: int, hidden: int, train: TrainConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
        self.net.requires_grad_(False)
        self.opt = make_optimizer(list(self.net.parameters()), train)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def update(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """One optimiser step on BCE(D(real), 1) + BCE(D(fake), 0); inputs are detached."""
        self.net.requires_grad_(True)
        with torch.autocast(real.device.type, enabled=False):
            r, f = self.net(real.detach().float()), self.net(fake.detach().float())
            loss = F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
            loss = loss + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        self.net.requires_grad_(False)
        return loss.detach()

    def get_extra_state(self) -> dict:
        return self.opt.state_dict()

    def set_extra_state(self, state: dict) -> None:
        self.opt.load_state_dict(state)


def fool(disc: Discriminator, fake: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss -log D(fake): strong gradients while D wins."""
    logits = disc(fake)
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def flat(x: torch.Tensor) -> torch.Tensor:
    """A feature map pooled over its spatial axes, or logits as they are."""
    return x.flatten(2).mean(2) if x.ndim > 2 else x


@SCHEMES.register("adversarial")
class AdversarialKD(Scheme):
    Options = Options
    kind = "algorithm/adversarial"
    examples = ({}, {"on": "features", "student_tap": "features.1", "teacher_tap": "features.0"})
    description = "a discriminator tells teacher from student logits/features; alternating updates"
    distributed = False
    distributed_why = "its discriminator takes optimiser steps of its own, outside DDP"

    @classmethod
    def check(cls, cfg, student, where: str) -> None:
        ddp.refuse_distributed("adversarial", where, cls.distributed_why)

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
        lr = job.train.lr * DISC_LR_FRACTION if opts.disc_lr is None else opts.disc_lr
        disc = Discriminator(dim, opts.hidden, job.train.model_copy(update={"lr": lr}))
        teacher = job.teacher_on_device(teacher)

        with Taps(student, s_paths) as s_taps, Taps(teacher, t_paths) as t_taps:

            def batch_loss(idx, xb, yb):
                with torch.no_grad():
                    t_logits = teacher(xb)
                s_logits = student(xb)
                feats = dict(s_taps.out), dict(t_taps.out)
                yb, labeled = fill_labels(yb, t_logits)
                out = job.outputs(xb, yb, s_logits, t_logits, *feats, index=job.hw.to(idx))
                if opts.on == "features":
                    s_out = flat(adapt(feats[0][opts.student_tap]))
                    t_out = flat(feats[1][opts.teacher_tap])
                else:
                    s_out, t_out = s_logits, t_logits
                disc.update(t_out, s_out)  # the discriminator's step first, then the student's
                return losses(out, labeled) + opts.weight * fool(disc, s_out)

            trainable = nn.ModuleDict(
                {"student": student, "losses": losses, "disc": disc, "adapter": adapt}
            )
            job.fit(trainable, batch_loss, student, x, y)
        return student
