"""CutMix: a box of each sample replaced by the same box of another, labels mixed by area."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field

from edgekd.data.augment import AUGMENTATIONS, Augmented, LabelMix, Mixing
from edgekd.data.augment.mixing import beta


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    alpha: float = Field(1.0, gt=0, le=100, description="box area ~ 1 - Beta(alpha, alpha)")


def cut_box(size: tuple[int, ...], lam: float, gen: torch.Generator) -> tuple[slice, ...]:
    """A box covering about (1 - lam) of `size`, centred at a random point, clipped."""
    box = []
    for length in size:
        side = int(round(length * (1.0 - lam) ** (1.0 / len(size))))
        centre = int(torch.randint(0, length, (1,), generator=gen))
        box.append(slice(max(centre - side // 2, 0), min(centre + side - side // 2, length)))
    return tuple(box)


@AUGMENTATIONS.register("cutmix")
class CutMix(Mixing):
    Options = Options
    description = "CutMix: a random box (image) or segment (signal) pasted from another sample"
    paper = (
        "Yun, Han, Oh, Chun, Choe, Yoo. CutMix: Regularization Strategy to Train Strong "
        "Classifiers with Localizable Features. ICCV 2019"
    )
    examples = ({}, {"alpha": 0.5})
    example_shapes = ((3, 8, 8), (1, 40))
    sample_ranks = (2, 3)  # (C, L) signals or (C, H, W) images

    def apply(self, x: torch.Tensor, gen: torch.Generator) -> Augmented:
        lam = beta(self.options.alpha, gen)
        perm = torch.randperm(len(x), generator=gen)
        size = tuple(x.shape[2:])
        box = (slice(None), slice(None), *cut_box(size, lam, gen))
        out = x.clone()
        out[box] = x[perm][box]
        area = 1.0
        for s, length in zip(box[2:], size):
            area *= (s.stop - s.start) / length
        return Augmented(out, LabelMix(perm, 1.0 - area))  # the label share = the area kept
