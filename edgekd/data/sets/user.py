"""Your own torch Datasets: `factory: path/to/file.py:fn` (or `package.module:fn`).

The factory is called with `options` as keyword arguments and returns the splits: a dict
{"train": ds, "test": ds} (optionally "val"), or a tuple (train, test) / (train, test, val).
Each is a map-style `torch.utils.data.Dataset` whose items are (input, label): an input a
tensor or array of one shape, a label an int. The data stage reads every item once, for the
labels and to check the inputs; training reads items a batch at a time, in DataLoader
workers. Naming the file runs it; its content enters the data stage's key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgekd.config.coderef import CodeRef
from edgekd.config.schema import UserFolder
from edgekd.data import DATASETS, MAX_CLASSES, Dataset, RawData
from edgekd.data.source import Source
from edgekd.errors import DataError, EdgeKDError

WHERE = "data.options.factory"


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    factory: CodeRef  # file.py:fn or package.module:fn
    options: dict[str, Any] = Field(default_factory=dict)  # keyword arguments of the factory
    labels: list[str] | None = Field(None, min_length=2, max_length=MAX_CLASSES)
    # files or folders your Dataset reads: their content enters the data stage's key, so a
    # changed file is read again (edgekd cannot see what your code opens)
    reads: list[UserFolder] = Field(default_factory=list)


def example_splits(n: int = 30) -> dict:
    """A factory as a user writes one (the shared tests load the `user` dataset with it)."""
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 6, generator=g)
    y = torch.arange(n) % 3
    x = x + y[:, None, None]
    train = torch.utils.data.TensorDataset(x[: 2 * n // 3], y[: 2 * n // 3])
    test = torch.utils.data.TensorDataset(x[2 * n // 3 :], y[2 * n // 3 :])
    return {"train": train, "test": test}


class DatasetSource(Source):
    """The inputs of a user's Dataset, item by item; any exception is one DataError."""

    decodes = True  # a user's __getitem__ may do real work: read it in workers

    def __init__(self, ds, split: str, shape: tuple[int, ...] | None = None):
        self.ds, self.split, self._shape = ds, split, shape

    def __len__(self) -> int:
        return len(self.ds)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        if self._shape is None:
            self._shape = self.item(0)[0].shape
        return self._shape

    def item(self, i: int) -> tuple[np.ndarray, Any]:
        try:
            got = self.ds[int(i)]
            x, y = got[0], got[1]
            x = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
        except EdgeKDError:
            raise
        except Exception as exc:  # noqa: BLE001  anything the user's __getitem__ raises
            raise DataError(
                f"{WHERE}: the {self.split} dataset's item {int(i)} failed: "
                f"{type(exc).__name__}: {str(exc)[:200]}. Items must be (input, label)."
            ) from None
        return np.asarray(x, dtype=np.float32), y

    def take(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), *self.sample_shape), dtype=np.float32)
        for k, i in enumerate(idx):
            x = self.item(i)[0]
            if x.shape != self.sample_shape:
                raise DataError(
                    f"{WHERE}: {self.split} item {int(i)} has shape {list(x.shape)}, item 0 "
                    f"{list(self.sample_shape)}; every input must have one shape."
                )
            out[k] = x
        return out


def _splits(options: Options) -> dict[str, Any]:
    """The factory's datasets by split name, checked to be map-style Datasets."""
    import torch

    from edgekd.config.usercode import call, load_callable

    fn = load_callable(options.factory, WHERE)
    got = call(fn, dict(options.options), options.factory, WHERE)
    if isinstance(got, (tuple, list)) and len(got) in (2, 3):
        got = dict(zip(("train", "test", "val"), got))
    if not isinstance(got, dict) or not {"train", "test"} <= set(got) - {None}:
        raise DataError(
            f"{WHERE}: {options.factory} returned {type(got).__name__}; return "
            '{"train": dataset, "test": dataset} (optionally "val"), or (train, test[, val]).'
        )
    for name, ds in got.items():
        if name not in ("train", "test", "val"):
            raise DataError(f"{WHERE}: unknown split '{name}'; use train, test and val.")
        if not isinstance(ds, torch.utils.data.Dataset) or not hasattr(ds, "__len__"):
            raise DataError(
                f"{WHERE}: the {name} split is a {type(ds).__name__}, not a map-style "
                "torch.utils.data.Dataset (with __len__ and __getitem__)."
            )
    return got


def _read(ds, split: str) -> tuple[DatasetSource, np.ndarray]:
    """Every item once: the labels, and each input checked (shape, finite)."""
    src = DatasetSource(ds, split)
    if len(src) == 0:
        raise DataError(f"{WHERE}: the {split} dataset is empty.")
    labels = np.empty(len(src), dtype=np.int64)
    for i in range(len(src)):
        x, y = src.item(i)
        if x.shape != src.sample_shape or not np.isfinite(x).all():
            why = "NaN or inf" if x.shape == src.sample_shape else f"shape {list(x.shape)}"
            raise DataError(f"{WHERE}: {split} item {i} holds {why}; fix the dataset.")
        try:
            labels[i] = int(y)
        except (TypeError, ValueError):
            raise DataError(f"{WHERE}: {split} item {i}'s label {y!r} is not a class id.") from None
    return src, labels


@DATASETS.register("user")
class UserDataset(Dataset):
    Options = Options
    description = "your own torch Datasets from `factory: file.py:fn` (train/test, optional val)"
    examples = ({"factory": "edgekd.data.sets.user:example_splits", "options": {"n": 30}},)

    @classmethod
    def files(cls, options: Options) -> list[Path]:
        """The factory's source and everything under `reads`."""
        from edgekd.config.paths import files_named
        from edgekd.config.usercode import source_files

        own = source_files(options.factory, WHERE)
        return own + [f for f in files_named(options) if f not in own]

    @staticmethod
    def load(options: Options) -> RawData:
        sets = _splits(options)
        read = {name: _read(ds, name) for name, ds in sets.items() if ds is not None}
        ys = [y for _, y in read.values()]
        top = max(int(y.max()) for y in ys)
        labels = list(options.labels) if options.labels else getattr(sets["train"], "classes", None)
        labels = [str(c) for c in labels] if labels else [str(i) for i in range(top + 1)]
        raw = RawData(*read["train"], *read["test"], labels, checked=True)
        raw.preprocessing = {"text": f"as returned by {options.factory}"}
        if "val" in read:
            raw.x_val, raw.y_val = read["val"]
        return raw

    @staticmethod
    def open(options: Options) -> RawData:
        """The datasets again for reading inputs; labels were stored by the data stage."""
        sets = _splits(options)
        empty = np.zeros(0, np.int64)
        src = {name: DatasetSource(ds, name) for name, ds in sets.items() if ds is not None}
        raw = RawData(src["train"], empty, src["test"], empty, [])
        raw.x_val = src.get("val")
        return raw
