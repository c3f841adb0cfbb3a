"""Offline distillation: a frozen, pre-trained teacher teaches one student."""

from __future__ import annotations

from torch import nn

from edgekd.distill.losses import Outputs
from edgekd.distill.schemes import (
    SCHEMES,
    DistillJob,
    NoOptions,
    WeightedLosses,
    freeze,
    loss_context,
)
from edgekd.distill.taps import Taps
from edgekd.distill.trainer import predict_logits


@SCHEMES.register("offline")
class Offline:
    Options = NoOptions
    kind = "scheme/offline"
    description = "frozen pre-trained teacher; the student learns from its outputs"
    paper = "Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network. 2015"

    def run(self, job: DistillJob) -> nn.Module:
        teacher, student = freeze(job.teachers[0]), job.student
        s_paths, t_paths = WeightedLosses.required_taps(job.distill)
        losses = WeightedLosses(job.distill, loss_context(job, student, teacher))
        # With no augmentation and only logit losses, the teacher's outputs are the same
        # every epoch: compute them once.
        static = not t_paths and job.splits.augmentation() is None
        cached = predict_logits(teacher, job.splits.x["train"]) if static else None

        with Taps(student, s_paths) as s_taps, Taps(teacher, t_paths) as t_taps:

            def batch_loss(idx, xb, yb):
                t_logits = cached[idx] if cached is not None else teacher(xb)
                s_logits = student(xb)
                feats = dict(s_taps.out), dict(t_taps.out)
                return losses(Outputs(xb, yb, s_logits, t_logits, *feats, index=idx))

            trainable = nn.ModuleDict({"student": student, "losses": losses})
            job.fit(trainable, batch_loss, student)
        return student
