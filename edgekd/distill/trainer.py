"""The training loop shared by every scheme: seeded batches, checkpoints, resume, progress.

Batches are index lists drawn from a generator seeded by (seed, epoch); a DataLoader reads
their rows (in worker processes where reading decodes images), so what a batch holds never
depends on workers or timing, and a resumed run trains on the same batches. Training runs
on `Hardware` (CPU by default; CUDA/MPS, autocast and channels-last where configured).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgekd.config.schema import TrainConfig
from edgekd.data.augment import Augmentation
from edgekd.data.augment.mixing import MixedLabels, label_mix
from edgekd.data.loader import EVAL_BATCH, BatchReader, sequential
from edgekd.distill import distributed as ddp
from edgekd.distill.hardware import CPU, Hardware
from edgekd.errors import TrainingError
from edgekd.progress import Reporter

CKPT = "resume-checkpoint.pt"


@dataclass
class StepInfo:
    """Where the batch that `batch_loss` computes sits in training, for losses with a
    schedule (DKD's warm-up): `fit(..., step_info=info)` sets it before every call. Derived
    from (epoch, batch) alone, so a resumed run continues the count with nothing stored."""

    step: int | None = None  # 0-based global optimizer step, the same on every DDP rank
    steps_per_epoch: int | None = None  # optimizer steps in one epoch
    rows: torch.Tensor | None = None  # the global batch's rows; this rank's are shard(rows)


def make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
            nesterov=cfg.nesterov,
        )
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(opt, cfg: TrainConfig):
    """Stepped once per epoch over `epochs`, or once per optimizer step when `steps` is set
    (then `milestones` count steps)."""
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps or cfg.epochs)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(opt, cfg.milestones, cfg.gamma)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


@torch.no_grad()
def predict_logits(
    model: nn.Module, x, batch: int = EVAL_BATCH, hw: Hardware = CPU, workers="auto"
) -> torch.Tensor:
    """Logits for every row of `x` (an array or a Source), in order, as float32 on the CPU."""
    was = model.training
    model.eval()
    outs = []
    for xb in sequential(x, batch, workers):
        with hw.autocast():
            outs.append(model(hw.batch(xb)).float().cpu())
    model.train(was)
    return torch.cat(outs)


def accuracy(model: nn.Module, x, y: np.ndarray, hw: Hardware = CPU, workers="auto") -> float:
    pred = predict_logits(model, x, hw=hw, workers=workers).argmax(1).numpy()
    return float((pred == y).mean())


def fit(
    trainable: nn.Module,
    batch_loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    eval_model: nn.Module,
    x,
    y: np.ndarray,
    val: tuple | None,
    cfg: TrainConfig,
    seed: int,
    workdir: Path,
    label: str,
    reporter: Reporter,
    augment: Augmentation | None = None,
    hw: Hardware = CPU,
    workers: int | str = "auto",
    step_info: StepInfo | None = None,
) -> list[dict]:
    """Train `trainable` on `batch_loss(idx, x, y)` for cfg.epochs, or for exactly cfg.steps
    optimizer steps when that is set; resume from a checkpoint.

    `batch_loss` gets the batch's row indices too (on the CPU), so schemes can look up
    cached teacher outputs. `augment`, when given, transforms each training batch (its
    generator seeded per epoch too) before `batch_loss` sees it; a label mix it makes is
    read by `edgekd.data.augment.mixing.cross_entropy` during that step. `step_info`, when
    given, is updated before each `batch_loss` call (see StepInfo). The trained
    model is back on the CPU when this returns.
    """
    torch.manual_seed(seed + ddp.current().rank)
    hw.model(trainable, 1 + len(x.shape[1:]))
    opt = make_optimizer([p for p in trainable.parameters() if p.requires_grad], cfg)
    sched = make_scheduler(opt, cfg)
    scaler = hw.scaler()
    ckpt = Path(workdir) / CKPT
    start, history = _resume(ckpt, trainable, opt, sched, scaler, reporter, label)
    reader = BatchReader(x, workers, pin=hw.type == "cuda")
    step = ddp.wrap_step(trainable, batch_loss, hw.device)
    sched_per_step = sched if cfg.steps else None
    loop = _Loop(trainable, step, opt, scaler, hw, cfg, label, sched_per_step, step_info)
    per_epoch = steps_per_epoch(len(y), cfg.batch_size)
    epochs = cfg.epochs if cfg.steps is None else -(-cfg.steps // max(per_epoch, 1))
    with reporter.task(label, epochs) as advance:
        for _ in range(start):
            advance()
        for epoch in range(start, epochs):
            trainable.train()
            limit = None if cfg.steps is None else cfg.steps - epoch * per_epoch
            total, count = loop.epoch(reader, torch.as_tensor(y), augment, seed, epoch, limit)
            if not count:
                raise TrainingError(_no_batch_message(label, len(y), cfg.batch_size))
            if cfg.steps is None:
                sched.step()
            done = (epoch + 1) * per_epoch
            row = {
                "epoch": epoch + 1,
                "loss": total / max(count, 1),
                "steps": min(done, cfg.steps or done),
            }
            if val is not None and len(val[0]):
                row["val_acc"] = accuracy(eval_model, *val, hw=hw, workers=workers)
            history.append(row)
            rngs = ddp.rng_states()
            if ddp.current().is_main:
                _save(ckpt, trainable, opt, sched, scaler, epoch + 1, history, rngs)
            advance(**{k: v for k, v in row.items() if k not in ("epoch", "steps")})
    reader.close()
    trainable.eval()
    if not hw.is_cpu:
        trainable.cpu()
    return history


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimizer steps in one epoch over n rows: the batches `_Loop.plan` trains on."""
    full, rest = divmod(n, batch_size)
    keeps = lambda size: size >= ddp.min_batch() or n < 2  # noqa: E731  as plan() decides
    return full * keeps(batch_size) + bool(rest and keeps(rest))


class _Loop:
    """One epoch: the seeded batch plan, read through the DataLoader, one step per batch;
    `step_sched`, when given, is stepped after every optimizer step; `info`, when given,
    learns the global step before each batch loss."""

    def __init__(
        self,
        trainable,
        step,
        opt,
        scaler,
        hw: Hardware,
        cfg: TrainConfig,
        label: str,
        step_sched=None,
        info=None,
    ):
        self.trainable, self.step, self.opt, self.scaler = trainable, step, opt, scaler
        self.hw, self.cfg, self.label = hw, cfg, label
        self.step_sched, self.info = step_sched, info

    def plan(self, n: int, seed: int, epoch: int) -> list[tuple[int, torch.Tensor, torch.Tensor]]:
        """(step, global batch rows, this rank's rows) for every trainable batch."""
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        out = []
        for i in range(0, n, self.cfg.batch_size):
            idx = perm[i : i + self.cfg.batch_size]
            if len(idx) < ddp.min_batch() and n >= 2:  # BatchNorm needs 2+ samples
                continue
            out.append((i // self.cfg.batch_size, idx, ddp.shard(idx)))
        return out

    def epoch(self, reader: BatchReader, yt, augment, seed: int, epoch: int, limit=None):
        """Train one epoch, or its first `limit` batches; (loss sum, rows) over all ranks."""
        plan = self.plan(len(yt), seed, epoch)
        per_epoch = len(plan)  # the global step counts full epochs, even when cut short
        plan = plan[:limit]
        aug_gen = torch.Generator().manual_seed(seed * 100003 + epoch + 7919)
        # augment the whole global batch, then shard: DDP sees what one process sees
        fetch = [(idx if augment is not None else part).numpy() for _, idx, part in plan]
        total, count = 0.0, 0
        for (step, idx, part), xb in zip(plan, reader.read(fetch)):
            mixed = None
            if self.info is not None:  # only a short last batch is skipped: steps are 0..n-1
                self.info.step, self.info.steps_per_epoch = epoch * per_epoch + step, per_epoch
                self.info.rows = idx
            if augment is not None:
                xb, mixed = _augment(augment, xb, aug_gen, yt[idx])
            with self.hw.autocast(), label_mix(mixed):
                loss = self.step(part, self.hw.batch(xb), self.hw.to(yt[part]))
            stop_if_diverged(loss, self.label, epoch, step, self.cfg)
            self.opt.zero_grad(set_to_none=True)
            scaled = ddp.scale(loss, len(part), len(idx))
            if self.scaler is None:
                scaled.backward()
                self.opt.step()
            else:
                self.scaler.scale(scaled).backward()
                self.scaler.step(self.opt)
                self.scaler.update()
            if self.step_sched is not None:
                self.step_sched.step()
            total += float(loss.detach()) * len(part)
            count += len(part)
        return ddp.all_sum(total, count)


def _augment(augment: Augmentation, xb: torch.Tensor, gen, y: torch.Tensor):
    """This rank's rows of the augmented global batch, and, when the augmentation blended
    rows (mixup, cutmix), the labels its rows were blended with."""
    out = augment.apply(xb, gen)
    mixed = None
    if out.mix is not None:
        mixed = MixedLabels(ddp.shard(y[out.mix.perm]), out.mix.lam)
    return ddp.shard(out.x), mixed


def _resume(ckpt: Path, trainable, opt, sched, scaler, reporter, label: str):
    """(first epoch, history) from the resume checkpoint, or (0, []) without one."""
    state = ddp.load_resume(ckpt)  # rank 0 reads it; every rank gets it
    if state is None:
        return 0, []
    trainable.load_state_dict(state["model"])
    opt.load_state_dict(state["optim"])
    sched.load_state_dict(state["sched"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(ddp.my_rng(state))
    reporter.line(f"  {label}: resuming after epoch {state['epoch']}")
    return state["epoch"], state["history"]


def stop_if_diverged(loss: torch.Tensor, label: str, epoch: int, step: int, cfg) -> None:
    """A NaN or infinite loss poisons every weight it touches; stop there and say where,
    rather than finish a NaN model that later "passes" a gate. Under DDP every rank
    learns of a bad loss on any rank (one small all-reduce), so all stop together."""
    bad = 0.0 if bool(torch.isfinite(loss.detach()).all()) else 1.0
    (bad,) = ddp.all_sum(bad)
    if bad:
        value = float(loss.detach())
        what = f"{value}" if not math.isfinite(value) else "non-finite on another process"
        raise TrainingError(
            f"{label}: the loss became {what} at epoch {epoch + 1} of "
            f"{cfg.epochs}, step {step + 1}; training stopped. Lower train.lr (now {cfg.lr}), "
            "check the data for extreme values, or check the teacher's outputs."
        )


def _no_batch_message(label: str, n: int, batch_size: int) -> str:
    """Every batch was below the smallest trainable size: say so instead of "training"
    nothing and recording an untrained model."""
    return (
        f"{label}: no batch could be trained: {n} sample(s) in batches of {batch_size}, but "
        f"every batch needs at least {ddp.min_batch()} samples (two per process, for "
        "BatchNorm). Raise train.batch_size or give more data."
    )


def _save(path: Path, model, opt, sched, scaler, epoch: int, history: list[dict], rngs) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optim": opt.state_dict(),
            "sched": sched.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": rngs[0],
            "rng_ranks": rngs,
            "epoch": epoch,
            "history": history,
        },
        tmp,
    )
    tmp.replace(path)
