"""Offline distillation: a frozen, pre-trained teacher teaches one student."""

from __future__ import annotations

from torch import nn

from edgekd.distill.losses import LossContext, Outputs
from edgekd.distill.schemes import SCHEMES, DistillJob, WeightedLosses, freeze
from edgekd.distill.trainer import fit, predict_logits


@SCHEMES.register("offline")
class Offline:
    description = "frozen pre-trained teacher; the student learns from its outputs"
    paper = "Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network. 2015"

    def run(self, job: DistillJob) -> nn.Module:
        teacher = freeze(job.teachers[0])
        x, y = job.splits.x["train"], job.splits.y["train"]
        losses = WeightedLosses(job.distill, LossContext(job.splits.num_classes, len(x)))
        # With no augmentation and only logit losses, the teacher's outputs are the same
        # every epoch: compute them once.
        cached = predict_logits(teacher, x) if losses.response_only else None
        student = job.student

        def batch_loss(idx, xb, yb):
            t_logits = cached[idx] if cached is not None else teacher(xb)
            return losses(Outputs(xb, yb, student(xb), t_logits))

        trainable = nn.ModuleDict({"student": student, "losses": losses})
        val = (job.splits.x["val"], job.splits.y["val"])
        fit(
            trainable,
            batch_loss,
            student,
            x,
            y,
            val,
            job.train,
            job.seed,
            job.workdir,
            job.label,
            job.reporter,
        )
        return student
