"""Registered distillation losses. One class per method, one decorator line to register.

A loss is a `DistillLoss`: an nn.Module built from its `Options` and a `LossContext` that
maps `Outputs` of one batch to a scalar. Class attributes say what it is: `kind` (response,
feature or relation), `description`, `paper`; `taps(options)` names the layers it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from pydantic import BaseModel
from torch import nn

from edgekd.registry import Plugin, Registry

LOSSES: Registry[type[DistillLoss]] = Registry("distillation loss", "edgekd.distill.losses")


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


class DistillLoss(nn.Module, Plugin):
    """The contract of a KD loss: `__init__(options, ctx)` and `forward(Outputs) -> scalar`.

    `examples` name layers of a two-block cnn1d (`features.0`, `features.1`, `pool`), so the
    shared tests can run every loss both on synthetic tensors and in a real pipeline. A loss
    that can read either features or logits lists an example of each.
    """

    kind: ClassVar[str] = "response"  # response | feature | relation
    paper: ClassVar[str] = ""

    @classmethod
    def taps(cls, options: BaseModel) -> tuple[list[str], list[str]]:
        """Module paths whose outputs this loss reads: (student paths, teacher paths)."""
        return [], []
