"""Registered distillation losses. One class per method, one decorator line to register.

A loss is an nn.Module built from its `Options` and a `LossContext`; it maps `Outputs` of
one batch to a scalar. Class attributes say what it is: `kind` (response, feature or
relation), `description`, `paper`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from edgekd.registry import Registry

LOSSES: Registry = Registry("distillation loss", "edgekd.distill.losses")


@dataclass
class Outputs:
    """What a loss can read for one batch."""

    x: torch.Tensor
    y: torch.Tensor
    s_logits: torch.Tensor
    t_logits: torch.Tensor | None = None
    s_feats: dict[str, torch.Tensor] = field(default_factory=dict)
    t_feats: dict[str, torch.Tensor] = field(default_factory=dict)
    index: torch.Tensor | None = None  # row indices into the training split (memory banks)


@dataclass
class LossContext:
    """What a loss may need at construction (e.g. to size adapters).

    `s_shapes`/`t_shapes` hold the per-sample output shape of every tapped module path.
    """

    num_classes: int
    num_train: int = 0
    s_shapes: dict[str, tuple] = field(default_factory=dict)
    t_shapes: dict[str, tuple] = field(default_factory=dict)


class DistillLoss(nn.Module):
    kind: str = "response"
    description: str = ""
    paper: str = ""

    @classmethod
    def taps(cls, options) -> tuple[list[str], list[str]]:
        """Module paths whose outputs this loss reads: (student paths, teacher paths)."""
        return [], []
