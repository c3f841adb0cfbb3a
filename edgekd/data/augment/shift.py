"""A random shift of each sample along its last axis (time, for signals)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from edgekd.data.augment import AUGMENTATIONS, Augmentation


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max: int = Field(4, ge=0, le=100_000, description="shift by up to this many steps, each way")
    mode: Literal["edge", "wrap"] = Field(
        "edge", description="edge: repeat the end values into the gap; wrap: roll around"
    )


def shift(x: torch.Tensor, gen: torch.Generator, most: int, wrap: bool) -> torch.Tensor:
    """Each sample moved by its own offset in [-most, most] along the last axis: one gather."""
    n, length = len(x), x.shape[-1]
    offsets = torch.randint(-most, most + 1, (n, 1), generator=gen)
    src = torch.arange(length) - offsets  # output position j reads input j - offset
    src = src % length if wrap else src.clamp(0, length - 1)
    return x.gather(-1, src.view(n, *[1] * (x.dim() - 2), length).expand_as(x))


@AUGMENTATIONS.register("shift")
class Shift(Augmentation):
    Options = Options
    description = "random shift along the last axis, edge-padded (or rolled): 1-D signals"
    examples = ({}, {"max": 2, "mode": "wrap"})
    example_shapes = ((1, 40), (40,), (3, 8, 8))

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return shift(x, gen, self.options.max, self.options.mode == "wrap")
