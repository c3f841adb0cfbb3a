"""Data-free distillation: inputs synthesised from the teacher alone (DeepInversion).

Random inputs are optimised so that the teacher classifies them as randomly drawn labels and
the batch statistics at every BatchNorm layer match the running statistics the teacher
stored during training; a total-variation prior keeps them smooth. Each optimisation step
sees the batch randomly shifted (and, for images, flipped), as in the authors' code. With
`competition_weight`, Adaptive DeepInversion adds a competition term that favours inputs on
which the student (as distilled so far) disagrees with the teacher; the synthesis then runs
in `rounds`, each followed by distillation on everything synthesised so far. The student
distils on these synthetic samples only: no training input or label is read. `method:
noise` skips the optimisation (the inputs stay Gaussian noise), the baseline to beat.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from edgekd.distill import distributed as ddp
from edgekd.distill.schemes import SCHEMES, DistillJob, Scheme, freeze
from edgekd.distill.schemes.offline import distill_loop
from edgekd.distill.taps import device_of
from edgekd.errors import ConfigError


class Options(BaseModel):
    """Defaults follow the DeepInversion authors' CIFAR-10 script (Adam on the inputs,
    jitter of 2); `flip` and the competition weight 0.2 are their ImageNet settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    method: Literal["deepinversion", "noise"] = Field(
        "deepinversion", description="noise: Gaussian inputs, no synthesis (the baseline)"
    )
    num_samples: int = Field(2048, ge=2, description="synthetic inputs in all")
    batch_size: int = Field(256, ge=2, description="inputs optimised together")
    steps: int = Field(2000, ge=0, description="optimisation steps per synthetic batch")
    lr: float = Field(0.05, gt=0, description="Adam learning rate on the inputs")
    bn_weight: float = Field(10.0, ge=0, description="BatchNorm statistics matching")
    tv_weight: float = Field(2.5e-5, ge=0, description="total-variation prior")
    l2_weight: float = Field(0.0, ge=0, description="L2 norm of the inputs")
    jitter: int = Field(2, ge=0, description="random shift per step, up to this many positions")
    flip: bool = Field(True, description="images: a random left-right flip per step")
    competition_weight: float = Field(
        0.0, ge=0, description="Adaptive DeepInversion's 1 - JS(student, teacher) (paper: 0.2)"
    )
    competition_temperature: float = Field(3.0, gt=0, description="softmax temperature of JS")
    rounds: int = Field(1, ge=1, description="synthesise, then distil; repeated (competition: 2+)")

    @model_validator(mode="after")
    def _competition(self) -> Options:
        if self.competition_weight > 0 and self.rounds < 2:
            raise ValueError(
                "`competition_weight` compares the teacher with the student as distilled so "
                "far, so it needs `rounds` of 2 or more (the first round has no student yet)"
            )
        if self.rounds > self.num_samples:
            raise ValueError(
                f"`rounds` ({self.rounds}) is more than `num_samples` ({self.num_samples}): "
                "each round synthesises its share of the samples"
            )
        return self


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


def jitter(x: torch.Tensor, opts: Options, gen: torch.Generator) -> torch.Tensor:
    """x rolled by a random offset in [-jitter, jitter] along each spatial axis (the length
    of a 1-D signal; H and W of an image), and an image flipped left-right half the time."""
    axes = list(range(2, x.ndim))
    if opts.jitter and axes:
        shifts = torch.randint(-opts.jitter, opts.jitter + 1, (len(axes),), generator=gen)
        x = torch.roll(x, shifts=shifts.tolist(), dims=axes)
    if opts.flip and x.ndim == 4 and bool(torch.rand((), generator=gen) < 0.5):
        x = torch.flip(x, dims=(3,))
    return x


def competition(s_logits: torch.Tensor, t_logits: torch.Tensor, temperature: float):
    """Adaptive DeepInversion's term, 1 - JS(student, teacher), as in the authors' code
    (probabilities clipped to [0.01, 0.99], JS clamped to [0, 1]): minimising it pushes the
    inputs towards where the two disagree."""
    p = F.softmax(s_logits / temperature, dim=1)
    q = F.softmax(t_logits / temperature, dim=1)
    m = (0.5 * (p + q)).clamp(0.01, 0.99)
    p, q = p.clamp(0.01, 0.99), q.clamp(0.01, 0.99)
    js = 0.5 * F.kl_div(p.log(), m, reduction="batchmean")
    js = js + 0.5 * F.kl_div(q.log(), m, reduction="batchmean")
    return 1.0 - js.clamp(0.0, 1.0)


def synthesize(
    teacher: nn.Module,
    shape,
    num_classes: int,
    opts: Options,
    seed: int,
    num: int | None = None,
    student: nn.Module | None = None,
    first_batch: int = 0,
):
    """(inputs, target labels, per-step mean BN-statistics loss): `num` inputs (default
    num_samples) synthesised from `teacher`, against `student` when competing. Batch b
    (counted from `first_batch`) draws from a generator seeded by (seed, b), so under DDP
    each rank synthesises its share of the batches and all ranks get the same set."""
    teacher = freeze(teacher)
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in teacher.modules())
    if opts.method == "deepinversion" and not has_bn:
        raise ConfigError(
            "data-free (deepinversion) needs a teacher with BatchNorm layers: their running "
            "statistics are what the synthesis matches. Use a teacher with batch norm or "
            "`method: noise`."
        )
    num = opts.num_samples if num is None else num
    starts = list(range(0, num, opts.batch_size))
    d, mine = ddp.current(), {}
    stats = BNStatistics(teacher)
    try:
        for b, start in enumerate(starts):
            if b % d.world == d.rank:  # this rank's share of the batches
                n = min(opts.batch_size, num - start)
                args = (shape, num_classes, opts, seed, first_batch + b, n, student)
                mine[b] = _batch(teacher, stats, *args)
    finally:
        stats.remove()
    batches = {b: v for part in ddp.all_gather(mine) for b, v in part.items()}
    xs, ys, curves = zip(*(batches[b] for b in range(len(starts))))
    sizes = np.asarray([len(v) for v in ys], dtype=np.float64)[:, None]
    history = (np.stack(curves) * sizes).sum(0) / num if curves[0] is not None else np.zeros(0)
    return np.concatenate(xs), np.concatenate(ys), history


def _batch(teacher, stats, shape, num_classes, opts, seed, b, n, student):
    """One synthetic batch: (inputs, labels, per-step BN loss or None) as numpy arrays."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + b)
    y = torch.randint(0, num_classes, (n,), generator=gen)
    x = torch.randn(n, *shape, generator=gen)
    if opts.method != "deepinversion":
        return x.numpy(), y.numpy(), None
    device = device_of(teacher)
    x, curve = _invert(teacher, stats, x.to(device), y.to(device), opts, gen, student)
    return x.cpu().numpy(), y.numpy(), np.asarray(curve)


def _invert(teacher, stats: BNStatistics, x, y, opts: Options, gen, student=None):
    x = x.clone().requires_grad_(True)
    optim = torch.optim.Adam([x], lr=opts.lr, betas=(0.5, 0.9), eps=1e-8)
    curve = []
    for _ in range(opts.steps):
        optim.zero_grad(set_to_none=True)
        xj = jitter(x, opts, gen)
        t_logits = teacher(xj)
        loss_bn = stats.pop()
        loss = F.cross_entropy(t_logits, y) + opts.bn_weight * loss_bn
        loss = loss + opts.tv_weight * total_variation(xj) + opts.l2_weight * xj.norm()
        if student is not None and opts.competition_weight > 0:
            duel = competition(student(xj), t_logits, opts.competition_temperature)
            loss = loss + opts.competition_weight * duel
        loss.backward()
        optim.step()
        curve.append(float(loss_bn.detach()))
    stats.pop()
    return x.detach(), curve


@SCHEMES.register("data-free")
class DataFree(Scheme):
    Options = Options
    kind = "algorithm/data-free"
    examples = (  # short syntheses: DeepInversion, and Adaptive DeepInversion in two rounds
        {"num_samples": 96, "batch_size": 48, "steps": 3},
        {"num_samples": 96, "batch_size": 48, "steps": 3, "competition_weight": 0.2, "rounds": 2},
    )
    uses_transfer = False  # it reads no real inputs at all
    description = "no training data: distil on inputs synthesised from teacher BN statistics"
    paper = (
        "Yin, Molchanov, Li, Alvarez, Mallya, Hoiem, Jha, Kautz. Dreaming to Distill: "
        "Data-free Knowledge Transfer via DeepInversion. CVPR 2020"
    )

    def run(self, job: DistillJob) -> nn.Module:
        opts: Options = job.options(type(self))
        job.reporter.line(f"  {job.label}: synthesising {opts.num_samples} inputs ({opts.method})")
        epochs = _shares(job.train.epochs, opts.rounds)
        samples = _shares(opts.num_samples, opts.rounds)
        xs, ys, history = [], [], np.zeros(0)
        for r in range(opts.rounds):
            x, y, curve = _round_set(job, opts, r, samples)
            xs, ys = xs + [x], ys + [y]
            history = curve * samples[r] / opts.num_samples + (history if r else 0)
            sub = _round_job(job, r, opts.rounds, epochs[r])
            # The labels are the synthesis targets, not data labels; nothing real is read.
            x_all, y_all = np.concatenate(xs), np.concatenate(ys)
            distill_loop(sub, job.teachers[0], x_all.astype(np.float32), y_all, val=False)
        for r in range(opts.rounds - 1):  # their checkpoints served resumes; not outputs
            shutil.rmtree(job.workdir / f"resume-round-{r + 1}", ignore_errors=True)
        job.info |= {
            "synthetic_samples": int(opts.num_samples),
            "synthesis": opts.method,
            "synthesis_steps": opts.steps if opts.method == "deepinversion" else 0,
            "synthesis_rounds": opts.rounds,
            "bn_loss_first_last": [float(history[0]), float(history[-1])] if len(history) else [],
            "training_samples_read": 0,
        }
        return job.student


def _shares(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal whole shares (at least 1 each), the remainder
    in the last."""
    share = max(total // parts, 1)
    return [share] * (parts - 1) + [max(total - (parts - 1) * share, 1)]


def _round_set(job: DistillJob, opts: Options, r: int, samples: list[int]):
    """Round r's synthetic inputs, labels and BN curve; cached so a resumed stage skips it."""
    cache = job.workdir / f"resume-synthetic-{r}.npz"
    found = None
    if cache.is_file():  # under DDP only rank 0's folder holds it: it tells the others
        with np.load(cache, allow_pickle=False) as z:
            found = z["x"], z["y"].astype(np.int64), z["history"]
    found = ddp.broadcast(found)
    if found is not None:
        return found
    competing = opts.competition_weight > 0 and r > 0
    student = freeze(copy.deepcopy(job.student)) if competing else None
    teacher = job.teacher_on_device(job.teachers[0])
    if student is not None:
        student.to(device_of(teacher))
    first = sum(-(-n // opts.batch_size) for n in samples[:r])  # batches of earlier rounds
    shape, k = job.splits.input_shape, job.splits.num_classes
    x, y, history = synthesize(teacher, shape, k, opts, job.seed, samples[r], student, first)
    tmp = cache.with_name(f"resume-synthetic-{r}.tmp.npz")
    np.savez(tmp, x=x, y=y, history=history)
    tmp.replace(cache)
    return x, y.astype(np.int64), history


def _round_job(job: DistillJob, r: int, rounds: int, epochs: int) -> DistillJob:
    """Round r trains for its share of the epochs; each round but the last in a folder of
    its own (its checkpoint lets a resumed stage skip it)."""
    if rounds == 1:
        return job
    train = job.train.model_copy(update={"epochs": epochs})
    label = f"{job.label} (round {r + 1}/{rounds})"
    folder = job.workdir / f"resume-round-{r + 1}" if r < rounds - 1 else job.workdir
    folder.mkdir(exist_ok=True)
    return dataclasses.replace(job, workdir=folder, train=train, label=label)
