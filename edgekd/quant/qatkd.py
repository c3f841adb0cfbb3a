"""Quantization-aware distillation: the fake-quantized student learns from the teacher's
soft targets (Hinton KD) and the labels, for a short schedule at a fraction of its learning
rate, through the same resumable trainer as every training stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from edgekd.config.schema import QatConfig, StudentConfig, TrainConfig
from edgekd.distill.losses import Outputs
from edgekd.distill.losses.response import KDLoss, KDOptions
from edgekd.distill.trainer import accuracy, fit, predict_logits
from edgekd.progress import Reporter


def qat_schedule(student: StudentConfig) -> TrainConfig:
    """The student's own recipe, shortened to `qat.epochs` at `qat.lr_fraction` of its lr."""
    qat: QatConfig = student.qat
    recipe = student.train.model_dump() | {
        "epochs": qat.epochs,
        "steps": None,
        "lr": student.train.lr * qat.lr_fraction,
        "schedule": "cosine",
        "milestones": [],
    }
    return TrainConfig.model_validate(recipe)


def teacher_logits(teacher, x) -> torch.Tensor:
    """The teacher's logits on the training split, in row order (its own view of it)."""
    return predict_logits(teacher, x)


def qat_distill(
    prepared,
    t_logits: torch.Tensor,
    splits,
    student: StudentConfig,
    seed: int,
    folder: Path,
    label: str,
    reporter: Reporter,
) -> dict:
    """Train `prepared` (a model with fake quantization) in place; returns what it did."""
    qat: QatConfig = student.qat
    kd = KDLoss(KDOptions(temperature=qat.temperature), None)
    schedule = qat_schedule(student)

    def batch_loss(idx, xb, yb):
        out = prepared(xb)
        soft = kd(Outputs(x=xb, y=yb, s_logits=out, t_logits=t_logits[idx]))
        return qat.ce_weight * F.cross_entropy(out, yb) + (1 - qat.ce_weight) * soft

    val = (splits.x["val"], splits.y["val"])
    before = accuracy(prepared, *val) if len(val[1]) else None
    history = fit(
        prepared,
        batch_loss,
        prepared,
        splits.x["train"],
        splits.y["train"],
        val,
        schedule,
        seed,
        folder,
        label,
        reporter,
        workers=splits.workers,
    )
    return {
        "epochs": qat.epochs,
        "lr": schedule.lr,
        "temperature": qat.temperature,
        "ce_weight": qat.ce_weight,
        "val_acc_fake_quant_before": before,
        "history": history,
    }


def predictions(logits, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """The top-1 class a logits function gives every row of `x`, in batches."""
    parts = [logits(np.ascontiguousarray(x[i : i + batch])) for i in range(0, len(x), batch)]
    return np.concatenate(parts).argmax(1) if parts else np.zeros(0, dtype=np.int64)


def val_accuracy(logits, x: np.ndarray, y: np.ndarray, batch: int = 256) -> float:
    """Accuracy of a logits function over the validation split, in batches."""
    if not len(y):
        return float("nan")
    return float((predictions(logits, x, batch) == y).mean())
