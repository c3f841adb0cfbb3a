"""Registered distillation schemes: how teacher(s) and student(s) are trained together.

A scheme is a class with a `description`, a `paper` and `run(job) -> nn.Module` that returns
the trained student to export. It builds its losses with `build_losses`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from edgekd.config import DistillConfig, TrainConfig
from edgekd.data import Splits
from edgekd.distill.losses import LOSSES, LossContext, Outputs
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


def freeze(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
