"""Contrastive representation distillation (CRD), with its memory bank of embeddings."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from edgekd.distill.losses import LOSSES, LossContext, Outputs
from edgekd.distill.losses.common import OptionalPair, gather_rows, shape_of
from edgekd.distill.losses.relation import _RelationLoss
from edgekd.errors import ConfigError


class CRDOptions(OptionalPair):
    feat_dim: int = Field(128, ge=1, description="embedding size of both heads")
    nce_k: int = Field(16384, ge=1, description="negatives drawn from the memory per sample")
    nce_t: float = Field(0.07, gt=0, description="temperature of the critic")
    nce_m: float = Field(0.5, ge=0, lt=1, description="momentum of the memory update")


class Embed(nn.Sequential):
    """Linear projection to the shared embedding space, then L2 normalisation."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__(nn.Flatten(), nn.Linear(dim_in, dim_out))

    def forward(self, x):
        return F.normalize(super().forward(x), dim=1)


def nce_loss(scores: torch.Tensor, num_data: int, eps: float = 1e-7) -> torch.Tensor:
    """NCE over (N, K+1) normalised scores, column 0 the positive; noise is uniform 1/n."""
    m = scores.shape[1] - 1
    mpn = m / num_data
    log_d1 = torch.log(scores[:, 0] / (scores[:, 0] + mpn + eps))
    log_d0 = torch.log(mpn / (scores[:, 1:] + mpn + eps))
    return -(log_d1.sum() + log_d0.sum()) / len(scores)


@LOSSES.register("crd")
class CRDLoss(_RelationLoss):
    """NCE both ways: student embedding vs teacher memory, teacher embedding vs student memory.

    The embed heads and the two memory banks (one row per training sample, sized by
    `LossContext.num_train`, addressed by `Outputs.index`) live in the loss and are never
    exported. As in the authors' code, the partition constant Z of each side is estimated
    once, from the first batch, and the memories are updated with momentum `nce_m`.
    The paper weighs it beta = 0.8 (set it as the YAML weight).
    """

    Options = CRDOptions
    # small sizes: the defaults (16384 negatives) are sized for ImageNet-scale training sets
    examples = (
        {"student_layer": "pool", "teacher_layer": "pool", "nce_k": 16, "feat_dim": 8},
        {"nce_k": 16, "feat_dim": 8},
    )
    description = (
        "Contrastive representation distillation: an NCE critic pulls student and teacher "
        "embeddings of the same sample together against negatives from a memory bank"
    )
    paper = "Tian, Krishnan, Isola. Contrastive Representation Distillation. ICLR 2020"

    def __init__(self, options: CRDOptions, ctx: LossContext):
        super().__init__(options, ctx)
        if ctx.num_train <= 0:
            raise ConfigError(
                "loss 'crd' needs the size of the training split for its memory bank, but "
                "the distillation scheme gave none. Use a scheme that sets num_train "
                "(e.g. offline)."
            )
        self.num_data = ctx.num_train
        s_dim = math.prod(shape_of(ctx, options.student_layer, True, "crd"))
        t_dim = math.prod(shape_of(ctx, options.teacher_layer, False, "crd"))
        d = options.feat_dim
        self.embed_s, self.embed_t = Embed(s_dim, d), Embed(t_dim, d)
        stdv = 1.0 / math.sqrt(d / 3)
        for name in ("memory_s", "memory_t"):
            self.register_buffer(name, torch.rand(self.num_data, d) * 2 * stdv - stdv)
        self.register_buffer("z_s", torch.tensor(-1.0))
        self.register_buffer("z_t", torch.tensor(-1.0))

    def sample_contrast(self, index: torch.Tensor) -> torch.Tensor:
        """(N, K+1) memory rows: the sample itself first, then K uniform random negatives."""
        idx = torch.randint(0, self.num_data, (len(index), self.opt.nce_k + 1))
        idx[:, 0] = index
        return idx.to(index.device)

    def scores(self, memory, idx, v, z: torch.Tensor) -> torch.Tensor:
        """exp(<memory row, v> / T) / Z for every sampled row; Z fixed on first use."""
        if self.num_data <= 4 * idx.shape[1]:  # a small bank: one matmul beats the gather
            dots = torch.gather(v @ memory.clone().t(), 1, idx)  # clone: updated in place
        else:
            rows = memory[idx.flatten()].view(*idx.shape, -1)
            dots = torch.bmm(rows, v[:, :, None]).squeeze(2)
        out = torch.exp(dots / self.opt.nce_t)
        if z < 0:
            z.fill_(float(out.detach().mean()) * self.num_data)
        return out / z

    @torch.no_grad()
    def update(self, memory: torch.Tensor, index: torch.Tensor, v: torch.Tensor) -> None:
        m = self.opt.nce_m
        memory.index_copy_(0, index, F.normalize(memory[index] * m + v.detach() * (1 - m)))

    def forward(self, out: Outputs):
        if out.index is None:
            raise ConfigError(
                "loss 'crd' needs the training-set index of every sample (Outputs.index) for "
                "its memory bank; this distillation scheme does not provide it. Use the "
                "offline scheme."
            )
        s, t = self.pair(out)
        v_s, v_t = self.embed_s(s), self.embed_t(t)
        idx = self.sample_contrast(out.index)
        loss = nce_loss(self.scores(self.memory_t, idx, v_s, self.z_s), self.num_data)
        loss = loss + nce_loss(self.scores(self.memory_s, idx, v_t, self.z_t), self.num_data)
        if self.training:
            # Under DDP every rank applies every rank's update, so the banks stay identical
            # (DDP re-broadcasts rank 0's buffers each step; other ranks' rows would be lost).
            d = v_s.shape[1]
            rows = gather_rows(torch.cat([out.index[:, None].to(v_s.dtype), v_s, v_t], 1))
            index = rows[:, 0].round().long()
            self.update(self.memory_s, index, rows[:, 1 : 1 + d])
            self.update(self.memory_t, index, rows[:, 1 + d :])
        return loss
