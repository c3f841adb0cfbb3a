"""Random crop after zero padding, then a random horizontal flip: the CIFAR standard."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from edgekd.data.augment import AUGMENTATIONS, Augmentation


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    pad: int = Field(4, ge=0)  # zero padding on each side; crops shift by up to 2 * pad


def crop_flip(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Crop each sample of (N, C, H, W) images, or (N, C, L) signals along L, at a random
    offset into its zero-padded copy, then mirror a random half along the last axis.

    One gather per spatial axis for the whole batch. It draws the same random numbers in the
    same order as the per-sample loop it replaced, so its batches are identical to it.
    """
    n, size = len(x), x.shape[2:]
    out = F.pad(x, [pad, pad] * len(size))
    offsets = torch.randint(0, 2 * pad + 1, (n, len(size)), generator=gen)
    for axis, length in enumerate(size):
        dim = 2 + axis
        view = [n] + [1] * (out.dim() - 1)
        view[dim] = length
        idx = (offsets[:, axis, None] + torch.arange(length)).view(view)
        out = out.gather(dim, idx.expand(*out.shape[:dim], length, *out.shape[dim + 1 :]))
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


@AUGMENTATIONS.register("crop4-flip")
class CropFlip(Augmentation):
    Options = Options
    description = "random crop of the zero-padded sample (pad 4), then a random horizontal flip"
    examples = ({}, {"pad": 1})
    example_shapes = ((3, 8, 8), (1, 16))
    sample_ranks = (2, 3)  # (C, L) signals or (C, H, W) images

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return crop_flip(x, gen, self.options.pad)
