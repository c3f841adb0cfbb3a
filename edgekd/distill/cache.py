"""Teacher-output cache: with a frozen teacher, only logit losses and no random augmentation,
the teacher's outputs are the same every epoch, so compute them once and index them per batch.

`distill.cache_teacher_outputs` chooses: `auto` (cache whenever it is exact), `on` (require
it: an error if a loss reads teacher features), `off` (run the teacher on every batch).
The outputs live in a memory-mapped .npy file in the stage's work folder (float32, one row
per training sample, transfer inputs included), so the cache works at any dataset size; it
is written batch by batch, renamed into place when complete, reused by a resumed stage and
removed with the other resume files when the stage finishes. benchmarks/teacher_cache.py
measures what it saves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgekd.data.loader import EVAL_BATCH, sequential
from edgekd.data.source import ArraySource
from edgekd.distill.hardware import CPU, Hardware
from edgekd.errors import ConfigError, TrainingError

PREFIX = "resume-teacher-logits"  # resume-* files are kept across crashes, dropped at the end


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


class CachedLogits:
    """A memory-mapped (N, classes) file of logits; `cached[idx]` is a float32 tensor."""

    def __init__(self, path: Path):
        self.rows = ArraySource(np.load(path, mmap_mode="r", allow_pickle=False))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx) -> torch.Tensor:
        idx = idx.numpy() if torch.is_tensor(idx) else np.asarray(idx)
        return torch.from_numpy(self.rows.take(idx))


def teacher_logits(
    mode: str,
    teachers: list[nn.Module],
    x,
    teacher_taps: list[str],
    reporter,
    label: str,
    augmented: bool = False,
    workdir: Path | None = None,
    hw: Hardware = CPU,
) -> list[CachedLogits] | None:
    """Each teacher's logits for every row of `x` when caching applies, else None; the files
    go into `workdir` (the stage's folder; required when caching applies)."""
    if not use_cache(mode, teacher_taps, augmented):
        reporter.line(f"  {label}: teacher runs on every batch (cache_teacher_outputs={mode})")
        return None
    reporter.line(f"  {label}: teacher outputs computed once for {len(x)} samples and reused")
    if workdir is None:
        raise TypeError("teacher_logits caches into the stage's folder: pass `workdir`")
    out = []
    for i, teacher in enumerate(teachers):
        which = "the teacher" if len(teachers) == 1 else f"teacher {i}"
        out.append(CachedLogits(_write(teacher, x, Path(workdir), i, hw, label, which)))
    return out


def _write(teacher, x, folder: Path, i: int, hw: Hardware, label: str, which: str) -> Path:
    """The teacher's logits over `x`, in batches of EVAL_BATCH, into <folder>/PREFIX-i.npy,
    appended with plain writes (no mapping grows while it is written)."""
    final = folder / f"{PREFIX}-{i}.npy"
    if final.is_file() and len(np.load(final, mmap_mode="r", allow_pickle=False)) == len(x):
        return final  # written completely by an interrupted run of this stage
    tmp = folder / f"{PREFIX}-{i}.tmp.npy"
    was = teacher.training
    teacher.eval()
    try:
        _stream(teacher, x, tmp, hw, label, which)
    except BaseException:
        tmp.unlink(missing_ok=True)  # nothing half-written stays behind
        raise
    teacher.train(was)
    tmp.replace(final)
    return final


def _stream(teacher, x, tmp: Path, hw: Hardware, label: str, which: str) -> None:
    with open(tmp, "wb") as f, torch.no_grad():
        for k, xb in enumerate(sequential(x, EVAL_BATCH)):
            with hw.autocast():
                logits = teacher(hw.batch(xb)).float().cpu().numpy()
            if not np.isfinite(logits).all():
                raise TrainingError(
                    f"{label}: {which} gives NaN or inf logits on the training data; distilling "
                    "from them would give a NaN student. Check the teacher's weights and the data."
                )
            if k == 0:
                header = {
                    "descr": "<f4",
                    "fortran_order": False,
                    "shape": (len(x), logits.shape[1]),
                }
                np.lib.format.write_array_header_1_0(f, header)
            f.write(np.ascontiguousarray(logits, dtype="<f4").tobytes())
