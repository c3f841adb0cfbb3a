"""Label mixing for augmentations that blend samples (mixup, cutmix).

The trainer knows a batch's `LabelMix` (from `Augmentation.apply`); the scheme's loss does
not take it as an argument, so the trainer publishes the second labels and the weight for
the duration of one training step (`label_mix`), and `cross_entropy` reads them there:
lam * CE(y) + (1 - lam) * CE(y_b), as in Zhang et al. 2018 (mixup) and Yun et al. 2019
(CutMix). Outside such a step it is plain cross-entropy. Distillation losses need nothing:
the teacher's output on the mixed input is their target, as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class MixedLabels:
    """The labels each row of the step's batch was blended with, and its own share."""

    other: torch.Tensor  # int64 (N,); -1 where that sample is unlabeled (a transfer input)
    lam: float


_CURRENT: ContextVar[MixedLabels | None] = ContextVar("edgekd_label_mix", default=None)


@contextmanager
def label_mix(mixed: MixedLabels | None) -> Iterator[None]:
    """Make `mixed` the label mix of the training step run inside the block."""
    token = _CURRENT.set(mixed)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_mix() -> MixedLabels | None:
    return _CURRENT.get()


def cross_entropy(
    logits: torch.Tensor, y: torch.Tensor, labeled: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy of `logits` on `y` over the `labeled` rows (None: all); in a step with
    a label mix, lam * that + (1 - lam) * the same on the blended-in rows' labels."""
    own = _masked(logits, y, labeled)
    mixed = _CURRENT.get()
    if mixed is None:
        return own
    other = mixed.other.to(y.device)
    rows = None if bool((other >= 0).all()) else other >= 0
    return mixed.lam * own + (1.0 - mixed.lam) * _masked(logits, other, rows)


def _masked(logits: torch.Tensor, y: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    if rows is None:
        return F.cross_entropy(logits, y)
    if bool(rows.any()):
        return F.cross_entropy(logits[rows], y[rows])
    return logits.sum() * 0.0  # no labeled row: a zero that keeps the graph


def beta(alpha: float, gen: torch.Generator) -> float:
    """One draw of Beta(alpha, alpha), seeded from `gen` alone (torch's Beta sampler takes
    no generator), so a resumed epoch draws the same value."""
    seed = int(torch.randint(0, 2**62, (1,), generator=gen))
    return float(np.random.default_rng(seed).beta(alpha, alpha))
