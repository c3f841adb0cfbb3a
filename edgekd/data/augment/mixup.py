"""mixup: each sample blended with another of the batch, its label with theirs."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field

from edgekd.data.augment import AUGMENTATIONS, Augmented, LabelMix, Mixing
from edgekd.data.augment.mixing import beta


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    alpha: float = Field(0.2, gt=0, le=100, description="lam ~ Beta(alpha, alpha), one per batch")


@AUGMENTATIONS.register("mixup")
class Mixup(Mixing):
    Options = Options
    description = "mixup: lam * x + (1 - lam) * x[perm], labels mixed alike (any sample shape)"
    paper = "Zhang, Cisse, Dauphin, Lopez-Paz. mixup: Beyond Empirical Risk Minimization. 2018"
    examples = ({}, {"alpha": 1.0})
    example_shapes = ((1, 40), (3, 8, 8), (6,))

    def apply(self, x: torch.Tensor, gen: torch.Generator) -> Augmented:
        lam = beta(self.options.alpha, gen)
        perm = torch.randperm(len(x), generator=gen)
        return Augmented(lam * x + (1.0 - lam) * x[perm], LabelMix(perm, lam))
