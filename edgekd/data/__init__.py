"""Registered datasets and the splits every stage reads.

A dataset plugin is one file in `edgekd.data.sets`: a `Dataset` subclass with an `Options`
pydantic model, a `description` and `load(options) -> RawData`. Its inputs are arrays (small,
generated or read whole: the data stage stores them) or `Source`s that read samples on demand
(memory-mapped arrays, image files, a user's torch Dataset: the data stage stores only split
indices and a fingerprint, and reopens them with `open`). See edgekd.data.splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgekd.data.source import Source
from edgekd.errors import DataError
from edgekd.registry import Plugin, Registry

DATASETS: Registry[type[Dataset]] = Registry("dataset", "edgekd.data.sets")

SPLITS = ("train", "val", "test", "calib")
MAX_CLASSES = 100_000  # more than any real label set; a stray id of 2**40 must not size arrays


class Dataset(Plugin):
    """The contract of a dataset. Plugins are used as classes, never instantiated.

    `paired = True` says `load` also returns the teacher's view of every sample (see
    `RawData.teacher_x_train`), which the cross-modal scheme needs. `generates_transfer`
    says `transfer(options, n, seed)` can generate unlabeled inputs (`data.transfer_samples`).
    """

    paired: ClassVar[bool] = False
    generates_transfer: ClassVar[bool] = False

    @classmethod
    def load(cls, options: Any) -> RawData:
        raise NotImplementedError

    @classmethod
    def open(cls, options: Any) -> RawData:
        """The data again, in a later process, for reading samples (labels are not needed:
        the data stage stored them). By default `load`; a dataset whose `load` reads every
        sample to find the labels (a user's Dataset) opens more cheaply."""
        return cls.load(options)

    @classmethod
    def files(cls, options: Any) -> list[Path]:
        """The user files `load` reads. Their content (sha256) enters the data stage's cache
        key, so a file replaced behind the same path is read again. By default: every
        `UserFile` in `Options`, and every file under each `UserFolder`; a dataset that
        reads only some files of a folder lists just those."""
        from edgekd.config.paths import files_named

        return files_named(options)

    @classmethod
    def transfer(cls, options: Any, n: int, seed: int) -> np.ndarray:
        """`n` unlabeled inputs drawn like the dataset's own (`generates_transfer`)."""
        raise DataError(f"dataset '{cls.__name__}' cannot generate a transfer set.")

    @classmethod
    def open_transfer(cls, options: Any, folder: Path | None, array: Path | None) -> Source:
        """The user's unlabeled inputs, read as this dataset reads its own: by default a
        .npy array (N, *sample shape), memory-mapped. The image folder also reads folders."""
        from edgekd.data.transfer import array_transfer

        if array is None:
            raise DataError(
                f"dataset '{cls.__name__}' reads arrays, so data.transfer takes `array: "
                "file.npy` (N, *sample shape); a folder of images goes with the image-folder "
                "dataset."
            )
        return array_transfer(array)

    @classmethod
    def example_options(cls, folder: Path) -> list[dict[str, Any]]:
        """The option sets the shared tests load. A dataset that reads the user's files
        writes small valid ones into `folder` and returns options that point at them."""
        return [dict(e) for e in cls.examples]


@dataclass
class RawData:
    """What a dataset plugin returns: float32 inputs (N, *shape) and int64 labels.

    Inputs may be numpy arrays or `Source`s (read on demand); `x_val`/`y_val` are a
    validation split the user gave (otherwise `data.val_fraction` holds one out of train).
    `preprocessing` is text, or a dict with a `text` entry and the numbers (image folders:
    resize, crop, mean, std, channel order, layout) a deployed model's inputs need.
    """

    x_train: np.ndarray | Source
    y_train: np.ndarray
    x_test: np.ndarray | Source
    y_test: np.ndarray
    labels: list[str]
    preprocessing: str | dict = ""
    extra: dict = field(default_factory=dict)
    # Cross-modal data: the teacher's view of the same samples, row-aligned with x_train/x_test.
    teacher_x_train: np.ndarray | None = None
    teacher_x_test: np.ndarray | None = None
    augment: str = ""  # a registered augmentation (edgekd.data.augment), for training batches
    x_val: np.ndarray | Source | None = None
    y_val: np.ndarray | None = None
    checked: bool = False  # every sample was already read and checked finite by `load`


from edgekd.data.checks import check_raw  # noqa: E402
from edgekd.data.splits import Splits, make_splits  # noqa: E402

__all__ = [
    "DATASETS",
    "MAX_CLASSES",
    "SPLITS",
    "Dataset",
    "RawData",
    "Splits",
    "Source",
    "check_raw",
    "make_splits",
]
