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

from edgekd.distill import distributed as ddp
from edgekd.distill.schemes import (
    SCHEMES,
    DistillJob,
    Scheme,
    WeightedLosses,
    check_response_only,
    loss_context,
)


class SameClass:
    """Draws, for each row, another row of its class (itself when it is alone in its class).

    The draw is a hash of (seed, step, row), not a generator's next value: nothing needs
    checkpointing (a resumed run draws what the uninterrupted one drew) and each DDP rank
    draws for its own rows exactly what one process draws for them.
    """

    def __init__(self, y: np.ndarray, seed: int):
        y = np.asarray(y)
        self.order = np.argsort(y, kind="stable")  # rows grouped by class
        classes, self.start, self.count = np.unique(
            y[self.order], return_index=True, return_counts=True
        )
        self.cls = np.searchsorted(classes, y)  # each row's class, as an index into classes
        self.pos = np.empty(len(y), dtype=np.int64)  # each row's place within its class
        self.pos[self.order] = np.arange(len(y)) - self.start[self.cls[self.order]]
        self.seed = seed

    def __call__(self, rows: np.ndarray, step: int) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        c = self.cls[rows]
        others = np.maximum(self.count[c] - 1, 1).astype(np.uint64)
        j = (_mix(self.seed, step, rows) % others).astype(np.int64)
        j += (j >= self.pos[rows]) & (self.count[c] > 1)  # skip the row itself, if it can
        return self.order[self.start[c] + j]


def _mix(seed: int, step: int, rows: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser over (seed, step, row): well-spread 64-bit values, one per row."""
    u = np.uint64
    with np.errstate(over="ignore"):
        z = u(seed % 2**64) * u(0x9E3779B97F4A7C15) ^ u(step) * u(0xD1B54A32D192ED03)
        z = z ^ rows.astype(u) * u(0x8CB92BA72F3D8DD7)
        z = (z ^ (z >> u(30))) * u(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u(27))) * u(0x94D049BB133111EB)
        return z ^ (z >> u(31))


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
        draw = SameClass(y, job.seed + 31)

        def batch_loss(idx, xb, yb):
            step = job.clock.step
            if augment is None:
                other = torch.from_numpy(x.take(draw(idx.numpy(), step)))
            else:  # augment the global batch's partners, as the trainer does its batch
                gen = torch.Generator().manual_seed((job.seed + 31) * 100003 + step)
                rows = draw(job.clock.rows.numpy(), step)
                other = ddp.shard(augment(torch.from_numpy(x.take(rows)), gen))
            with torch.no_grad():
                t_logits = student(job.hw.batch(other))
            return losses(job.outputs(xb, yb, student(xb), t_logits, index=job.hw.to(idx)))

        job.fit(nn.ModuleDict({"student": student, "losses": losses}), batch_loss, student)
        return student
