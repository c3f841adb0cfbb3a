"""Feature-based knowledge: losses on intermediate feature maps read through taps.

Each works on 1-D (N, C, L) and 2-D (N, C, H, W) maps; FitNets also on flat (N, D) features.
Adapters live inside the loss module: trained with the student, never exported.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from edgekd.distill.losses import LOSSES, DistillLoss, LossContext, Outputs
from edgekd.distill.losses.common import (
    LayerPairs,
    OptionalPair,
    check_same_rank,
    match_spatial,
    require_maps,
    shape_of,
)
from edgekd.distill.taps import adapter


class FitNetsOptions(OptionalPair):
    student_layer: str = Field(description="student module path (the guided layer)")
    teacher_layer: str = Field(description="teacher module path (the hint layer)")


@LOSSES.register("fitnets")
class FitNetsLoss(DistillLoss):
    """Mean squared error between the adapted student feature and the teacher's hint.

    The regressor is `taps.adapter` (1x1 conv, plus pooling if the lengths differ, or a
    linear map for flat features). Trained jointly with the task loss in one stage, as in
    the common re-implementations, not in the paper's separate hint stage. RepDistiller's
    CIFAR-100 benchmark weighs it 100.
    """

    Options = FitNetsOptions
    kind = "feature"
    examples = ({"student_layer": "features.1", "teacher_layer": "features.1"},)
    description = "FitNets hints: regress a teacher layer from a student layer via an adapter"
    paper = (
        "Romero, Ballas, Kahou, Chassang, Gatta, Bengio. FitNets: Hints for Thin Deep Nets. "
        "ICLR 2015"
    )

    @classmethod
    def taps(cls, options):
        return options.paths()

    def __init__(self, options: FitNetsOptions, ctx: LossContext):
        super().__init__()
        self.s_path, self.t_path = options.student_layer, options.teacher_layer
        s_shape = shape_of(ctx, self.s_path, True, "fitnets")
        t_shape = shape_of(ctx, self.t_path, False, "fitnets")
        self.adapter = adapter(s_shape, t_shape)

    def forward(self, out: Outputs):
        s = self.adapter(out.s_feats[self.s_path])
        return F.mse_loss(s, out.t_feats[self.t_path].detach())


class ATOptions(LayerPairs):
    p: float = Field(2.0, gt=0, description="power applied to activations before the mean")
    beta: float = Field(1000.0, ge=0, description="paper's beta; the loss is scaled by beta/2")


def attention_map(f: torch.Tensor, p: float) -> torch.Tensor:
    """Spatial attention: mean over channels of |f|^p, flattened and L2-normalised."""
    return F.normalize(f.abs().pow(p).mean(1).flatten(1), dim=1)


@LOSSES.register("at")
class ATLoss(DistillLoss):
    """beta/2 * sum over layer pairs of mean((Q_s/|Q_s| - Q_t/|Q_t|)^2), as in the authors' code.

    Channel counts may differ; the larger map is average-pooled to the smaller length/size.
    """

    Options = ATOptions
    kind = "feature"
    examples = (
        {
            "student_layers": ["features.0", "features.1"],
            "teacher_layers": ["features.0", "features.1"],
        },
    )
    description = "Attention transfer: match normalised spatial attention maps (sum |A|^p)"
    paper = (
        "Zagoruyko, Komodakis. Paying More Attention to Attention: Improving the Performance "
        "of Convolutional Neural Networks via Attention Transfer. ICLR 2017"
    )

    @classmethod
    def taps(cls, options):
        return options.paths()

    def __init__(self, options: ATOptions, ctx: LossContext):
        super().__init__()
        self.opt = options
        _check_maps(options, ctx, "at")

    def forward(self, out: Outputs):
        total = 0.0
        for sp, tp in zip(self.opt.student_layers, self.opt.teacher_layers):
            s, t = match_spatial(out.s_feats[sp], out.t_feats[tp].detach())
            diff = attention_map(s, self.opt.p) - attention_map(t, self.opt.p)
            total = total + diff.pow(2).mean()
        return self.opt.beta / 2 * total


def _check_maps(options: LayerPairs, ctx: LossContext, name: str) -> None:
    for sp, tp in zip(options.student_layers, options.teacher_layers):
        s_shape, t_shape = shape_of(ctx, sp, True, name), shape_of(ctx, tp, False, name)
        require_maps(s_shape, sp, name)
        require_maps(t_shape, tp, name)
        check_same_rank(s_shape, t_shape, sp, tp, name)


class NSTOptions(LayerPairs):
    pass


def _poly_mmd_term(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean over samples and channel pairs of the degree-2 polynomial kernel (a_i . b_j)^2."""
    return torch.bmm(a, b.transpose(1, 2)).pow(2).mean()


@LOSSES.register("nst")
class NSTLoss(DistillLoss):
    """Squared MMD, polynomial kernel k(x, y) = (x.y)^2, between the channels' spatial patterns.

    Each channel's activation over positions is L2-normalised; channel counts may differ (no
    adapter needed). The larger map is average-pooled to the smaller length/size.
    RepDistiller's CIFAR-100 benchmark weighs it 50.
    """

    Options = NSTOptions
    kind = "feature"
    examples = ({"student_layers": ["features.1"], "teacher_layers": ["features.1"]},)
    description = "Neuron selectivity transfer: MMD (poly kernel) between channel activation maps"
    paper = (
        "Huang, Wang. Like What You Like: Knowledge Distill via Neuron Selectivity Transfer. "
        "arXiv 1707.01219, 2017"
    )

    @classmethod
    def taps(cls, options):
        return options.paths()

    def __init__(self, options: NSTOptions, ctx: LossContext):
        super().__init__()
        self.opt = options
        _check_maps(options, ctx, "nst")

    def forward(self, out: Outputs):
        total = 0.0
        for sp, tp in zip(self.opt.student_layers, self.opt.teacher_layers):
            s, t = match_spatial(out.s_feats[sp], out.t_feats[tp].detach())
            s = F.normalize(s.flatten(2), dim=2)
            t = F.normalize(t.flatten(2), dim=2)
            mmd = _poly_mmd_term(t, t) + _poly_mmd_term(s, s) - 2 * _poly_mmd_term(s, t)
            total = total + mmd
        return total
