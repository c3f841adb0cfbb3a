"""Offline distillation: a frozen, pre-trained teacher teaches one student.

`distill_loop` is the shared loop of every scheme with a frozen teacher (offline, black-box,
cross-modal, data-free): only the teacher's inputs and the training set differ.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edgekd.distill.cache import teacher_logits
from edgekd.distill.losses import Outputs
from edgekd.distill.schemes import (
    SCHEMES,
    DistillJob,
    Scheme,
    WeightedLosses,
    freeze,
    loss_context,
)
from edgekd.distill.taps import Taps


def distill_loop(
    job: DistillJob,
    teacher: nn.Module,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    teacher_x: np.ndarray | None = None,
    val: bool = True,
) -> nn.Module:
    """Train `job.student` on (x, y) against the frozen `teacher`.

    `teacher_x`, row-aligned with x, is what the teacher reads instead (cross-modal data).
    """
    teacher, student = freeze(teacher), job.student
    x = job.splits.x["train"] if x is None else x
    y = job.splits.y["train"] if y is None else y
    augment = teacher_x is None and x is job.splits.x["train"]
    s_paths, t_paths = WeightedLosses.required_taps(job.distill)
    t_shape = None if teacher_x is None else teacher_x.shape[1:]
    losses = WeightedLosses(job.distill, loss_context(job, student, teacher, t_shape))
    # With no augmentation and only logit losses, the teacher's outputs are the same
    # every epoch: compute them once (distill.cache_teacher_outputs, see distill/cache.py).
    augmented = augment and job.splits.augmentation() is not None
    t_in = torch.as_tensor(teacher_x) if teacher_x is not None else None
    cached = teacher_logits(
        job.distill.cache_teacher_outputs,
        [teacher],
        x if teacher_x is None else teacher_x,
        t_paths,
        job.reporter,
        job.label,
        augmented,
    )
    cached = cached[0] if cached is not None else None
    job.info["teacher_outputs_cached"] = cached is not None  # shown in stage.json

    with Taps(student, s_paths) as s_taps, Taps(teacher, t_paths) as t_taps:

        def batch_loss(idx, xb, yb):
            if cached is not None:
                t_logits = cached[idx]
            else:
                with torch.no_grad():
                    t_logits = teacher(xb if t_in is None else t_in[idx])
            s_logits = student(xb)
            feats = dict(s_taps.out), dict(t_taps.out)
            return losses(Outputs(xb, yb, s_logits, t_logits, *feats, index=idx))

        trainable = nn.ModuleDict({"student": student, "losses": losses})
        job.fit(trainable, batch_loss, student, x, y, val=val, augment=augment)
    return student


@SCHEMES.register("offline")
class Offline(Scheme):
    kind = "scheme/offline"
    description = "frozen pre-trained teacher; the student learns from its outputs"
    paper = "Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network. 2015"

    def run(self, job: DistillJob) -> nn.Module:
        return distill_loop(job, job.teachers[0])
