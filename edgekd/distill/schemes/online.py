"""Online distillation: deep mutual learning among peers trained together from scratch.

No pre-trained teacher: each peer learns from the labels and from the other peers' current
predictions (detached), averaged over the other peers. Peer 0 is the student that is exported.
"""

from __future__ import annotations

import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from torch import nn

from edgekd.config.schema import PluginOptions
from edgekd.distill.schemes import (
    SCHEMES,
    DistillJob,
    Scheme,
    WeightedLosses,
    check_response_only,
    loss_context,
)
from edgekd.distill.trainer import accuracy


class PeerSpec(BaseModel):
    """A peer's model; its options are parsed into that model family's `Options` here."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = Field(description="a registered model family")
    options: PluginOptions = Field(default_factory=dict, description="its options")

    @field_validator("model")
    @classmethod
    def _registered(cls, v: str) -> str:
        from edgekd.models import MODELS

        if v not in MODELS:
            raise ValueError(f"unknown model '{v}'; registered models: {', '.join(MODELS.names())}")
        return v

    @field_validator("options")
    @classmethod
    def _typed(cls, v, info: ValidationInfo):
        from edgekd.models import MODELS

        if "model" not in info.data:  # the model name failed; that error is reported
            return v
        try:
            return MODELS.get(info.data["model"]).parse_options(v)
        except ValidationError as err:
            what = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise ValueError(f"options of model '{info.data['model']}': {what}") from None


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    peers: int = Field(2, ge=2, description="cohort size, the exported student included")
    models: list[PeerSpec] = Field(
        default_factory=list, description="peers 1..n-1 ({model, options}); default: student copies"
    )

    @model_validator(mode="after")
    def _count(self) -> Options:
        if self.models and len(self.models) != self.peers - 1:
            raise ValueError(
                f"`models` lists the {self.peers - 1} peers besides the student "
                f"(peers={self.peers}); got {len(self.models)}"
            )
        return self


@SCHEMES.register("dml")
class DeepMutualLearning(Scheme):
    Options = Options
    kind = "scheme/online"
    needs_teacher = False
    examples = ({"peers": 3},)
    description = "deep mutual learning: 2+ peers trained together from scratch, peer 0 exported"
    paper = "Zhang, Xiang, Hospedales, Lu. Deep Mutual Learning. CVPR 2018"

    @classmethod
    def check(cls, cfg, student, where: str) -> None:
        check_response_only(student, where, "passes only the peers' logits between them")

    def run(self, job: DistillJob) -> nn.Module:
        opts: Options = job.options(type(self))
        self.peers = [job.student] + [self._peer(job, opts, k) for k in range(1, opts.peers)]
        losses = [WeightedLosses(job.distill, loss_context(job, p, None)) for p in self.peers]

        def batch_loss(_idx, xb, yb):
            logits = [peer(xb) for peer in self.peers]
            total = 0.0
            for k, (own, loss) in enumerate(zip(logits, losses)):
                others = [lg.detach() for j, lg in enumerate(logits) if j != k]
                total = total + sum(loss(job.outputs(xb, yb, own, t)) for t in others) / len(others)
            return total

        trainable = nn.ModuleDict(
            {"peers": nn.ModuleList(self.peers), "losses": nn.ModuleList(losses)}
        )
        job.fit(trainable, batch_loss, self.peers[0])
        x, y = job.splits.x["test"], job.splits.y["test"]
        job.info["peers"] = [
            {
                "model": type(p).__name__,
                "params": sum(q.numel() for q in p.parameters()),
                "acc_test": accuracy(p, x, y),
            }
            for p in self.peers
        ]
        return job.student

    @staticmethod
    def _peer(job: DistillJob, opts: Options, k: int) -> nn.Module:
        from edgekd.models import build_model

        torch.manual_seed(job.seed * 1000 + k)  # peers start from different initialisations
        if not opts.models:
            return job.build_student()
        spec = opts.models[k - 1]
        shape, classes = job.splits.input_shape, job.splits.num_classes
        return build_model(spec.model, spec.options, shape, classes)
