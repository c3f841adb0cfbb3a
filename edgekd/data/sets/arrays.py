"""Arrays on disk, memory-mapped and never loaded whole: `.npy` pairs or an uncompressed `.npz`.

Give `x` and `y` (.npy files: inputs (N, ...) of any real dtype, integer labels (N,)), and
optionally `x_test`/`y_test`; or `path`: an .npz written with `numpy.savez` (not
`savez_compressed`: a deflated member cannot be mapped) holding the same names. Only the
labels are read into memory; inputs are read a batch at a time and cast to float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgekd.config.schema import Seed, UserFile
from edgekd.data import DATASETS, MAX_CLASSES, Dataset, RawData
from edgekd.data.source import ArraySource, Rows
from edgekd.errors import DataError

READ_ERRORS = (ValueError, OSError, EOFError, KeyError)
NAMES = ("x", "y", "x_test", "y_test")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    x: UserFile | None = None  # .npy inputs (N, ...)
    y: UserFile | None = None  # .npy integer labels (N,)
    x_test: UserFile | None = None
    y_test: UserFile | None = None
    path: UserFile | None = None  # or one uncompressed .npz with x, y (x_test, y_test)
    labels: list[str] | None = Field(None, min_length=2, max_length=MAX_CLASSES)
    test_fraction: float = Field(0.2, gt=0, lt=1)  # when no test split is given
    seed: Seed = 0

    @model_validator(mode="after")
    def _sources(self) -> Options:
        pair = self.x is not None or self.y is not None
        if pair == (self.path is not None):
            raise ValueError("give `x` and `y` (.npy files) or `path` (an .npz), not both")
        if pair and (self.x is None or self.y is None):
            raise ValueError("`x` and `y` go together")
        if (self.x_test is None) != (self.y_test is None):
            raise ValueError("`x_test` and `y_test` go together")
        if self.path is not None and self.x_test is not None:
            raise ValueError("with `path`, store x_test and y_test inside the .npz")
        return self


def _open(options: Options) -> dict[str, np.ndarray]:
    """The arrays, memory-mapped, after checking each file is readable."""
    from edgekd.config.paths import require_file

    try:
        if options.path is not None:
            from edgekd.data.npzfile import map_npz

            require_file(Path(options.path), "arrays dataset", DataError)
            return {k: v for k, v in map_npz(Path(options.path)).items() if k in NAMES}
        out = {}
        for name in NAMES:
            path = getattr(options, name)
            if path is not None:
                require_file(Path(path), f"arrays dataset ({name})", DataError)
                out[name] = np.load(path, mmap_mode="r", allow_pickle=False)
        return out
    except DataError:
        raise
    except READ_ERRORS as exc:
        where = options.path or options.x
        raise DataError(
            f"arrays dataset: cannot map '{where}' ({exc}). Save inputs and labels with "
            "numpy.save (.npy) or numpy.savez (an uncompressed .npz); object arrays (pickles) "
            "are refused."
        ) from None


def _checked(arrays: dict[str, np.ndarray], where: str) -> None:
    if "x" not in arrays or "y" not in arrays:
        raise DataError(
            f"arrays dataset '{where}': missing x or y (found {sorted(arrays)}); save inputs "
            "as 'x' and integer labels as 'y'."
        )
    for xs, ys in (("x", "y"), ("x_test", "y_test")):
        if xs not in arrays:
            continue
        x, y = arrays[xs], arrays[ys]
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise DataError(f"arrays dataset '{where}': {xs} holds {x.dtype}; give real numbers.")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"arrays dataset '{where}': {ys} must be a 1-D array of class ids.")
        if x.ndim < 2 or len(x) != len(y):
            raise DataError(
                f"arrays dataset '{where}': {xs} has shape {list(x.shape)} but {ys} has "
                f"{len(y)} labels; {xs} must be (N, features...) with one row per label."
            )


@DATASETS.register("arrays")
class Arrays(Dataset):
    Options = Options
    description = "memory-mapped .npy pairs or an uncompressed .npz; never loaded whole"

    @classmethod
    def example_options(cls, folder: Path) -> list[dict]:
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(60, 1, 8)).astype(np.float32), np.arange(60) % 3
        np.save(folder / "x.npy", x)
        np.save(folder / "y.npy", y)
        np.savez(folder / "arrays.npz", x=x[:40], y=y[:40], x_test=x[40:], y_test=y[40:])
        pair = {"x": str(folder / "x.npy"), "y": str(folder / "y.npy")}
        return [pair, {"path": str(folder / "arrays.npz"), "labels": ["a", "b", "c"]}]

    @staticmethod
    def load(options: Options) -> RawData:
        where = str(options.path or options.x)
        arrays = _open(options)
        _checked(arrays, where)
        y = np.asarray(arrays["y"], dtype=np.int64)
        labels = _labels(
            options, [y] + ([np.asarray(arrays["y_test"])] if "y_test" in arrays else [])
        )
        src = ArraySource(arrays["x"])
        if "x_test" in arrays:
            test = ArraySource(arrays["x_test"])
            return _raw(src, y, test, np.asarray(arrays["y_test"], np.int64), labels, where)
        order = np.random.default_rng(options.seed).permutation(len(y))
        n_test = int(round(len(y) * options.test_fraction))
        test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
        return _raw(Rows(src, train), y[train], Rows(src, test), y[test], labels, where)


def _raw(x_train, y_train, x_test, y_test, labels, where: str) -> RawData:
    return RawData(
        x_train,
        y_train,
        x_test,
        y_test,
        labels,
        preprocessing={"text": f"none (arrays as stored in {where}, cast to float32)"},
    )


def _labels(options: Options, ys: list[np.ndarray]) -> list[str]:
    """The given label names, or 0..max id (ids checked before anything is sized by them)."""
    count = len(options.labels) if options.labels else MAX_CLASSES
    for y in ys:
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= count):
            raise DataError(
                f"arrays dataset: labels must lie in 0..{count - 1}; found "
                f"{int(y.min())}..{int(y.max())}. Give `labels` with one name per class."
            )
    if options.labels:
        return list(options.labels)
    return [str(i) for i in range(max(int(y.max()) for y in ys if len(y)) + 1)]
