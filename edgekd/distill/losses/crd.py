"""Contrastive representation distillation (CRD), with its memory bank of embeddings."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from edgekd.distill.losses import LOSSES, LossContext, Outputs
from edgekd.distill.losses.common import OptionalPair, gather_rows, shape_of, world_size
from edgekd.distill.losses.relation import _RelationLoss
from edgekd.errors import ConfigError, TrainingError


class CRDOptions(OptionalPair):
    feat_dim: int = Field(128, ge=1, description="embedding size of both heads")
    nce_k: int = Field(16384, ge=1, description="negatives drawn from the memory per sample")
    nce_t: float = Field(0.07, gt=0, description="temperature of the critic")
    nce_m: float = Field(0.5, ge=0, lt=1, description="momentum of the memory update")
    negatives: Literal["class_exclusive", "any"] = Field(
        "class_exclusive",
        description="class_exclusive: negatives from other classes, never the sample itself "
        "(the authors' supervised CRD); any: uniform over the bank",
    )


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


def other_class_rows(labels: np.ndarray, index, y, k: int, rng) -> np.ndarray:
    """(N, 1+K) rows: column 0 free, then for each sample K bank rows whose label is not its
    own, never its own row; without replacement when there are K such rows (RepDistiller's
    np.random.choice over `cls_negative`), with replacement otherwise. Label -1 (a row not
    yet written) counts as another class."""
    index, y = np.asarray(index), np.asarray(y)
    out = np.zeros((len(index), k + 1), dtype=np.int64)
    for c in np.unique(y):
        cand = np.flatnonzero(labels != c)
        for i in np.flatnonzero(y == c):
            own = labels[index[i]] != c  # the sample's own row is a candidate: drop it
            pool = np.delete(cand, np.searchsorted(cand, index[i])) if own else cand
            if len(pool) == 0:
                raise TrainingError(
                    f"loss 'crd' found no negative of a class other than {int(c)} in its "
                    f"memory bank of {len(labels)} rows. Set the loss option negatives: any, "
                    "or train on more than one class."
                )
            out[i, 1:] = rng.choice(pool, k, replace=k > len(pool))
    return out


@LOSSES.register("crd")
class CRDLoss(_RelationLoss):
    """NCE both ways: student embedding vs teacher memory, teacher embedding vs student memory.

    The embed heads and the two memory banks (one row per sample the scheme trains on, sized
    by `LossContext.num_train`, addressed by `Outputs.index`) live in the loss and are never
    exported. As in the authors' code, the partition constant Z of each side is estimated
    once, from the first batch (the global batch under DDP), and the memories are updated
    with momentum `nce_m`. Negatives: with `class_exclusive` (the authors' default for
    supervised CRD, RepDistiller's `CIFAR100InstanceSample` in mode 'exact'), K rows of
    other classes, drawn without replacement when there are K of them, never the sample
    itself; a row's class is the `Outputs.y` it was last written with, and a row not yet
    written (still random) counts as another class. With `any`, K rows uniform over the bank.
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
        self.register_buffer("labels", torch.full((self.num_data,), -1, dtype=torch.long))
        self.register_buffer("z_s", torch.tensor(-1.0))
        self.register_buffer("z_t", torch.tensor(-1.0))

    def sample_contrast(self, index: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(N, K+1) memory rows: the sample itself first, then K negatives."""
        k = self.opt.nce_k
        if self.opt.negatives == "any":
            idx = torch.randint(0, self.num_data, (len(index), k + 1))
        else:  # NumPy draws without replacement fast; seeded from torch's (checkpointed) RNG
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ())))
            labels = self.labels.cpu().numpy()
            idx = torch.from_numpy(other_class_rows(labels, index.cpu(), y.cpu(), k, rng))
        idx[:, 0] = index.cpu()
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
            z.fill_(self.global_mean(out.detach()) * self.num_data)
        return out / z

    def global_mean(self, x: torch.Tensor) -> float:
        """Mean of `x` over every rank's batch under DDP in training (this batch otherwise)."""
        if not self.training or world_size() == 1:
            return float(x.mean())
        total = gather_rows(torch.stack([x.sum(), x.new_tensor(x.numel())])[None]).sum(0)
        return float(total[0] / total[1])

    @torch.no_grad()
    def update(self, memory: torch.Tensor, index: torch.Tensor, v: torch.Tensor) -> None:
        m = self.opt.nce_m
        memory.index_copy_(0, index, F.normalize(memory[index] * m + v.detach() * (1 - m)))

    def check_index(self, index: torch.Tensor) -> None:
        """An index beyond the bank means the scheme trains on more samples than it declared."""
        if len(index) and (int(index.min()) < 0 or int(index.max()) >= self.num_data):
            bad = int(index.max()) if int(index.max()) >= self.num_data else int(index.min())
            raise TrainingError(
                f"loss 'crd' got sample index {bad}, outside its memory bank of {self.num_data} "
                "rows (LossContext.num_train: the number of samples the distillation scheme "
                "said it trains on). The scheme feeds the loss more samples than it declared; "
                "use crd with a scheme that sizes the bank from its training set (e.g. "
                "offline), or a relation loss without a memory bank (rkd, pkt, sp)."
            )

    def forward(self, out: Outputs):
        if out.index is None:
            raise ConfigError(
                "loss 'crd' needs the training-set index of every sample (Outputs.index) for "
                "its memory bank; this distillation scheme does not provide it. Use the "
                "offline scheme."
            )
        self.check_index(out.index)
        s, t = self.pair(out)
        v_s, v_t = self.embed_s(s), self.embed_t(t)
        idx = self.sample_contrast(out.index, out.y)
        loss = nce_loss(self.scores(self.memory_t, idx, v_s, self.z_s), self.num_data)
        loss = loss + nce_loss(self.scores(self.memory_s, idx, v_t, self.z_t), self.num_data)
        if self.training:
            # Under DDP every rank applies every rank's update, so the banks stay identical
            # (DDP re-broadcasts rank 0's buffers each step; other ranks' rows would be lost).
            d = v_s.shape[1]
            keys = torch.stack([out.index, out.y.to(out.index.device)], 1).to(v_s.dtype)
            rows = gather_rows(torch.cat([keys, v_s, v_t], 1))
            index, labels = rows[:, 0].round().long(), rows[:, 1].round().long()
            self.update(self.memory_s, index, rows[:, 2 : 2 + d])
            self.update(self.memory_t, index, rows[:, 2 + d :])
            self.labels.index_copy_(0, index, labels)
        return loss
