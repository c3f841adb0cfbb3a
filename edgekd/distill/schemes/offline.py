"""Offline distillation: a frozen, pre-trained teacher teaches one student.

`distill_loop` is the shared loop of every scheme with a frozen teacher (offline, black-box,
cross-modal, data-free): only the teacher's inputs and the training set differ.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edgekd.data.source import as_source
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


def distill_loop(
    job: DistillJob,
    teacher: nn.Module,
    x=None,
    y: np.ndarray | None = None,
    teacher_x=None,
    val: bool = True,
) -> nn.Module:
    """Train `job.student` on (x, y) against the frozen `teacher`.

    By default (x None) on the training split plus the pipeline's transfer inputs.
    `teacher_x`, row-aligned with x, is what the teacher reads instead (cross-modal data).
    """
    student = job.student
    own = x is None and teacher_x is None  # the training rows (and transfer), augmented
    if own:
        x, y = job.training_rows()
    elif x is None:  # cross-modal: the student's view of the training split
        x, y = job.splits.x["train"], job.splits.y["train"]
    s_paths, t_paths = WeightedLosses.required_taps(job.distill)
    t_shape = None if teacher_x is None else teacher_x.shape[1:]
    ctx = loss_context(job, student, freeze(teacher), t_shape, num_train=len(x))
    losses = WeightedLosses(job.distill, ctx)
    teacher = job.teacher_on_device(teacher)
    augmented = own and job.splits.augmentation() is not None
    cached = cached_outputs(job, teacher, x if teacher_x is None else teacher_x, augmented)
    t_in = as_source(teacher_x) if teacher_x is not None else None
    hw = job.hw

    with Taps(student, s_paths) as s_taps, Taps(teacher, t_paths) as t_taps:

        def batch_loss(idx, xb, yb):
            if cached is not None:
                t_logits = hw.to(cached[idx])
            else:
                with torch.no_grad():
                    t_xb = xb if t_in is None else hw.batch(torch.from_numpy(t_in.take(idx)))
                    t_logits = hw.to(teacher(t_xb))
            s_logits = student(xb)
            feats = dict(s_taps.out), dict(t_taps.out)
            yb, labeled = fill_labels(yb, t_logits)
            out = job.outputs(xb, yb, s_logits, t_logits, *feats, index=hw.to(idx))
            return losses(out, labeled)

        trainable = nn.ModuleDict({"student": student, "losses": losses})
        job.fit(trainable, batch_loss, student, x, y, val=val, augment=own)
    return student


def cached_outputs(job: DistillJob, teacher: nn.Module, x, augmented: bool):
    """With no augmentation and only logit losses, the teacher's outputs are the same every
    epoch: computed once over `x` (distill.cache_teacher_outputs, see distill/cache.py)."""
    _, t_paths = WeightedLosses.required_taps(job.distill)
    cached = teacher_logits(
        job.distill.cache_teacher_outputs,
        [teacher],
        x,
        t_paths,
        job.reporter,
        job.label,
        augmented,
        job.workdir,
        job.hw,
    )
    job.info["teacher_outputs_cached"] = cached is not None  # shown in stage.json
    return cached[0] if cached is not None else None


@SCHEMES.register("offline")
class Offline(Scheme):
    kind = "scheme/offline"
    description = "frozen pre-trained teacher; the student learns from its outputs"
    paper = "Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network. 2015"

    def run(self, job: DistillJob) -> nn.Module:
        return distill_loop(job, job.teachers[0])
