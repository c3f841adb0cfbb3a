"""Offline distillation: a frozen, pre-trained teacher teaches one student."""

from __future__ import annotations

from torch import nn

from edgekd.distill.cache import teacher_logits
from edgekd.distill.losses import LossContext, Outputs
from edgekd.distill.schemes import SCHEMES, DistillJob, WeightedLosses, freeze
from edgekd.distill.taps import Taps, probe_shapes
from edgekd.distill.trainer import fit


@SCHEMES.register("offline")
class Offline:
    description = "frozen pre-trained teacher; the student learns from its outputs"
    paper = "Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network. 2015"

    def run(self, job: DistillJob) -> nn.Module:
        teacher, student = freeze(job.teachers[0]), job.student
        x, y = job.splits.x["train"], job.splits.y["train"]
        s_paths, t_paths = WeightedLosses.required_taps(job.distill)
        shape = job.splits.input_shape
        ctx = LossContext(
            job.splits.num_classes,
            len(x),
            probe_shapes(student, s_paths, shape),
            probe_shapes(teacher, t_paths, shape),
        )
        losses = WeightedLosses(job.distill, ctx)
        # With no augmentation and only logit losses, the teacher's outputs are the same
        # every epoch: compute them once (distill.cache_teacher_outputs).
        mode = job.distill.cache_teacher_outputs
        cached = teacher_logits(mode, teacher, x, t_paths, job.reporter, job.label)

        with Taps(student, s_paths) as s_taps, Taps(teacher, t_paths) as t_taps:

            def batch_loss(idx, xb, yb):
                t_logits = cached[idx] if cached is not None else teacher(xb)
                s_logits = student(xb)
                feats = dict(s_taps.out), dict(t_taps.out)
                return losses(Outputs(xb, yb, s_logits, t_logits, *feats, index=idx))

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
