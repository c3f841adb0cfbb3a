"""Teacher-output cache: with a frozen teacher, only logit losses and no random augmentation,
the teacher's outputs are the same every epoch, so compute them once and index them per batch.

`distill.cache_teacher_outputs` chooses: `auto` (cache whenever it is exact), `on` (require
it: an error if a loss reads teacher features), `off` (run the teacher on every batch).
benchmarks/teacher_cache.py measures what it saves.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edgekd.distill.trainer import predict_logits
from edgekd.errors import ConfigError, TrainingError


def use_cache(mode: str, teacher_taps: list[str], augmented: bool = False) -> bool:
    """Whether to cache; raises if `on` was asked for where the cache would be wrong."""
    exact = not teacher_taps and not augmented
    if mode == "on" and not exact:
        why = "the data is augmented" if augmented else f"losses read teacher {teacher_taps}"
        raise ConfigError(
            f"distill.cache_teacher_outputs is 'on' but {why}, so the teacher's outputs change "
            "from batch to batch. Set it to 'auto' or 'off'."
        )
    return exact and mode != "off"


def teacher_logits(
    mode: str,
    teachers: list[nn.Module],
    x: np.ndarray,
    teacher_taps: list[str],
    reporter,
    label: str,
    augmented: bool = False,
) -> list[torch.Tensor] | None:
    """Each teacher's logits for every row of `x` when caching applies, else None."""
    if not use_cache(mode, teacher_taps, augmented):
        reporter.line(f"  {label}: teacher runs on every batch (cache_teacher_outputs={mode})")
        return None
    reporter.line(f"  {label}: teacher outputs computed once for {len(x)} samples and reused")
    outs = [predict_logits(t, x) for t in teachers]
    for i, out in enumerate(outs):
        if not bool(torch.isfinite(out).all()):
            which = "the teacher" if len(outs) == 1 else f"teacher {i}"
            raise TrainingError(
                f"{label}: {which} gives NaN or inf logits on the training data; distilling "
                "from them would give a NaN student. Check the teacher's weights and the data."
            )
    return outs
