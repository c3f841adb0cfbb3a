"""Reject data no model could train on, with a message that says what is wrong.

Arrays in memory are checked whole; a memory map or a `Source` is read once, a chunk at a
time, so a dataset larger than memory is checked without being loaded (images are decoded:
a corrupt file is found here, before any training, not in the middle of an epoch).
"""

from __future__ import annotations

import numpy as np

from edgekd.data import MAX_CLASSES, RawData
from edgekd.data.source import Source, mapping_of
from edgekd.errors import DataError

SCAN_BATCH = 256


def check_raw(raw: RawData, name: str) -> None:
    """Shapes, class count, labels in range, finite inputs (the teacher's view too), two
    classes among the training labels."""
    for split in ("train", "test"):
        x = getattr(raw, f"x_{split}")
        if np.ndim(x) >= 1 and len(x) == 0:
            raise DataError(f"dataset '{name}': the {split} split is empty.")
        if np.ndim(x) < 2:
            raise DataError(
                f"dataset '{name}': {split} inputs have shape {list(np.shape(x))}; they must "
                "be (N, features...) with one row per sample."
            )
    n_labels = len(raw.labels)
    if not 2 <= n_labels <= MAX_CLASSES:
        raise DataError(
            f"dataset '{name}': {n_labels} class(es); a classifier needs at least 2 "
            f"(and edgekd takes at most {MAX_CLASSES:,}). Check the labels."
        )
    splits = ["train", "test"] + (["val"] if raw.x_val is not None else [])
    for split in splits:
        x, y = getattr(raw, f"x_{split}"), getattr(raw, f"y_{split}")
        _check_split(x, y, n_labels, split, name, raw.checked)
        xt = getattr(raw, f"teacher_x_{split}", None)
        if xt is not None:
            _check_inputs(xt, len(y), f"{split} (teacher's view)", name, False)
    if len(np.unique(raw.y_train)) < 2:
        raise DataError(
            f"dataset '{name}': every training sample has the same label "
            f"({int(raw.y_train[0])}); a classifier needs samples of at least 2 classes."
        )


def _check_split(x, y: np.ndarray, n_labels: int, split: str, name: str, checked: bool) -> None:
    """Labels first (so a label id of 2**40 is caught before anything is sized by it)."""
    if y is None or y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"dataset '{name}': labels must be a 1-D integer array.")
    if len(x) != len(y):
        raise DataError(
            f"dataset '{name}': the {split} split has {len(x)} inputs but {len(y)} labels; "
            "they must match one to one."
        )
    if len(y) and (y.min() < 0 or y.max() >= n_labels):
        raise DataError(
            f"dataset '{name}': {split} labels must lie in 0..{n_labels - 1}; "
            f"found {int(y.min())}..{int(y.max())}."
        )
    _check_inputs(x, len(y), split, name, checked)


def _check_inputs(x, n: int, split: str, name: str, checked: bool) -> None:
    shape = tuple(x.shape)
    if len(shape) < 2 or len(x) != n:
        raise DataError(
            f"dataset '{name}': {split} inputs have shape {list(shape)}; they must be "
            f"(N, features...) with one row per sample ({n} rows)."
        )
    if 0 in shape[1:]:
        raise DataError(
            f"dataset '{name}': {split} samples have shape {list(shape[1:])}, with no "
            "features; each sample needs at least one value."
        )
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise DataError(f"dataset '{name}': {split} inputs hold {x.dtype}; give real numbers.")
    if not checked and not all_finite(x):
        raise DataError(f"dataset '{name}': the {split} inputs contain NaN or inf.")


def all_finite(x: np.ndarray | Source) -> bool:
    """Whether every value is finite: at once for arrays in memory, else a chunk at a time
    (through the DataLoader, in workers where reading decodes)."""
    if isinstance(x, np.ndarray) and mapping_of(x) is None:
        return bool(np.isfinite(x).all())
    from edgekd.data.loader import sequential

    return all(bool(np.isfinite(b.numpy()).all()) for b in sequential(x, SCAN_BATCH))
