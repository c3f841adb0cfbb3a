"""Registered datasets and the split arrays every stage reads.

A dataset plugin is one file in `edgekd.data.sets`: a `Dataset` subclass with an `Options`
pydantic model, a `description` and `load(options) -> RawData`. The data stage splits,
seeds and caches it in the run folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgekd.errors import DataError
from edgekd.registry import Plugin, Registry

DATASETS: Registry[type[Dataset]] = Registry("dataset", "edgekd.data.sets")

SPLITS = ("train", "val", "test", "calib")
MAX_CLASSES = 100_000  # more than any real label set; a stray id of 2**40 must not size arrays


class Dataset(Plugin):
    """The contract of a dataset. Plugins are used as classes, never instantiated.

    `paired = True` says `load` also returns the teacher's view of every sample (see
    `RawData.teacher_x_train`), which the cross-modal scheme needs.
    """

    paired: ClassVar[bool] = False

    @classmethod
    def load(cls, options: Any) -> RawData:
        raise NotImplementedError

    @classmethod
    def files(cls, options: Any) -> list[Path]:
        """The user files `load` reads. Their content (sha256) enters the data stage's cache
        key, so a file replaced behind the same path is read again. By default: every
        `UserFile` in `Options`, and every file under each `UserFolder`; a dataset that
        reads only some files of a folder lists just those."""
        from edgekd.config.paths import files_named

        return files_named(options)

    @classmethod
    def example_options(cls, folder: Path) -> list[dict[str, Any]]:
        """The option sets the shared tests load. A dataset that reads the user's files
        writes small valid ones into `folder` and returns options that point at them."""
        return [dict(e) for e in cls.examples]


@dataclass
class RawData:
    """What a dataset plugin returns: float32 inputs (N, *shape) and int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    labels: list[str]
    preprocessing: str = ""
    extra: dict = field(default_factory=dict)
    # Cross-modal data: the teacher's view of the same samples, row-aligned with x_train/x_test.
    teacher_x_train: np.ndarray | None = None
    teacher_x_test: np.ndarray | None = None
    augment: str = ""  # a registered augmentation (edgekd.data.augment), for training batches


@dataclass
class Splits:
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    labels: list[str]
    preprocessing: str
    x_teacher: dict[str, np.ndarray] | None = None  # the teacher's view (cross-modal data)
    augment: str = ""

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x["train"].shape[1:])

    def teacher_view(self) -> Splits:
        """The splits as the teacher sees them: its own view where the data has one."""
        if self.x_teacher is None:
            return self
        return Splits(self.x_teacher, self.y, self.labels, self.preprocessing, None, self.augment)

    def augmentation(self):
        """The training-batch augmentation `(x, generator) -> x`, or None."""
        from edgekd.data.augment import get_augmentation

        return get_augmentation(self.augment)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def save(self, folder: Path) -> None:
        arrays = {f"x_{s}": self.x[s] for s in SPLITS} | {f"y_{s}": self.y[s] for s in SPLITS}
        if self.x_teacher is not None:
            arrays |= {f"xt_{s}": self.x_teacher[s] for s in SPLITS}
        np.savez(folder / "data.npz", **arrays)

    @classmethod
    def load(cls, folder: Path, meta: dict) -> Splits:
        with np.load(folder / "data.npz", allow_pickle=False) as z:
            x = {s: z[f"x_{s}"] for s in SPLITS}
            y = {s: z[f"y_{s}"] for s in SPLITS}
            xt = {s: z[f"xt_{s}"] for s in SPLITS} if "xt_train" in z.files else None
        return cls(x, y, meta["labels"], meta["preprocessing"], xt, meta.get("augment", ""))


def check_raw(raw: RawData, name: str) -> None:
    """Reject data no model could train on, with a message that says what is wrong."""
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
    for split in ("train", "test"):
        x, y = getattr(raw, f"x_{split}"), getattr(raw, f"y_{split}")
        _check_split(x, y, n_labels, split, name)
        xt = getattr(raw, f"teacher_x_{split}")
        if xt is not None:
            _check_inputs(xt, len(y), f"{split} (teacher's view)", name)
    if len(np.unique(raw.y_train)) < 2:
        raise DataError(
            f"dataset '{name}': every training sample has the same label "
            f"({int(raw.y_train[0])}); a classifier needs samples of at least 2 classes."
        )


def _check_split(x: np.ndarray, y: np.ndarray, n_labels: int, split: str, name: str) -> None:
    """Labels first (so a label id of 2**40 is caught before anything is sized by it)."""
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"dataset '{name}': labels must be a 1-D integer array.")
    if len(x) != len(y):
        raise DataError(
            f"dataset '{name}': the {split} split has {len(x)} inputs but {len(y)} labels; "
            "they must match one to one."
        )
    if y.min() < 0 or y.max() >= n_labels:
        raise DataError(
            f"dataset '{name}': {split} labels must lie in 0..{n_labels - 1}; "
            f"found {int(y.min())}..{int(y.max())}."
        )
    _check_inputs(x, len(y), split, name)


def _check_inputs(x: np.ndarray, n: int, split: str, name: str) -> None:
    if x.ndim < 2 or len(x) != n:
        raise DataError(
            f"dataset '{name}': {split} inputs have shape {list(x.shape)}; they must be "
            f"(N, features...) with one row per sample ({n} rows)."
        )
    if 0 in x.shape[1:]:
        raise DataError(
            f"dataset '{name}': {split} samples have shape {list(x.shape[1:])}, with no "
            "features; each sample needs at least one value."
        )
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"dataset '{name}': {split} inputs hold {x.dtype}; give real numbers.")
    if not np.isfinite(x).all():
        raise DataError(f"dataset '{name}': the {split} inputs contain NaN or inf.")


def make_splits(raw: RawData, val_fraction: float, calib_size: int, seed: int) -> Splits:
    """Hold out a validation split and draw a calibration split from the training data."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(raw.x_train))
    n_val = int(round(len(order) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    if len(train) < 2:  # a batch of one cannot train a model with BatchNorm
        raise DataError(
            f"the training data has {len(order)} sample(s) and val_fraction {val_fraction} "
            f"holds out {n_val}, leaving {len(train)}: nothing to train on (at least 2 are "
            "needed). Lower data.val_fraction or give more data."
        )
    calib = rng.choice(train, size=min(calib_size, len(train)), replace=False)
    x = {
        "train": raw.x_train[train],
        "val": raw.x_train[val],
        "test": raw.x_test,
        "calib": raw.x_train[calib],
    }
    y = {
        "train": raw.y_train[train],
        "val": raw.y_train[val],
        "test": raw.y_test,
        "calib": raw.y_train[calib],
    }
    x = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in x.items()}
    y = {k: np.ascontiguousarray(v, dtype=np.int64) for k, v in y.items()}
    xt = None
    if raw.teacher_x_train is not None and raw.teacher_x_test is not None:
        tr, te = raw.teacher_x_train, raw.teacher_x_test
        xt = {"train": tr[train], "val": tr[val], "test": te, "calib": tr[calib]}
        xt = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in xt.items()}
    return Splits(x, y, list(raw.labels), raw.preprocessing, xt, raw.augment)
