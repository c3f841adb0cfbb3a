"""Response-based knowledge: losses on the logits."""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from edgekd.distill.losses import LOSSES, DistillLoss, LossContext, Outputs


class KDOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    temperature: float = Field(4.0, gt=0)


@LOSSES.register("kd")
class KDLoss(DistillLoss):
    """KL(teacher || student) on temperature-softened logits, scaled by T^2."""

    Options = KDOptions
    kind = "response"
    description = "Hinton KD: KL divergence between softened teacher and student logits"
    paper = "Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network. 2015"

    def __init__(self, options: KDOptions, ctx: LossContext):
        super().__init__()
        self.t = options.temperature

    def forward(self, out: Outputs):
        log_p_s = F.log_softmax(out.s_logits / self.t, dim=1)
        log_p_t = F.log_softmax(out.t_logits / self.t, dim=1)
        return F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True) * self.t**2
