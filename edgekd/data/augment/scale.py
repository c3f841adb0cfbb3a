"""A random amplitude per sample."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgekd.data.augment import AUGMENTATIONS, Augmentation


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    low: float = Field(0.8, gt=0, le=1e6, description="smallest factor")
    high: float = Field(1.2, gt=0, le=1e6, description="largest factor")

    @model_validator(mode="after")
    def _ordered(self) -> Options:
        if self.low > self.high:
            raise ValueError("`low` must not exceed `high`")
        return self


@AUGMENTATIONS.register("scale")
class Scale(Augmentation):
    Options = Options
    description = "each sample multiplied by a factor drawn uniformly from [low, high]"
    examples = ({}, {"low": 0.5, "high": 0.5})
    example_shapes = ((1, 40), (3, 8, 8), (6,))

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        low, high = self.options.low, self.options.high
        factor = low + (high - low) * torch.rand(len(x), generator=gen, dtype=x.dtype)
        return x * factor.view(len(x), *[1] * (x.dim() - 1))
