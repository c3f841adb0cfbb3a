"""Teacher-free KD (Tf-KD): the student learns from a manually designed virtual teacher, or
from a copy of itself trained first (the self-teacher).

The virtual teacher puts probability `correct_prob` on the true class and spreads the rest
evenly; it is handed to the configured losses as logits log(p), so `kd` softens it with its
own temperature, exactly as it would a real teacher's logits.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from edgekd.distill.schemes import (
    SCHEMES,
    DistillJob,
    Scheme,
    WeightedLosses,
    check_response_only,
    loss_context,
)
from edgekd.distill.trainer import CKPT

SELF = "resume-self-teacher"  # resume-* survives a crash (StageStore), so it resumes


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    teacher: Literal["virtual", "self"] = Field(
        "virtual", description="self: a copy of the student trained on the labels first"
    )
    correct_prob: float = Field(
        0.99, gt=0, lt=1, description="the virtual teacher's probability on the true class"
    )


def virtual_teacher_logits(y: torch.Tensor, num_classes: int, correct_prob: float):
    """Logits whose softmax is `correct_prob` on y and (1 - correct_prob)/(K - 1) elsewhere."""
    rest = (1.0 - correct_prob) / (num_classes - 1)
    logits = torch.full((len(y), num_classes), math.log(rest))
    logits[torch.arange(len(y)), y] = math.log(correct_prob)
    return logits


@SCHEMES.register("tf-kd")
class TeacherFreeKD(Scheme):
    Options = Options
    kind = "scheme/self"
    needs_teacher = False
    examples = ({"correct_prob": 0.9}, {"teacher": "self"})
    description = "teacher-free KD: a virtual teacher (designed distribution) or a self-teacher"
    paper = (
        "Yuan, Tay, Li, Wang, Feng. Revisiting Knowledge Distillation via Label Smoothing "
        "Regularization. CVPR 2020"
    )

    @classmethod
    def check(cls, cfg, student, where: str) -> None:
        check_response_only(student, where, "has only a (virtual) teacher's logits")

    def run(self, job: DistillJob) -> nn.Module:
        opts: Options = job.options(type(self))
        student, k = job.student, job.splits.num_classes
        teacher = self._self_teacher(job) if opts.teacher == "self" else None
        losses = WeightedLosses(job.distill, loss_context(job, student, None))

        def batch_loss(_idx, xb, yb):
            if teacher is None:
                t_logits = virtual_teacher_logits(yb.cpu(), k, opts.correct_prob).to(yb.device)
            else:
                with torch.no_grad():
                    t_logits = teacher(xb)
            return losses(job.outputs(xb, yb, student(xb), t_logits))

        if teacher is not None:
            teacher = job.hw.model(teacher, len(job.splits.input_shape) + 1)
        job.fit(nn.ModuleDict({"student": student, "losses": losses}), batch_loss, student)
        job.info["tf_kd_teacher"] = opts.teacher
        if teacher is not None:  # its checkpoint served resumes; it is not an output
            (job.workdir / SELF / CKPT).unlink(missing_ok=True)
            (job.workdir / SELF).rmdir()
        return student

    @staticmethod
    def _self_teacher(job: DistillJob) -> nn.Module:
        """Tf-KD_self: the student's own architecture trained on the labels first."""
        torch.manual_seed(job.seed + 1)
        teacher = job.build_student()
        folder = job.workdir / SELF
        folder.mkdir(exist_ok=True)
        job.fit(
            teacher,
            lambda _i, xb, yb: F.cross_entropy(teacher(xb), yb),
            teacher,
            workdir=folder,
            label=f"{job.label} (self-teacher)",
        )
        return teacher.eval().requires_grad_(False)
