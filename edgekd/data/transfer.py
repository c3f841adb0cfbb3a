"""Unlabeled transfer inputs: the user's array or image folder, checked against the data.

Distillation schemes with a teacher train on them besides the labeled split: the teacher's
outputs are the only target there (Beyer et al. 2022, function matching). An array is opened
memory-mapped; a folder of images is read with the dataset's own preprocessing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.config.schema import TransferConfig
from edgekd.data.source import ArraySource, Rows, Source, as_source
from edgekd.errors import DataError

READ_ERRORS = (ValueError, OSError, EOFError)


def transfer_files(cfg: TransferConfig) -> list[Path]:
    """The files a transfer set reads, for its stage's key."""
    if cfg.array is not None:
        return [Path(cfg.array)]
    from edgekd.data.images import list_images

    return list_images(Path(cfg.folder)) if Path(cfg.folder).is_dir() else []


def open_transfer(plugin, options, cfg: TransferConfig) -> Source:
    """The transfer inputs as `plugin` reads its own, cut to `limit`."""
    src = plugin.open_transfer(options, cfg.folder, cfg.array)
    if cfg.limit is not None and cfg.limit < len(src):
        src = Rows(src, np.arange(cfg.limit))
    return src


def array_transfer(path: Path) -> Source:
    """An .npy of unlabeled inputs (N, *sample shape), memory-mapped."""
    from edgekd.config.paths import require_file

    require_file(Path(path), "data.transfer.array", DataError)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except READ_ERRORS as exc:
        raise DataError(
            f"data.transfer.array: '{path}' is not a readable .npy array ({exc}). Save it "
            "with numpy.save(path, inputs); object arrays (pickles) are refused."
        ) from None
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise DataError(f"data.transfer.array: '{path}' holds {arr.dtype}; give real numbers.")
    return ArraySource(arr)


def check_transfer(x, input_shape: tuple, where: str) -> None:
    """As many samples as any, each of the data's shape, all finite."""
    from edgekd.data.checks import all_finite

    src = as_source(x)
    if len(src.shape) < 2 or len(src) == 0:
        raise DataError(
            f"{where}: the unlabeled inputs have shape {list(src.shape)}; give (N, "
            f"{', '.join(map(str, input_shape))}): N >= 1 inputs of the data's sample shape."
        )
    if tuple(src.sample_shape) != tuple(input_shape):
        raise DataError(
            f"{where}: the unlabeled inputs have shape {list(src.sample_shape)} per sample, "
            f"but the data's samples have shape {list(input_shape)}; they must match (the "
            "same preprocessing as the labeled data)."
        )
    if not all_finite(src):
        raise DataError(f"{where}: the unlabeled inputs contain NaN or inf.")
