"""The training loop shared by every scheme: seeded batches, checkpoints, resume, progress."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgekd.config.schema import TrainConfig
from edgekd.distill import distributed as ddp
from edgekd.errors import TrainingError
from edgekd.progress import Reporter

CKPT = "resume-checkpoint.pt"


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
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(opt, cfg.milestones, cfg.gamma)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


@torch.no_grad()
def predict_logits(
    model: nn.Module, x: np.ndarray | torch.Tensor, batch: int = 1024
) -> torch.Tensor:
    was = model.training
    model.eval()
    xt = torch.as_tensor(x)
    out = torch.cat([model(xt[i : i + batch]) for i in range(0, len(xt), batch)])
    model.train(was)
    return out


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    pred = predict_logits(model, x).argmax(1).numpy()
    return float((pred == y).mean())


def fit(
    trainable: nn.Module,
    batch_loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    eval_model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    val: tuple[np.ndarray, np.ndarray] | None,
    cfg: TrainConfig,
    seed: int,
    workdir: Path,
    label: str,
    reporter: Reporter,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
) -> list[dict]:
    """Train `trainable` on `batch_loss(idx, x, y)` for cfg.epochs; resume from a checkpoint.

    `batch_loss` gets the batch's row indices too, so schemes can look up cached teacher
    outputs. Batches are drawn from a generator seeded by (seed, epoch): a resumed run sees
    the same batches as an uninterrupted one. `augment(x, generator)`, when given, transforms
    each training batch (seeded per epoch too) before `batch_loss` sees it.
    """
    torch.manual_seed(seed + ddp.current().rank)
    opt = make_optimizer([p for p in trainable.parameters() if p.requires_grad], cfg)
    sched = make_scheduler(opt, cfg)
    history: list[dict] = []
    start = 0
    ckpt = Path(workdir) / CKPT
    state = ddp.load_resume(ckpt)  # rank 0 reads it; every rank gets it
    if state is not None:
        trainable.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        sched.load_state_dict(state["sched"])
        torch.set_rng_state(ddp.my_rng(state))
        start, history = state["epoch"], state["history"]
        reporter.line(f"  {label}: resuming after epoch {start}")
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    n = len(xt)
    step = ddp.wrap_step(trainable, batch_loss)  # batch_loss itself unless under torchrun
    with reporter.task(label, cfg.epochs) as advance:
        for _ in range(start):
            advance()
        for epoch in range(start, cfg.epochs):
            trainable.train()
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))
            aug_gen = torch.Generator().manual_seed(seed * 100003 + epoch + 7919)
            total, count = 0.0, 0
            for i in range(0, n, cfg.batch_size):
                idx = perm[i : i + cfg.batch_size]
                if len(idx) < ddp.min_batch() and n >= 2:  # BatchNorm needs 2+ samples
                    continue
                part = ddp.shard(idx)
                # augment the whole global batch, then shard: DDP sees what one process sees
                xb = xt[part] if augment is None else ddp.shard(augment(xt[idx], aug_gen))
                loss = step(part, xb, yt[part])
                stop_if_diverged(loss, label, epoch, i // cfg.batch_size, cfg)
                opt.zero_grad(set_to_none=True)
                ddp.scale(loss, len(part), len(idx)).backward()
                opt.step()
                total += float(loss.detach()) * len(part)
                count += len(part)
            total, count = ddp.all_sum(total, count)
            if not count:
                raise TrainingError(_no_batch_message(label, n, cfg.batch_size))
            sched.step()
            row = {"epoch": epoch + 1, "loss": total / max(count, 1)}
            if val is not None and len(val[0]):
                row["val_acc"] = accuracy(eval_model, *val)
            history.append(row)
            rngs = ddp.rng_states()
            if ddp.current().is_main:
                _save(ckpt, trainable, opt, sched, epoch + 1, history, rngs)
            advance(**{k: v for k, v in row.items() if k != "epoch"})
    trainable.eval()
    return history


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


def _save(path: Path, model, opt, sched, epoch: int, history: list[dict], rngs) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optim": opt.state_dict(),
            "sched": sched.state_dict(),
            "rng": rngs[0],
            "rng_ranks": rngs,
            "epoch": epoch,
            "history": history,
        },
        tmp,
    )
    tmp.replace(path)
