"""User arrays from a local .npz: `x`, `y` (and optionally `x_test`, `y_test`, `labels`)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgekd.data import DATASETS, Dataset, RawData
from edgekd.errors import DataError


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: Path
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 0


def _read(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"npz dataset: file '{path}' does not exist. Give a local .npz path.")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(
            f"npz dataset: '{path}' is not a readable .npz of plain arrays ({exc}). Save it with "
            "numpy.savez(path, x=inputs, y=labels); object arrays (pickles) are refused."
        ) from None


@DATASETS.register("npz")
class Npz(Dataset):
    """Arrays the user saved with numpy.savez; object arrays (pickles) are refused."""

    Options = Options
    description = "local .npz with x (N, ...) float and y (N,) int; optional x_test/y_test/labels"

    @classmethod
    def example_options(cls, folder: Path) -> list[dict]:
        """Flat vectors with a split of our own, and (1, 8) signals with the user's split."""
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(60, 8)).astype(np.float32), np.arange(60) % 3
        np.savez(folder / "flat.npz", x=x, y=y)
        np.savez(folder / "split.npz", x=x[:40, None], y=y[:40], x_test=x[40:, None], y_test=y[40:])
        return [{"path": str(folder / "flat.npz")}, {"path": str(folder / "split.npz")}]

    @staticmethod
    def load(options: Options) -> RawData:
        arrays = _read(Path(options.path))
        missing = {"x", "y"} - set(arrays)
        if missing:
            raise DataError(
                f"npz dataset '{options.path}': missing array(s) {sorted(missing)}; found "
                f"{sorted(arrays)}. Save inputs as 'x' and integer labels as 'y'."
            )
        for key in ("x", "x_test"):
            if key in arrays and not np.issubdtype(arrays[key].dtype, np.number):
                raise DataError(
                    f"npz dataset '{options.path}': {key} holds {arrays[key].dtype} values; it "
                    "must be a numeric array (N, ...) of inputs."
                )
        x, y = arrays["x"].astype(np.float32), arrays["y"]
        if len(x) != len(y):
            raise DataError(
                f"npz dataset '{options.path}': x has {len(x)} rows but y has {len(y)}; "
                "they must match one to one."
            )
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"npz dataset '{options.path}': y must hold integer class ids.")
        if "x_test" in arrays and "y_test" in arrays:
            x_train, y_train = x, y
            x_test, y_test = arrays["x_test"].astype(np.float32), arrays["y_test"]
        else:
            order = np.random.default_rng(options.seed).permutation(len(y))
            n_test = int(round(len(y) * options.test_fraction))
            x_train, y_train = x[order[n_test:]], y[order[n_test:]]
            x_test, y_test = x[order[:n_test]], y[order[:n_test]]
        n_classes = int(max(y.max(initial=0), y_test.max(initial=0))) + 1 if len(y) else 0
        labels = (
            [str(v) for v in arrays["labels"]]
            if "labels" in arrays
            else [str(i) for i in range(n_classes)]
        )
        return RawData(
            x_train,
            y_train.astype(np.int64),
            x_test,
            y_test.astype(np.int64),
            labels,
            preprocessing=f"none (arrays as stored in {options.path})",
        )
