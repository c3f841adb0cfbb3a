"""Gaussian noise added to every value."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field

from edgekd.data.augment import AUGMENTATIONS, Augmentation


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    std: float = Field(0.1, ge=0, le=1e6, description="standard deviation, in the data's units")


@AUGMENTATIONS.register("noise")
class Noise(Augmentation):
    Options = Options
    description = "additive Gaussian noise, independent per value"
    examples = ({}, {"std": 0.5})
    example_shapes = ((1, 40), (3, 8, 8), (6,))

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return x + self.options.std * torch.randn(x.shape, generator=gen, dtype=x.dtype)
