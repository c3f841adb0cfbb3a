"""Registered distillation schemes: how teacher(s) and student(s) are trained together.

A scheme is a class with an `Options` model (the YAML `distill.options`), a `kind`, a
`description`, a `paper` and `run(job) -> nn.Module` that returns the trained student to
export. Optional: `needs_teacher = False` (its stage then neither gets nor depends on a
teacher, and the pipeline may have none) and `check(cfg, student, where)` to refuse a
pipeline the scheme cannot run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from torch import nn

from edgekd.config.schema import DistillConfig, TrainConfig
from edgekd.data import Splits
from edgekd.distill.losses import LOSSES, LossContext, Outputs
from edgekd.distill.taps import probe_shapes
from edgekd.progress import Reporter
from edgekd.registry import Registry

SCHEMES: Registry = Registry("distillation scheme", "edgekd.distill.schemes")


@dataclass
class DistillJob:
    student: nn.Module
    teachers: list[nn.Module]
    splits: Splits
    distill: DistillConfig
    train: TrainConfig
    seed: int
    workdir: Path
    label: str
    reporter: Reporter
    build_student: Callable[[], nn.Module]
    info: dict = field(default_factory=dict)  # what the scheme reports into the stage record

    def options(self, scheme) -> object:
        """The scheme's validated `Options` (validated at config load too)."""
        return scheme.Options.model_validate(self.distill.options)

    def fit(
        self,
        trainable,
        batch_loss,
        eval_model,
        x=None,
        y=None,
        val=True,
        augment=True,
        workdir=None,
        label=None,
    ):
        """`trainer.fit` on the training split (or the given x, y) with the job's settings."""
        from edgekd.distill.trainer import fit

        x = self.splits.x["train"] if x is None else x
        y = self.splits.y["train"] if y is None else y
        v = (self.splits.x["val"], self.splits.y["val"]) if val else None
        aug = self.splits.augmentation() if augment else None
        return fit(
            trainable,
            batch_loss,
            eval_model,
            x,
            y,
            v,
            self.train,
            self.seed,
            self.workdir if workdir is None else workdir,
            self.label if label is None else label,
            self.reporter,
            augment=aug,
        )


class WeightedLosses(nn.Module):
    """The weighted sum of the configured losses, plus cross-entropy on the labels."""

    def __init__(self, cfg: DistillConfig, ctx: LossContext):
        super().__init__()
        self.ce_weight = cfg.ce_weight
        self.weights = [spec.weight for spec in cfg.losses]
        self.losses = nn.ModuleList(
            LOSSES.get(s.name)(LOSSES.get(s.name).Options.model_validate(s.options), ctx)
            for s in cfg.losses
        )

    @staticmethod
    def required_taps(cfg: DistillConfig) -> tuple[list[str], list[str]]:
        """The student and teacher module paths the configured losses read."""
        s_paths, t_paths = [], []
        for spec in cfg.losses:
            cls = LOSSES.get(spec.name)
            s, t = cls.taps(cls.Options.model_validate(spec.options))
            s_paths += s
            t_paths += t
        return list(dict.fromkeys(s_paths)), list(dict.fromkeys(t_paths))

    @property
    def response_only(self) -> bool:
        return all(loss.kind == "response" for loss in self.losses)

    def forward(self, out: Outputs) -> torch.Tensor:
        total = self.ce_weight * F.cross_entropy(out.s_logits, out.y)
        for w, loss in zip(self.weights, self.losses):
            total = total + w * loss(out)
        return total


class NoOptions(BaseModel):
    """A scheme without options of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def loss_context(job: DistillJob, student: nn.Module, teacher: nn.Module | None, t_shape=None):
    """The LossContext for `student` (and `teacher`) with the configured losses' taps probed."""
    s_paths, t_paths = WeightedLosses.required_taps(job.distill)
    shape = job.splits.input_shape
    t_shapes = probe_shapes(teacher, t_paths, t_shape or shape) if teacher is not None else {}
    return LossContext(
        job.splits.num_classes,
        len(job.splits.x["train"]),
        probe_shapes(student, s_paths, shape),
        t_shapes,
    )


def freeze(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def check_response_only(student, where: str, why: str) -> None:
    """Refuse losses that read feature taps where the scheme has only logits to give."""
    from edgekd.errors import ConfigError

    for j, spec in enumerate(student.distill.losses):
        cls = LOSSES.get(spec.name)
        s, t = cls.taps(cls.Options.model_validate(spec.options))
        if s or t or cls.kind != "response":
            raise ConfigError(
                f"{where}.losses[{j}]: loss '{spec.name}' is a {cls.kind} loss, but scheme "
                f"'{student.distill.scheme}' {why}. Use response losses (e.g. kd) here."
            )
