"""Be Your Own Teacher (BYOT): self-distillation from the deepest classifier into shallow ones.

Auxiliary heads on intermediate taps each get a classifier; they learn from the labels, from
the final classifier's logits (the configured losses, e.g. kd) and from its feature (an L2
hint). The heads live beside the network, never in it: they are dropped at export.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from edgekd.distill.schemes import (
    SCHEMES,
    DistillJob,
    Scheme,
    WeightedLosses,
    check_response_only,
    loss_context,
)
from edgekd.distill.taps import Taps, probe_shapes, resolve


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    taps: list[str] = Field(min_length=1, description="module paths that get auxiliary heads")
    head: str = Field("fc", description="the final classifier (its input: the deepest feature)")
    feature_weight: float = Field(1e-6, ge=0, description="lambda of the L2 hint ||F_i - F_C||^2")


class AuxHead(nn.Module):
    """Pool a tapped feature map, project it to the deepest feature's size, classify."""

    def __init__(self, channels: int, feat_dim: int, num_classes: int):
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(channels, feat_dim), nn.ReLU())
        self.fc = nn.Linear(feat_dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = x.flatten(2).mean(2) if x.ndim > 2 else x
        feat = self.proj(pooled)
        return feat, self.fc(feat)


class HeadInput:
    """Records the input of the final classifier (the deepest feature) on each forward."""

    def __init__(self, module: nn.Module):
        self.value: torch.Tensor | None = None
        self._handle = module.register_forward_pre_hook(self._hook)

    def _hook(self, _module, inputs):
        self.value = inputs[0].flatten(1)

    def remove(self) -> None:
        self._handle.remove()


@SCHEMES.register("byot")
class BeYourOwnTeacher(Scheme):
    Options = Options
    kind = "scheme/self"
    needs_teacher = False
    examples = ({"taps": ["features.1"]},)
    description = "self-distillation: auxiliary heads on taps learn from the deepest classifier"
    paper = (
        "Zhang, Song, Gao, Chen, Bao, Ma. Be Your Own Teacher: Improve the Performance of "
        "Convolutional Neural Networks via Self Distillation. ICCV 2019"
    )

    @classmethod
    def check(cls, cfg, student, where: str) -> None:
        check_response_only(student, where, "distils between its own classifiers' logits")

    def run(self, job: DistillJob) -> nn.Module:
        opts: Options = job.options(type(self))
        student, k = job.student, job.splits.num_classes
        head = resolve(student, opts.head)
        shapes = probe_shapes(student, opts.taps, job.splits.input_shape)
        final = HeadInput(head)
        student.eval()
        with torch.no_grad():
            student(torch.zeros(2, *job.splits.input_shape))
        feat_dim = final.value.shape[1]
        aux = nn.ModuleDict(
            {p.replace(".", "_"): AuxHead(shapes[p][0], feat_dim, k) for p in opts.taps}
        )
        losses = WeightedLosses(job.distill, loss_context(job, student, None))

        with Taps(student, opts.taps) as taps:

            def batch_loss(_idx, xb, yb):
                logits = student(xb)
                deep_logits, deep_feat = logits.detach(), final.value.detach()
                total = F.cross_entropy(logits, yb)
                for path in opts.taps:
                    feat, aux_logits = aux[path.replace(".", "_")](taps.out[path])
                    total = total + losses(job.outputs(xb, yb, aux_logits, deep_logits))
                    hint = (feat - deep_feat).pow(2).sum(1).mean()
                    total = total + opts.feature_weight * hint
                return total

            trainable = nn.ModuleDict({"student": student, "aux": aux, "losses": losses})
            job.fit(trainable, batch_loss, student)
        final.remove()
        job.info["aux_heads"] = list(opts.taps)
        return student
