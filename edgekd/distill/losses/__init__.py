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
    """What a loss can read for one batch.

    `step` and `steps_per_epoch` place the batch in the training schedule, so a loss with a
    schedule (DKD's warm-up) advances once per optimizer step however many times a scheme
    calls it per batch (DML: once per other peer; BYOT: once per head). `step` is the
    0-based index of the optimizer step this batch feeds, counted from the start of
    training across epochs (the same on every DDP rank); `steps_per_epoch` is the number of
    optimizer steps in one epoch. Both None: the scheme does not say.
    """

    x: torch.Tensor
    y: torch.Tensor
    s_logits: torch.Tensor
    t_logits: torch.Tensor | None = None
    s_feats: dict[str, torch.Tensor] = field(default_factory=dict)
    t_feats: dict[str, torch.Tensor] = field(default_factory=dict)
    index: torch.Tensor | None = None  # row indices into the training split (memory banks)
    step: int | None = None  # 0-based global optimizer step of this batch
    steps_per_epoch: int | None = None  # optimizer steps in one epoch

    def epochs_done(self) -> float | None:
        """Epochs of training once this batch's step is taken ((step + 1) / steps_per_epoch);
        None when the scheme gave no step."""
        if self.step is None:
            return None
        if not self.steps_per_epoch or self.steps_per_epoch <= 0 or self.step < 0:
            raise ValueError(
                f"Outputs.step={self.step} needs a positive Outputs.steps_per_epoch "
                f"(got {self.steps_per_epoch})"
            )
        return (self.step + 1) / self.steps_per_epoch


@dataclass
class LossContext:
    """What a loss may need at construction (e.g. to size adapters).

    `s_shapes`/`t_shapes` hold the per-sample output shape of every tapped module path.
    """

    num_classes: int
    num_train: int = 0  # rows the scheme will index (Outputs.index): sizes memory banks
    s_shapes: dict[str, tuple] = field(default_factory=dict)
    t_shapes: dict[str, tuple] = field(default_factory=dict)


class DistillLoss(nn.Module, Plugin):
    """The contract of a KD loss: `__init__(options, ctx)` and `forward(Outputs) -> scalar`.

    `examples` name layers of a two-block cnn1d (`features.0`, `features.1`, `pool`), so the
    shared tests can run every loss both on synthetic tensors and in a real pipeline. A loss
    that can read either features or logits lists an example of each.

    A loss whose value is a mean over samples may also define `per_sample(Outputs) -> (N,)`,
    each sample's value in one pass: multi-teacher's per-sample weighting uses it instead of
    calling the loss on every sample alone.
    """

    kind: ClassVar[str] = "response"  # response | feature | relation
    paper: ClassVar[str] = ""

    @classmethod
    def taps(cls, options: BaseModel) -> tuple[list[str], list[str]]:
        """Module paths whose outputs this loss reads: (student paths, teacher paths)."""
        return [], []
