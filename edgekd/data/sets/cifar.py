"""CIFAR-10/100 from a local folder in the standard python-pickle layout; never downloads.

The batches are Python pickles, and unpickling can run arbitrary code, so they are read with
an unpickler that resolves only what numpy arrays need (`_reconstruct`, `ndarray`, `dtype`,
latin-1 byte strings); any other global is refused with a DataError.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from edgekd.config.schema import UserFolder
from edgekd.data import DATASETS, Dataset, RawData
from edgekd.errors import DataError

LAYOUTS = {  # variant: (folder name, train files, test file, meta file, label key, names key)
    "cifar10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        "test_batch",
        "batches.meta",
    ),
    "cifar100": ("cifar-100-python", ["train"], "test", "meta"),
}
MEAN_STD = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: UserFolder  # the extracted cifar-10-batches-py / cifar-100-python folder, or its parent
    variant: Literal["auto", "cifar10", "cifar100"] = "auto"
    labels: Literal["fine", "coarse"] = "fine"  # CIFAR-100 only: 100 fine or 20 coarse classes
    augment: bool = True  # random crop (padding 4) + horizontal flip on training batches
    normalize: bool = True  # per-channel mean/std of the training set


class Refused(pickle.UnpicklingError):
    """A pickle asked for something other than plain arrays."""


def _encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """`_codecs.encode` as protocol-2 pickles use it for bytes: latin-1 only."""
    if encoding.lower().replace("-", "") != "latin1":
        raise Refused(f"refused _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin-1", errors)


def _allowed() -> dict[tuple[str, str], object]:
    from numpy._core import multiarray, numeric

    return {
        ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy.core.numeric", "_frombuffer"): numeric._frombuffer,
        ("numpy._core.numeric", "_frombuffer"): numeric._frombuffer,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _encode,
    }


class ArrayUnpickler(pickle.Unpickler):
    """Resolves only the globals numpy arrays need; everything else is refused."""

    def find_class(self, module: str, name: str):
        found = _allowed().get((module, name))
        if found is None:
            raise Refused(f"global '{module}.{name}' is not allowed")
        return found


def read_pickle(path: Path) -> dict:
    if not path.is_file():
        raise DataError(
            f"cifar dataset: file '{path}' is missing; the folder must hold the "
            "extracted python version of CIFAR (no download is attempted)."
        )
    try:
        with open(path, "rb") as f:
            obj = ArrayUnpickler(f, encoding="bytes").load()
    except Refused as exc:
        raise DataError(
            f"cifar dataset: '{path}' was refused: {exc}. Only plain dicts of numpy arrays, "
            "lists and strings are read; this file is not a CIFAR batch as distributed."
        ) from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OSError,
    ) as exc:
        raise DataError(f"cifar dataset: '{path}' is corrupt or truncated ({exc}).") from None
    if not isinstance(obj, dict):
        raise DataError(f"cifar dataset: '{path}' does not hold a dict; not a CIFAR batch.")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def find_folder(root: Path, variant: str) -> tuple[Path, str]:
    """The extracted folder and its variant, accepting the folder itself or its parent."""
    variants = [variant] if variant != "auto" else list(LAYOUTS)
    for v in variants:
        name, _train, test, _meta = LAYOUTS[v]
        for cand in (root, root / name):
            if (cand / test).is_file() and (cand / LAYOUTS[v][3]).is_file():
                return cand, v
    raise DataError(
        f"cifar dataset: no CIFAR python batches under '{root}' (looked for "
        f"{' or '.join(LAYOUTS[v][0] for v in variants)}). Download and extract "
        "cifar-10-python.tar.gz or cifar-100-python.tar.gz yourself and give that folder."
    )


def _split(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    batch = read_pickle(path)
    if "data" not in batch or label_key not in batch:
        raise DataError(f"cifar dataset: '{path}' lacks 'data' or '{label_key}'.")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(
            f"cifar dataset: '{path}' data must be uint8 (N, 3072); got {data.dtype} {data.shape}."
        )
    if len(labels) != len(data):
        raise DataError(f"cifar dataset: '{path}' has {len(data)} images, {len(labels)} labels.")
    return data.reshape(-1, 3, 32, 32), labels


@DATASETS.register("cifar")
class Cifar(Dataset):
    Options = Options
    description = "CIFAR-10/100 from a local python-pickle folder (safe unpickler; no download)"

    @classmethod
    def example_options(cls, folder: Path) -> list[dict]:
        """A CIFAR-10 folder in the distributed layout, with 4 random images per file."""
        name, train_files, test_file, meta_file = LAYOUTS["cifar10"]
        root = folder / name
        root.mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        for f in [*train_files, test_file]:
            labels = [int(v) for v in rng.integers(0, 10, 4)]
            data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
            _write_pickle({b"data": data, b"labels": labels}, root / f)
        names = [f"class{i}".encode() for i in range(10)]
        _write_pickle({b"label_names": names}, root / meta_file)
        return [{"path": str(folder)}, {"path": str(root), "augment": False, "normalize": False}]

    @classmethod
    def files(cls, options: Options) -> list[Path]:
        """The batch files `load` reads (not the rest of the folder, e.g. the tarball)."""
        folder, variant = find_folder(Path(options.path), options.variant)
        _name, train_files, test_file, meta_file = LAYOUTS[variant]
        return [folder / f for f in [*train_files, test_file, meta_file]]

    @staticmethod
    def load(options: Options) -> RawData:
        folder, variant = find_folder(Path(options.path), options.variant)
        _name, train_files, test_file, meta_file = LAYOUTS[variant]
        if variant == "cifar10":
            label_key, names_key = "labels", "label_names"
        else:
            label_key, names_key = f"{options.labels}_labels", f"{options.labels}_label_names"
        parts = [_split(folder / f, label_key) for f in train_files]
        x_train = np.concatenate([p[0] for p in parts])
        y_train = np.concatenate([p[1] for p in parts])
        x_test, y_test = _split(folder / test_file, label_key)
        names = read_pickle(folder / meta_file).get(names_key)
        if not isinstance(names, list):
            raise DataError(f"cifar dataset: '{folder / meta_file}' lacks '{names_key}'.")
        labels = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        scale = _normalizer(variant if options.normalize else None)
        return RawData(
            x_train=scale(x_train),
            y_train=y_train,
            x_test=scale(x_test),
            y_test=y_test,
            labels=labels,
            preprocessing=_describe(variant, options.normalize),
            augment="crop4-flip" if options.augment else "",
        )


def _write_pickle(obj: dict, path: Path) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)  # as the distributed batches are


def _normalizer(variant: str | None):
    def scale(x: np.ndarray) -> np.ndarray:
        out = x.astype(np.float32) / 255.0
        if variant is not None:
            mean, std = (np.asarray(v, np.float32)[None, :, None, None] for v in MEAN_STD[variant])
            out = (out - mean) / std
        return out

    return scale


def _describe(variant: str, normalize: bool) -> str:
    text = "RGB 3x32x32, pixel / 255"
    if normalize:
        mean, std = MEAN_STD[variant]
        text += f", then (x - mean) / std per channel with mean {mean} and std {std}"
    return text
