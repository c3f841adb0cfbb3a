"""Data-free distillation: inputs synthesised from the teacher alone (DeepInversion).

Random inputs are optimised so that the teacher classifies them as randomly drawn labels and
the batch statistics at every BatchNorm layer match the running statistics the teacher
stored during training; a total-variation prior keeps them smooth. The student then distils
on these synthetic samples only: no training input or label is read. `method: noise` skips the
optimisation (the inputs stay Gaussian noise), the baseline the synthesis must beat.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from edgekd.distill.schemes import SCHEMES, DistillJob, Scheme, freeze
from edgekd.distill.schemes.offline import distill_loop
from edgekd.errors import ConfigError


class Options(BaseModel):
    """Defaults follow the DeepInversion authors' CIFAR-10 script (Adam on the inputs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    method: Literal["deepinversion", "noise"] = "deepinversion"
    num_samples: int = Field(2048, ge=2)
    batch_size: int = Field(256, ge=2)
    steps: int = Field(2000, ge=0)  # optimisation steps per synthetic batch
    lr: float = Field(0.05, gt=0)
    bn_weight: float = Field(10.0, ge=0)  # r_feature: BatchNorm statistics matching
    tv_weight: float = Field(2.5e-5, ge=0)  # total-variation prior
    l2_weight: float = Field(0.0, ge=0)


class BNStatistics:
    """Hooks on every BatchNorm layer summing ||mean - running_mean|| + ||var - running_var||."""

    def __init__(self, model: nn.Module):
        self.bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.terms: list[torch.Tensor] = []
        self._handles = [bn.register_forward_hook(self._hook) for bn in self.bns]

    def _hook(self, module, inputs, _output):
        x = inputs[0]
        dims = [0] + list(range(2, x.ndim))
        mean, var = x.mean(dims), x.var(dims, unbiased=False)
        self.terms.append(
            torch.norm(mean - module.running_mean, 2) + torch.norm(var - module.running_var, 2)
        )

    def pop(self) -> torch.Tensor:
        total, self.terms = sum(self.terms), []
        return total

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """L2 norm of neighbour differences along every spatial axis."""
    return sum(torch.norm(x.diff(dim=d)) for d in range(2, x.ndim))


def synthesize(teacher: nn.Module, shape, num_classes: int, opts: Options, seed: int):
    """(inputs, target labels, per-step mean BN-statistics loss) synthesised from `teacher`."""
    teacher = freeze(teacher)
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in teacher.modules())
    if opts.method == "deepinversion" and not has_bn:
        raise ConfigError(
            "data-free (deepinversion) needs a teacher with BatchNorm layers: their running "
            "statistics are what the synthesis matches. Use a teacher with batch norm or "
            "`method: noise`."
        )
    gen = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    history = np.zeros(opts.steps if opts.method == "deepinversion" else 0)
    stats = BNStatistics(teacher)
    try:
        for start in range(0, opts.num_samples, opts.batch_size):
            n = min(opts.batch_size, opts.num_samples - start)
            y = torch.randint(0, num_classes, (n,), generator=gen)
            x = torch.randn(n, *shape, generator=gen)
            if opts.method == "deepinversion":
                x, bn_curve = _invert(teacher, stats, x, y, opts)
                history += np.asarray(bn_curve) * n / opts.num_samples
            xs.append(x.detach())
            ys.append(y)
    finally:
        stats.remove()
    return torch.cat(xs).numpy(), torch.cat(ys).numpy(), history


def _invert(teacher, stats: BNStatistics, x, y, opts: Options):
    x = x.clone().requires_grad_(True)
    optim = torch.optim.Adam([x], lr=opts.lr, betas=(0.5, 0.9), eps=1e-8)
    curve = []
    for _ in range(opts.steps):
        optim.zero_grad(set_to_none=True)
        loss_ce = F.cross_entropy(teacher(x), y)
        loss_bn = stats.pop()
        loss = loss_ce + opts.bn_weight * loss_bn + opts.tv_weight * total_variation(x)
        loss = loss + opts.l2_weight * x.norm()
        loss.backward()
        optim.step()
        curve.append(float(loss_bn.detach()))
    stats.pop()
    return x.detach(), curve


@SCHEMES.register("data-free")
class DataFree(Scheme):
    Options = Options
    kind = "algorithm/data-free"
    examples = ({"num_samples": 96, "batch_size": 48, "steps": 3},)  # a short synthesis
    uses_transfer = False  # it reads no real inputs at all
    description = "no training data: distil on inputs synthesised from teacher BN statistics"
    paper = (
        "Yin, Molchanov, Li, Alvarez, Mallya, Hoiem, Jha, Kautz. Dreaming to Distill: "
        "Data-free Knowledge Transfer via DeepInversion. CVPR 2020"
    )

    def run(self, job: DistillJob) -> nn.Module:
        opts: Options = job.options(type(self))
        shape, k = job.splits.input_shape, job.splits.num_classes
        job.reporter.line(f"  {job.label}: synthesising {opts.num_samples} inputs ({opts.method})")
        cache = job.workdir / "resume-synthetic.npz"  # a resumed stage skips the synthesis
        if cache.is_file():
            with np.load(cache, allow_pickle=False) as z:
                x, y, history = z["x"], z["y"], z["history"]
        else:
            x, y, history = synthesize(job.teachers[0], shape, k, opts, job.seed)
            tmp = cache.with_name("resume-synthetic.tmp.npz")
            np.savez(tmp, x=x, y=y, history=history)
            tmp.replace(cache)
        job.info |= {
            "synthetic_samples": int(len(x)),
            "synthesis": opts.method,
            "synthesis_steps": opts.steps if opts.method == "deepinversion" else 0,
            "bn_loss_first_last": [float(history[0]), float(history[-1])] if len(history) else [],
            "training_samples_read": 0,
        }
        # The labels are the synthesis targets, not data labels; nothing real is read (val=False).
        return distill_loop(
            job, job.teachers[0], x.astype(np.float32), y.astype(np.int64), val=False
        )
