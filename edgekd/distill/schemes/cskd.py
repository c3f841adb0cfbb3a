"""Class-wise self-knowledge distillation (CS-KD): the student's prediction on one sample
teaches its prediction on another sample of the same class.

For each training sample a partner of the same class is drawn; the student's (detached)
logits on the partner act as the teacher's logits for the configured losses (use `kd` with
`temperature: 4`, weight 1, as in the paper). No teacher and nothing extra to export.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edgekd.distill.schemes import (
    SCHEMES,
    DistillJob,
    Scheme,
    WeightedLosses,
    check_response_only,
    loss_context,
)


def by_class(y: np.ndarray) -> dict[int, torch.Tensor]:
    return {int(c): torch.as_tensor(np.flatnonzero(y == c)) for c in np.unique(y)}


def partners(y: np.ndarray, classes: dict, idx: torch.Tensor, gen: torch.Generator):
    """For each row in idx, a random other row with the same label (itself if it is alone)."""
    out = torch.empty_like(idx)
    for i, row in enumerate(idx.tolist()):
        pool = classes[int(y[row])]
        others = pool[pool != row] if len(pool) > 1 else pool
        out[i] = others[torch.randint(len(others), (1,), generator=gen)]
    return out


@SCHEMES.register("cs-kd")
class ClassWiseSelfKD(Scheme):
    kind = "scheme/self"
    needs_teacher = False
    description = "class-wise self-KD: predictions on same-class samples teach each other"
    paper = (
        "Yun, Park, Lee, Shin. Regularizing Class-wise Predictions via Self-knowledge "
        "Distillation. CVPR 2020"
    )

    @classmethod
    def check(cls, cfg, student, where: str) -> None:
        check_response_only(student, where, "has only the student's own logits as teacher")

    def run(self, job: DistillJob) -> nn.Module:
        student = job.student
        x, y = job.splits.x["train"], job.splits.y["train"]
        losses = WeightedLosses(job.distill, loss_context(job, student, None))
        augment = job.splits.augmentation()
        gen = torch.Generator().manual_seed(job.seed + 31)
        classes = by_class(y)

        def batch_loss(idx, xb, yb):
            other = torch.from_numpy(x.take(partners(y, classes, idx, gen).numpy()))
            if augment is not None:
                other = augment(other, gen)
            with torch.no_grad():
                t_logits = student(job.hw.batch(other))
            return losses(job.outputs(xb, yb, student(xb), t_logits, index=job.hw.to(idx)))

        job.fit(nn.ModuleDict({"student": student, "losses": losses}), batch_loss, student)
        return student
