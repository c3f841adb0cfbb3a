"""Response-based knowledge: losses on the logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from edgekd.distill.losses import LOSSES, DistillLoss, LossContext, Outputs
from edgekd.distill.losses.common import gather_batch, gather_rows, world_size
from edgekd.errors import ConfigError


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

    def per_sample(self, out: Outputs) -> torch.Tensor:
        """(N,) each sample's loss; their mean is `forward`'s value."""
        log_p_s = F.log_softmax(out.s_logits / self.t, dim=1)
        log_p_t = F.log_softmax(out.t_logits / self.t, dim=1)
        kl = F.kl_div(log_p_s, log_p_t, reduction="none", log_target=True).sum(1)
        return kl * self.t**2


class DKDOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    alpha: float = Field(1.0, ge=0, description="weight of target-class KD (TCKD)")
    beta: float = Field(8.0, ge=0, description="weight of non-target-class KD (NCKD)")
    temperature: float = Field(4.0, gt=0)
    warmup: float = Field(20.0, ge=0, description="epochs of linear ramp-up; 0 turns it off")


@LOSSES.register("dkd")
class DKDLoss(DistillLoss):
    """alpha * TCKD + beta * NCKD, ramped up linearly over the first `warmup` epochs.

    Both terms are computed in log space with the target class left out exactly (no
    large-constant mask, which fails for large logits). The ramp factor is
    min(epochs done / warmup, 1), epochs done = (Outputs.step + 1) / Outputs.steps_per_epoch:
    once per optimizer step, however many times a scheme calls the loss per batch. Fallback
    when a scheme gives no step: training samples seen by this loss / `LossContext.num_train`
    (a buffer, so it survives a resume), which advances on every call and so ramps too fast
    where a scheme calls the loss several times per step (DML, BYOT); with `num_train`
    unknown (0) too, the ramp is skipped.
    """

    Options = DKDOptions
    kind = "response"
    examples = ({"warmup": 0.0},)  # no ramp: one batch shows the whole loss
    description = "Decoupled KD: target-class (binary) KD and non-target-class KD weighted apart"
    paper = "Zhao, Cui, Song, Qiu, Liang. Decoupled Knowledge Distillation. CVPR 2022"

    def __init__(self, options: DKDOptions, ctx: LossContext):
        super().__init__()
        if ctx.num_classes < 2:
            raise ConfigError(f"loss 'dkd' needs 2 or more classes, not {ctx.num_classes}")
        self.opt = options
        self.num_train = ctx.num_train
        self.register_buffer("seen", torch.zeros((), dtype=torch.float64))

    def ramp(self, out: Outputs) -> float:
        epochs = out.epochs_done()
        if epochs is None:  # fallback: count samples per call
            if self.training:  # under DDP each rank sees 1/W of the samples: count them all
                self.seen += len(out.s_logits) * world_size()
            epochs = float(self.seen) / self.num_train if self.num_train > 0 else None
        if self.opt.warmup == 0 or epochs is None:
            return 1.0
        return min(epochs / self.opt.warmup, 1.0)

    def forward(self, out: Outputs):
        t = self.opt.temperature
        tckd, nckd = decoupled_kl(out.s_logits / t, out.t_logits / t, out.y)
        loss = (self.opt.alpha * tckd + self.opt.beta * nckd) * t**2
        return self.ramp(out) * loss


def decoupled_kl(s: torch.Tensor, t: torch.Tensor, y: torch.Tensor):
    """(TCKD, NCKD) of DKD for (N, K) logits, batch means, in log space.

    TCKD: KL between the binary (target, rest) distributions, log b_rest = logsumexp of the
    non-target log-probabilities. NCKD: KL between the softmaxes over the K - 1 non-target
    classes, which are gathered out (the target column is removed, not masked).
    """
    n, k = s.shape
    keep = torch.ones_like(s, dtype=torch.bool).scatter_(1, y[:, None], False)
    halves = []
    for z in (s, t):
        log_p = F.log_softmax(z, dim=1)
        rest = log_p[keep].view(n, k - 1)
        binary = torch.cat([log_p.gather(1, y[:, None]), rest.logsumexp(1, keepdim=True)], 1)
        halves.append((binary, F.log_softmax(rest, dim=1)))
    (b_s, nt_s), (b_t, nt_t) = halves
    tckd = F.kl_div(b_s, b_t, reduction="batchmean", log_target=True)
    nckd = F.kl_div(nt_s, nt_t, reduction="batchmean", log_target=True)
    return tckd, nckd


class DISTOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    beta: float = Field(1.0, ge=0, description="weight of the inter-class relation")
    gamma: float = Field(1.0, ge=0, description="weight of the intra-class relation")
    tau: float = Field(1.0, gt=0, description="temperature")


def _pearson(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Row-wise Pearson correlation of two (N, K) matrices."""
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


@LOSSES.register("dist")
class DISTLoss(DistillLoss):
    """1 - Pearson correlation of the softened predictions, per sample and per class.

    The per-class (intra) term relates the samples of a batch: under DDP it is taken over
    the global batch, as in one process.
    """

    Options = DISTOptions
    kind = "response"
    description = (
        "DIST: match the teacher's inter-class (per sample) and intra-class (per class) "
        "prediction relations with Pearson correlation instead of exact KL"
    )
    paper = (
        "Huang, You, Wang, Qian, Xu. Knowledge Distillation from A Stronger Teacher. NeurIPS 2022"
    )

    def __init__(self, options: DISTOptions, ctx: LossContext):
        super().__init__()
        self.opt = options

    def forward(self, out: Outputs):
        tau = self.opt.tau
        y_s = F.softmax(out.s_logits / tau, dim=1)
        y_t = F.softmax(out.t_logits / tau, dim=1)
        inter = 1 - _pearson(y_s, y_t).mean()
        if self.training:  # per class over the global batch under DDP (common.gather_batch)
            y_s, y_t = gather_batch(y_s), gather_rows(y_t)
        intra = 1 - _pearson(y_s.t(), y_t.t()).mean()
        return tau**2 * (self.opt.beta * inter + self.opt.gamma * intra)
