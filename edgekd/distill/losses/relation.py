"""Relation-based knowledge: losses on how samples of a batch relate to each other.

Each reads one student and one teacher feature (any shape: (N, D), (N, C, L) or
(N, C, H, W), flattened per sample) or, with no layer given, the logits. Student and
teacher widths may differ: only (N, N) or (N, N, N) relations are compared.

Under DDP (in training) the relations are taken over the global batch, every rank's rows
gathered (`common.gather_batch`), so the update is the one a single process makes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from edgekd.distill.losses import LOSSES, DistillLoss, LossContext, Outputs
from edgekd.distill.losses.common import OptionalPair, gather_batch, gather_rows, pick, shape_of


class _RelationLoss(DistillLoss):
    kind = "relation"

    @classmethod
    def taps(cls, options):
        return options.paths()

    def __init__(self, options, ctx: LossContext):
        super().__init__()
        self.opt = options
        name = type(self).__name__.removesuffix("Loss").lower()
        shape_of(ctx, options.student_layer, True, name)
        shape_of(ctx, options.teacher_layer, False, name)

    def pair(self, out: Outputs) -> tuple[torch.Tensor, torch.Tensor]:
        s = pick(out, self.opt.student_layer, True).flatten(1)
        t = pick(out, self.opt.teacher_layer, False).detach().flatten(1)
        return s, t

    def global_pair(self, out: Outputs) -> tuple[torch.Tensor, torch.Tensor]:
        """`pair` over the global batch under DDP in training (this rank's rows alone
        otherwise: no collective outside training, where ranks may not all call the loss)."""
        s, t = self.pair(out)
        if self.training:
            s, t = gather_batch(s), gather_rows(t)
        return s, t


class RKDOptions(OptionalPair):
    distance_weight: float = Field(25.0, ge=0, description="lambda_D of the distance term")
    angle_weight: float = Field(50.0, ge=0, description="lambda_A of the angle term")
    angle_rows: int | None = Field(
        None,
        ge=3,
        description="the angle term over the batch's first N rows only: its memory grows as "
        "N^3 (4 GB per tensor at a batch of 1024); None: every row",
    )


def pairwise_distance(e: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Euclidean distances between rows, with an exact zero diagonal."""
    sq = e.pow(2).sum(1)
    d = (sq[:, None] + sq[None, :] - 2 * e @ e.t()).clamp_min(eps).sqrt()
    return d * (1 - torch.eye(len(e), dtype=d.dtype, device=d.device))


def _normalised_distance(e: torch.Tensor) -> torch.Tensor:
    d = pairwise_distance(e)
    return d / d[d > 0].mean()


def triplet_cosines(e: torch.Tensor) -> torch.Tensor:
    """cos of the angle at every anchor i between (e_j - e_i) and (e_k - e_i), flattened."""
    diff = F.normalize(e[None, :, :] - e[:, None, :], dim=2)
    return torch.bmm(diff, diff.transpose(1, 2)).flatten()


@LOSSES.register("rkd")
class RKDLoss(_RelationLoss):
    """lambda_D * Huber(distance relations) + lambda_A * Huber(angle relations)."""

    Options = RKDOptions
    examples = ({"student_layer": "pool", "teacher_layer": "pool"}, {})
    description = "Relational KD: match mean-normalised pairwise distances and triplet angles"
    paper = "Park, Kim, Lu, Cho. Relational Knowledge Distillation. CVPR 2019"

    def forward(self, out: Outputs):
        s, t = self.global_pair(out)
        loss_d = F.smooth_l1_loss(_normalised_distance(s), _normalised_distance(t))
        n = self.opt.angle_rows  # the distance term keeps every row: its memory is N^2
        a_s, a_t = (s, t) if n is None else (s[:n], t[:n])
        loss_a = F.smooth_l1_loss(triplet_cosines(a_s), triplet_cosines(a_t))
        return self.opt.distance_weight * loss_d + self.opt.angle_weight * loss_a


class PKTOptions(OptionalPair):
    eps: float = Field(1e-7, gt=0, description="numerical floor")


def cosine_kernel_probs(e: torch.Tensor, eps: float) -> torch.Tensor:
    """Row-stochastic conditional probabilities from the cosine kernel (cos + 1) / 2."""
    e = e / (e.norm(dim=1, keepdim=True) + eps)
    k = (e @ e.t() + 1.0) / 2.0
    return k / k.sum(1, keepdim=True)


@LOSSES.register("pkt")
class PKTLoss(_RelationLoss):
    """Mean over pairs of p_t * log(p_t / p_s): KL between the two kernel distributions.

    RepDistiller's CIFAR-100 benchmark weighs it 30000.
    """

    Options = PKTOptions
    examples = ({"student_layer": "features.1", "teacher_layer": "features.1"}, {})
    description = (
        "Probabilistic knowledge transfer: match conditional probability distributions "
        "of the samples built from a cosine kernel"
    )
    paper = (
        "Passalis, Tefas. Learning Deep Representations with Probabilistic Knowledge "
        "Transfer. ECCV 2018"
    )

    def forward(self, out: Outputs):
        s, t = self.global_pair(out)
        eps = self.opt.eps
        p_s, p_t = cosine_kernel_probs(s, eps), cosine_kernel_probs(t, eps)
        return (p_t * torch.log((p_t + eps) / (p_s + eps))).mean()


class SPOptions(OptionalPair):
    pass


def similarity(e: torch.Tensor) -> torch.Tensor:
    """The batch's Gram matrix, each row L2-normalised."""
    return F.normalize(e @ e.t(), dim=1)


@LOSSES.register("sp")
class SPLoss(_RelationLoss):
    """||G_t - G_s||_F^2 / N^2 over row-normalised batch Gram matrices.

    The paper weighs it gamma = 3000 (set it as the YAML weight).
    """

    Options = SPOptions
    examples = ({"student_layer": "features.0", "teacher_layer": "features.0"}, {})
    description = "Similarity-preserving KD: match the batch's pairwise activation similarities"
    paper = "Tung, Mori. Similarity-Preserving Knowledge Distillation. ICCV 2019"

    def forward(self, out: Outputs):
        s, t = self.global_pair(out)
        return (similarity(t) - similarity(s)).pow(2).sum() / len(s) ** 2
