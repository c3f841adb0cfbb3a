"""Splits: index lists over a dataset's sources, saved without copying a large dataset.

The data stage's folder holds `data.npz` (uncompressed): the test and calibration splits
preprocessed as float32 (the profiling worker reads `x_test`/`y_test` from it; the rest of
edgekd memory-maps it), every split's labels and the train/val row indices. Data that a
dataset made in memory (generated, or read whole: mnist1d, digits, cifar, npz) is stored
too, in `source.npz`; data read on demand (memory-mapped arrays, image files, a user's
Dataset) is not: the stage records the dataset's options and a fingerprint, and `load`
reopens it through the dataset plugin.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgekd.data import RawData
from edgekd.data.npzfile import map_npz, write_npz
from edgekd.data.source import ArraySource, Rows, Source, as_source, mapping_of
from edgekd.errors import DataError


@dataclass
class Splits:
    """train/val/test/calib inputs (`Source`s or arrays: index with `x[rows]`, never whole)
    and labels; the teacher's view on cross-modal data; unlabeled transfer inputs."""

    x: dict[str, Any]
    y: dict[str, np.ndarray]
    labels: list[str]
    preprocessing: str | dict
    x_teacher: dict[str, Any] | None = None  # the teacher's view (cross-modal data)
    augment: str | list = ""  # a registered name (the dataset's) or `data.augment` specs
    transfer: Source | None = None  # unlabeled inputs for schemes with a teacher
    workers: int | str = "auto"  # DataLoader worker processes ('auto': where reading decodes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x["train"].shape[1:])

    def teacher_view(self) -> Splits:
        """The splits as the teacher sees them: its own view where the data has one."""
        if self.x_teacher is None:
            return self
        return replace(self, x=self.x_teacher, x_teacher=None, transfer=None)

    def augmentation(self):
        """The training-batch augmentation `(x, generator) -> x`, or None."""
        from edgekd.data.augment import get_augmentation

        return get_augmentation(self.augment)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def save(self, folder: Path, source: dict) -> dict:
        """Write the splits into `folder`; returns the layout `load` needs (stage info).
        `source` names the dataset and its options, to reopen data read on demand."""
        train = self.x["train"]
        root = train.source if isinstance(train, Rows) else as_source(train)
        stored = _in_memory(root)
        members: dict[str, Any] = {}
        for s in ("test", "calib"):
            members[f"x_{s}"] = _streamed(self.x[s])
            if self.x_teacher is not None:
                members[f"xt_{s}"] = _streamed(self.x_teacher[s])
        for s in ("train", "val", "test", "calib"):
            members[f"y_{s}"] = np.asarray(self.y[s], dtype=np.int64)
        separate_val = _root(self.x["val"]) is not root
        for s in ("train", "val"):
            members[f"index_{s}"] = _index(self.x[s])
        write_npz(folder / "data.npz", members)
        if stored:
            kept = {"x_train": _streamed(root)}
            if self.x_teacher is not None:
                kept["xt_train"] = _streamed(_root(self.x_teacher["train"]))
            if separate_val:
                kept["x_val"] = _streamed(_root(self.x["val"]))
            write_npz(folder / "source.npz", kept)
        return {
            **source,
            "stored": stored,
            "separate_val": separate_val,
            "train_rows": len(root),
            "sample_shape": list(root.sample_shape),
        }

    @classmethod
    def load(cls, folder: Path, meta: dict, workers: int | str = "auto") -> Splits:
        """The splits a data stage saved; data read on demand is reopened (see module doc)."""
        arrays = map_npz(Path(folder) / "data.npz")
        layout = meta["source"]
        roots = _reopen(Path(folder), layout)
        val_root = roots.get("x_val", roots["x_train"])
        x = {
            "train": Rows(roots["x_train"], arrays["index_train"]),
            "val": Rows(val_root, arrays["index_val"]),
            "test": arrays["x_test"],
            "calib": np.array(arrays["x_calib"]),
        }
        xt = None
        if "xt_test" in arrays:
            xt = {
                "train": Rows(roots["xt_train"], arrays["index_train"]),
                "val": Rows(roots["xt_train"], arrays["index_val"]),
                "test": arrays["xt_test"],
                "calib": np.array(arrays["xt_calib"]),
            }
        y = {s: np.array(arrays[f"y_{s}"]) for s in ("train", "val", "test", "calib")}
        return cls(
            x, y, meta["labels"], meta["preprocessing"], xt, meta.get("augment", ""), None, workers
        )


def _root(x) -> Source:
    return x.source if isinstance(x, Rows) else as_source(x)


def _index(x) -> np.ndarray:
    if isinstance(x, Rows) and x.index is not None:
        return x.index
    return np.arange(len(x), dtype=np.int64)


def _in_memory(source: Source) -> bool:
    return isinstance(source, ArraySource) and mapping_of(source.array) is None


def _streamed(x):
    """A member written from `x` a chunk at a time, as float32 (see npzfile.write_npz)."""
    src = as_source(x)
    return (tuple(src.shape), np.dtype(np.float32), lambda a, b: _read(src, a, b))


def _read(src: Source, start: int, stop: int) -> np.ndarray:
    from edgekd.data.loader import sequential

    part = Rows(src, np.arange(start, stop))
    return np.concatenate([b.numpy() for b in sequential(part)])


def _reopen(folder: Path, layout: dict) -> dict[str, Source]:
    """The sources of the training rows: stored ones memory-mapped, others reopened."""
    if layout["stored"]:
        return {k: ArraySource(v) for k, v in map_npz(folder / "source.npz").items()}
    from edgekd.data import DATASETS

    plugin = DATASETS.get(layout["dataset"])
    raw = plugin.open(plugin.parse_options(layout["options"]))
    roots = {"x_train": as_source(raw.x_train)}
    if layout.get("separate_val"):
        roots["x_val"] = as_source(raw.x_val)
    train = roots["x_train"]
    if len(train) != layout["train_rows"] or list(train.sample_shape) != layout["sample_shape"]:
        raise DataError(
            f"dataset '{layout['dataset']}' now has {len(train)} training samples of shape "
            f"{list(train.sample_shape)}; the data stage recorded {layout['train_rows']} of "
            f"{layout['sample_shape']}. The files changed during the run: run again."
        )
    return roots


def make_splits(raw: RawData, val_fraction: float, calib_size: int, seed: int) -> Splits:
    """Hold out a validation split (unless the dataset gave one) and draw a calibration
    split from the training data; every split is an index list over the dataset's inputs."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(raw.x_train))
    own_val = raw.x_val is not None
    n_val = 0 if own_val else int(round(len(order) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    if len(train) < 2:  # a batch of one cannot train a model with BatchNorm
        raise DataError(
            f"the training data has {len(order)} sample(s) and val_fraction {val_fraction} "
            f"holds out {n_val}, leaving {len(train)}: nothing to train on (at least 2 are "
            "needed). Lower data.val_fraction or give more data."
        )
    calib = rng.choice(train, size=min(calib_size, len(train)), replace=False)
    src = as_source(raw.x_train)
    x = {
        "train": Rows(src, train),
        "val": Rows(raw.x_val) if own_val else Rows(src, val),
        "test": Rows(raw.x_test),
        "calib": Rows(src, calib),
    }
    yv = raw.y_val if own_val else raw.y_train[val]
    y = {"train": raw.y_train[train], "val": yv, "test": raw.y_test, "calib": raw.y_train[calib]}
    y = {k: np.ascontiguousarray(v, dtype=np.int64) for k, v in y.items()}
    xt = None
    if raw.teacher_x_train is not None and raw.teacher_x_test is not None:
        tr = as_source(raw.teacher_x_train)
        xt = {
            "train": Rows(tr, train),
            "val": Rows(tr, val),
            "test": Rows(raw.teacher_x_test),
            "calib": Rows(tr, calib),
        }
    return Splits(x, y, list(raw.labels), raw.preprocessing, xt, raw.augment)
