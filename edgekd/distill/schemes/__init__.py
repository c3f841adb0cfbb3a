"""Registered distillation schemes: how teacher(s) and student(s) are trained together.

A scheme is a `Scheme` subclass: an `Options` model (the YAML `distill.options`), a `kind`,
a `description`, a `paper` and `run(job) -> nn.Module` that returns the trained student to
export. The base carries the defaults a scheme may change: `needs_teacher = True` (False:
its stage neither gets nor depends on a teacher, and the pipeline may have none),
`uses_transfer = True` (a scheme with a teacher trains on the pipeline's unlabeled transfer
inputs too, see `DistillJob.training_rows`), `distributed = True` (False: refused when the
command runs on several processes, with `distributed_why` as the reason; the scheme's
`check` should call `distributed.refuse_distributed` so the refusal comes at load) and
`check(cfg, student, where)`, a no-op, to refuse a pipeline the scheme cannot run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from pydantic import BaseModel
from torch import nn

from edgekd.config.schema import DistillConfig, PipelineConfig, StudentConfig, TrainConfig
from edgekd.data import Splits
from edgekd.data.augment.mixing import cross_entropy
from edgekd.data.source import Concat
from edgekd.distill.hardware import CPU, Hardware
from edgekd.distill.losses import LOSSES, LossContext, Outputs
from edgekd.distill.taps import probe_shapes
from edgekd.distill.trainer import StepInfo
from edgekd.progress import Reporter
from edgekd.registry import Plugin, Registry

SCHEMES: Registry[type[Scheme]] = Registry("distillation scheme", "edgekd.distill.schemes")


class Scheme(Plugin):
    """The contract of a KD scheme; instantiated per stage, then `run(job)`.

    `examples` are `distill.options` the shared tests run the scheme with on a two-block
    cnn1d student (`features.0`, `features.1`), with the `kd` loss.
    """

    kind: ClassVar[str] = "scheme"  # e.g. scheme/offline, algorithm/adversarial
    paper: ClassVar[str] = ""
    needs_teacher: ClassVar[bool] = True
    uses_transfer: ClassVar[bool] = True  # read only where needs_teacher
    distributed: ClassVar[bool] = True  # False: refused under DDP, for `distributed_why`
    distributed_why: ClassVar[str] = ""

    @classmethod
    def check(cls, cfg: PipelineConfig, student: StudentConfig, where: str) -> None:
        """Raise a ConfigError, at config load, for a pipeline this scheme cannot run."""

    def run(self, job: DistillJob) -> nn.Module:
        """Train `job.student` (and whatever helps it) and return the student to export."""
        raise NotImplementedError


@dataclass
class DistillJob:
    student: nn.Module
    teachers: list[nn.Module]
    splits: Splits
    distill: DistillConfig
    train: TrainConfig
    seed: int
    workdir: Path
    label: str
    reporter: Reporter
    build_student: Callable[[], nn.Module]
    info: dict = field(default_factory=dict)  # what the scheme reports into the stage record
    hw: Hardware = CPU  # where training and teacher inference run
    clock: StepInfo = field(default_factory=StepInfo)  # the step `fit` is at (see outputs)

    def outputs(self, *args, **kwargs) -> Outputs:
        """`Outputs(*args, **kwargs)` placed at the optimizer step `fit` is taking, so a
        loss with a schedule advances once per step however often a scheme calls it."""
        return Outputs(
            *args, step=self.clock.step, steps_per_epoch=self.clock.steps_per_epoch, **kwargs
        )

    def options(self, scheme: type[Scheme]) -> BaseModel:
        """The scheme's typed `Options`, as parsed at config load."""
        return scheme.parse_options(self.distill.options)

    def training_rows(self) -> tuple:
        """(inputs, labels) to distill on: the training split, then the unlabeled transfer
        inputs (label -1) when the pipeline has any; see `fill_labels`."""
        x, y = self.splits.x["train"], self.splits.y["train"]
        transfer = self.splits.transfer
        if transfer is None:
            return x, y
        self.info["transfer_samples"] = len(transfer)
        self.reporter.line(f"  {self.label}: {len(y)} labeled + {len(transfer)} unlabeled inputs")
        unlabeled = np.full(len(transfer), UNLABELED, dtype=np.int64)
        return Concat(x, transfer), np.concatenate([y, unlabeled])

    def teacher_on_device(self, teacher: nn.Module) -> nn.Module:
        return self.hw.model(freeze(teacher), len(self.splits.input_shape) + 1)

    def fit(
        self,
        trainable,
        batch_loss,
        eval_model,
        x=None,
        y=None,
        val=True,
        augment=True,
        workdir=None,
        label=None,
    ):
        """`trainer.fit` on the training split (or the given x, y) with the job's settings."""
        from edgekd.distill import distributed as ddp
        from edgekd.distill.trainer import fit

        scheme = SCHEMES.get(self.distill.scheme)
        if not scheme.distributed:  # refused at load too; this guards a scheme run directly
            ddp.refuse_distributed(self.distill.scheme, self.label, scheme.distributed_why)
        x = self.splits.x["train"] if x is None else x
        y = self.splits.y["train"] if y is None else y
        v = (self.splits.x["val"], self.splits.y["val"]) if val else None
        aug = self.splits.augmentation() if augment else None
        return fit(
            trainable,
            batch_loss,
            eval_model,
            x,
            y,
            v,
            self.train,
            self.seed,
            self.workdir if workdir is None else workdir,
            self.label if label is None else label,
            self.reporter,
            augment=aug,
            hw=self.hw,
            workers=self.splits.workers,
            step_info=self.clock,
        )


UNLABELED = -1


def fill_labels(
    yb: torch.Tensor, t_logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Labels for the losses, and which rows are labeled (None: all). A transfer input has
    no label: losses that read one (DKD's target class, CE) get the teacher's argmax, and
    cross-entropy on the labels is computed over the labeled rows only."""
    unlabeled = yb < 0
    if not bool(unlabeled.any()):
        return yb, None
    return torch.where(unlabeled, t_logits.argmax(1), yb), ~unlabeled


class WeightedLosses(nn.Module):
    """The weighted sum of the configured losses, plus cross-entropy on the labels."""

    def __init__(self, cfg: DistillConfig, ctx: LossContext):
        super().__init__()
        self.ce_weight = cfg.ce_weight
        self.weights = [spec.weight for spec in cfg.losses]
        classes = [LOSSES.get(s.name) for s in cfg.losses]
        self.losses = nn.ModuleList(
            cls(cls.parse_options(s.options), ctx) for cls, s in zip(classes, cfg.losses)
        )

    @staticmethod
    def required_taps(cfg: DistillConfig) -> tuple[list[str], list[str]]:
        """The student and teacher module paths the configured losses read."""
        s_paths, t_paths = [], []
        for spec in cfg.losses:
            cls = LOSSES.get(spec.name)
            s, t = cls.taps(cls.parse_options(spec.options))
            s_paths += s
            t_paths += t
        return list(dict.fromkeys(s_paths)), list(dict.fromkeys(t_paths))

    @property
    def response_only(self) -> bool:
        return all(loss.kind == "response" for loss in self.losses)

    def forward(self, out: Outputs, labeled: torch.Tensor | None = None) -> torch.Tensor:
        """`labeled`: the rows cross-entropy reads (None: all; transfer inputs are not). In a
        mixup/cutmix batch it is the mixed cross-entropy (edgekd.data.augment.mixing)."""
        return self.terms(out, self.ce_weight * self.ce(out, labeled))

    @staticmethod
    def ce(out: Outputs, labeled: torch.Tensor | None = None) -> torch.Tensor:
        """Cross-entropy of the student's logits on the labeled rows (`labeled` None: all),
        mixed where the batch was mixed (mixup/cutmix)."""
        return cross_entropy(out.s_logits, out.y, labeled)

    def terms(self, out: Outputs, total: torch.Tensor | float = 0.0) -> torch.Tensor:
        """`total` plus the weighted configured losses (cross-entropy not included)."""
        for w, loss in zip(self.weights, self.losses):
            total = total + w * loss(out)
        return total


def loss_context(
    job: DistillJob, student: nn.Module, teacher: nn.Module | None, t_shape=None, num_train=None
):
    """The LossContext for `student` (and `teacher`) with the configured losses' taps probed;
    `num_train`: the rows trained on (default: the training split)."""
    s_paths, t_paths = WeightedLosses.required_taps(job.distill)
    shape = job.splits.input_shape
    t_shapes = probe_shapes(teacher, t_paths, t_shape or shape) if teacher is not None else {}
    return LossContext(
        job.splits.num_classes,
        len(job.splits.x["train"]) if num_train is None else num_train,
        probe_shapes(student, s_paths, shape),
        t_shapes,
    )


def freeze(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def check_response_only(student: StudentConfig, where: str, why: str) -> None:
    """Refuse losses that read feature taps where the scheme has only logits to give."""
    from edgekd.errors import ConfigError

    for j, spec in enumerate(student.distill.losses):
        cls = LOSSES.get(spec.name)
        s, t = cls.taps(cls.parse_options(spec.options))
        if s or t or cls.kind != "response":
            raise ConfigError(
                f"{where}.losses[{j}]: loss '{spec.name}' is a {cls.kind} loss, but scheme "
                f"'{student.distill.scheme}' {why}. Use response losses (e.g. kd) here."
            )
