"""User arrays from a local .npz: `x`, `y` (and optionally `x_test`, `y_test`, `labels`).

An .npz is untrusted input: each member's .npy header is read first, without loading, and
must agree with the member's size, and the whole must fit in memory, so a truncated or lying
file is a DataError before numpy allocates what a header claims. Object arrays (pickles) are
refused; label ids are checked before anything is sized by them.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy
from pydantic import BaseModel, ConfigDict, Field

from edgekd.config.schema import Seed, UserFile
from edgekd.data import DATASETS, MAX_CLASSES, Dataset, RawData
from edgekd.errors import DataError

MAX_DEFLATE_RATIO = 1100  # deflate expands at most ~1032:1; a member claiming more lies
HEADER_READERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
SAVE_HINT = "Save it with numpy.savez(path, x=inputs, y=labels)."
# How a damaged zip or .npy fails in zipfile, zlib and numpy (tests/test_fuzz_config.py)
READ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    KeyError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,  # an unknown zip version, compression or encryption
    RuntimeError,  # an encrypted member
)


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    path: UserFile
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: Seed = 0


def _member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> tuple:
    """(shape, dtype) of one .npy member, checked against the member's declared size."""
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise zipfile.BadZipFile(f"member {info.filename} has inconsistent sizes")
    if info.file_size > MAX_DEFLATE_RATIO * max(info.compress_size, 1) + 4096:
        raise zipfile.BadZipFile(f"member {info.filename} claims an impossible size")
    with zf.open(info) as fp:
        version = npy.read_magic(fp)
        if version not in HEADER_READERS:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _fortran, dtype = HEADER_READERS[version](fp)
        data_bytes = info.file_size - fp.tell()
    name = info.filename[: -len(".npy")]
    if dtype.hasobject:
        raise DataError(
            f"npz dataset: '{path}' member '{name}' holds Python objects (pickles), which are "
            f"refused. {SAVE_HINT}"
        )
    expected = math.prod(shape) * dtype.itemsize
    if expected != data_bytes:
        raise DataError(
            f"npz dataset: '{path}' member '{name}' says {list(shape)} {dtype} "
            f"({expected:,} bytes) but holds {data_bytes:,} bytes; the file is truncated or "
            f"corrupt. {SAVE_HINT}"
        )
    return shape, dtype


def read_headers(path: Path) -> dict[str, tuple]:
    """{name: (shape, dtype)} of every array in the .npz, without loading any."""
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if i.filename.endswith(".npy")]
        if sum(i.compress_size for i in infos) > os.path.getsize(path):
            raise zipfile.BadZipFile("members claim more bytes than the file has")
        headers = {i.filename[: -len(".npy")]: _member_header(zf, i, path) for i in infos}
    total = sum(math.prod(s) * d.itemsize for s, d in headers.values())
    memory = _physical_memory()
    if memory and total > memory // 2:
        raise DataError(
            f"npz dataset: '{path}' holds {total / 2**30:.1f} GiB of arrays; this machine has "
            f"{memory / 2**30:.1f} GiB of memory. Use a smaller dataset or a larger machine."
        )
    return headers


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        names = read_headers(path)
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in names}
    except READ_ERRORS as exc:
        raise DataError(
            f"npz dataset: '{path}' is not a readable .npz of plain arrays ({exc}). "
            f"{SAVE_HINT} Object arrays (pickles) are refused."
        ) from None


def _class_names(arrays: dict[str, np.ndarray], ys: list[np.ndarray], where: str) -> list[str]:
    """The label names: the file's `labels`, or 0..max id. Ids are checked against the
    count first, so a stray id of 2**40 is an error, not a list of 2**40 names."""
    given = arrays.get("labels")
    if given is not None and (given.ndim != 1 or len(given) > MAX_CLASSES):
        raise DataError(
            f"npz dataset '{where}': labels must be a 1-D array of at most {MAX_CLASSES:,} names."
        )
    count = len(given) if given is not None else MAX_CLASSES
    why = "" if given is not None else f" (edgekd takes at most {MAX_CLASSES:,} classes)"
    for y in ys:
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= count):
            raise DataError(
                f"npz dataset '{where}': labels must lie in 0..{count - 1}{why}; found "
                f"{int(y.min())}..{int(y.max())}."
            )
    if given is not None:
        return [str(v) for v in given]
    top = max((int(y.max()) for y in ys if len(y)), default=-1)
    return [str(i) for i in range(top + 1)]


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
        from edgekd.config.paths import require_file

        path = Path(options.path)
        require_file(path, "npz dataset", DataError)
        arrays = _read(path)
        missing = {"x", "y"} - set(arrays)
        if missing:
            raise DataError(
                f"npz dataset '{path}': missing array(s) {sorted(missing)}; found "
                f"{sorted(arrays)}. Save inputs as 'x' and integer labels as 'y'."
            )
        _check_shapes(arrays, path)
        return _split(arrays, options, path)


def _check_shapes(arrays: dict[str, np.ndarray], path: Path) -> None:
    for key in ("x", "x_test"):
        a = arrays.get(key)
        if a is not None and (
            not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating)
        ):
            raise DataError(
                f"npz dataset '{path}': {key} holds {a.dtype} values; it must be a real "
                "numeric array (N, ...) of inputs."
            )
        if a is not None and a.ndim == 0:
            raise DataError(f"npz dataset '{path}': {key} is a single number; give (N, features).")
    for key in ("y", "y_test"):
        a = arrays.get(key)
        if a is not None and (a.ndim != 1 or not np.issubdtype(a.dtype, np.integer)):
            raise DataError(
                f"npz dataset '{path}': {key} must be a 1-D array of integer class ids."
            )
    if len(arrays["x"]) != len(arrays["y"]):
        raise DataError(
            f"npz dataset '{path}': x has {len(arrays['x'])} rows but y has {len(arrays['y'])}; "
            "they must match one to one."
        )


def _split(arrays: dict[str, np.ndarray], options: Options, path: Path) -> RawData:
    """The user's own train/test split, or one drawn here with `test_fraction`."""
    x, y = arrays["x"], arrays["y"]
    own = "x_test" in arrays and "y_test" in arrays
    labels = _class_names(arrays, [y, arrays["y_test"]] if own else [y], str(path))
    if own:
        x_train, y_train, x_test, y_test = x, y, arrays["x_test"], arrays["y_test"]
    else:
        order = np.random.default_rng(options.seed).permutation(len(y))
        n_test = int(round(len(y) * options.test_fraction))
        x_train, y_train = x[order[n_test:]], y[order[n_test:]]
        x_test, y_test = x[order[:n_test]], y[order[:n_test]]
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf: check_raw says so
        x_train, x_test = x_train.astype(np.float32), x_test.astype(np.float32)
    return RawData(
        x_train,
        y_train.astype(np.int64),
        x_test,
        y_test.astype(np.int64),
        labels,
        preprocessing=f"none (arrays as stored in {path})",
    )
