"""A folder of images, one subfolder per class (PNG/JPEG through Pillow), read on demand.

`path/<class>/*.png` is split into train and test here (stratified, `test_fraction`), or
`path/train/<class>/...` and `path/test/<class>/...` (and optionally `path/val/...`) keep the
user's split. Every image is decoded with the same `Preprocess` steps (resize, center crop,
channels, scale, mean/std), which the data stage records as numbers for the deploy bundle.
An unlabeled folder of images (`data.transfer: {folder: ...}`) is read the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from edgekd.config.schema import Seed, UserFolder
from edgekd.data import DATASETS, Dataset, RawData
from edgekd.data.images import EXTENSIONS, ImageFiles, Preprocess, list_images
from edgekd.errors import DataError

SPLIT_NAMES = ("train", "val", "test")


class Options(Preprocess):
    path: UserFolder  # one subfolder per class, or train/ and test/ (val/) of class folders
    test_fraction: float = Field(0.2, gt=0, lt=1)  # when the folder has no test/ split
    seed: Seed = 0
    augment: str = ""  # a registered augmentation for training batches, e.g. crop4-flip


def class_folders(root: Path) -> list[Path]:
    """The class subfolders of `root` (hidden ones skipped), each holding images."""
    from edgekd.config.paths import require_folder

    require_folder(root, "image-folder dataset", DataError)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DataError(
            f"image-folder dataset: '{root}' has no class subfolders; put each class's "
            f"images ({', '.join(EXTENSIONS)}) in a folder named after the class."
        )
    for f in folders:
        if not list_images(f):
            raise DataError(
                f"image-folder dataset: class folder '{f}' holds no images "
                f"({', '.join(EXTENSIONS)}); add images or remove the folder."
            )
    return folders


def _layout(root: Path) -> dict[str, Path] | None:
    """{split: folder} when `root` holds train/ and test/ (and val/), else None."""
    given = {s: root / s for s in SPLIT_NAMES if (root / s).is_dir()}
    return given if {"train", "test"} <= set(given) else None


def _labeled(folder: Path, classes: list[str]) -> tuple[list[Path], np.ndarray]:
    files, labels = [], []
    for f in class_folders(folder):
        if f.name not in classes:
            raise DataError(
                f"image-folder dataset: '{f}' is a class the train split does not have "
                f"(classes: {', '.join(classes)}); every split uses the train split's classes."
            )
        images = list_images(f)
        files += images
        labels += [classes.index(f.name)] * len(images)
    return files, np.asarray(labels, dtype=np.int64)


def _stratified(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Test rows: `fraction` of every class (at least one of a class with two or more)."""
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        k = int(round(len(rows) * fraction))
        k = min(max(k, 1), len(rows) - 1) if len(rows) >= 2 else 0
        test.append(rng.permutation(rows)[:k])
    return np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)


@DATASETS.register("image-folder")
class ImageFolder(Dataset):
    Options = Options
    description = "your images, one subfolder per class (PNG/JPEG); resize/crop/normalize"

    @classmethod
    def example_options(cls, folder: Path) -> list[dict]:
        """3 classes x 6 images of 8x8, in one folder and as train/test folders."""
        write_examples(folder / "shapes", 6, 8)
        write_examples(folder / "split" / "train", 4, 8)
        write_examples(folder / "split" / "test", 2, 8)
        return [
            {"path": str(folder / "shapes"), "mean": [0.5] * 3, "std": [0.25] * 3},
            {"path": str(folder / "split"), "channels": 1, "resize": 6, "crop": 4},
        ]

    @classmethod
    def files(cls, options: Options) -> list[Path]:
        return list_images(Path(options.path))

    @staticmethod
    def load(options: Options) -> RawData:
        root = Path(options.path)
        layout = _layout(root)
        train_root = layout["train"] if layout else root
        classes = [f.name for f in class_folders(train_root)]
        files, y = _labeled(train_root, classes)
        prep = Preprocess(**options.model_dump(include=set(Preprocess.model_fields)))
        raw = RawData(
            x_train=ImageFiles(files, prep),
            y_train=y,
            x_test=ImageFiles([], prep),
            y_test=np.zeros(0, np.int64),
            labels=classes,
            preprocessing={"text": prep.text(), **prep.spec()},
            augment=options.augment,
        )
        if layout is None:
            test = _stratified(y, options.test_fraction, options.seed)
            train = np.setdiff1d(np.arange(len(y)), test)
            pick = lambda rows: [files[i] for i in rows]  # noqa: E731
            raw.x_train, raw.y_train = ImageFiles(pick(train), prep), y[train]
            raw.x_test, raw.y_test = ImageFiles(pick(test), prep), y[test]
            return raw
        test_files, raw.y_test = _labeled(layout["test"], classes)
        raw.x_test = ImageFiles(test_files, prep)
        if "val" in layout:
            val_files, raw.y_val = _labeled(layout["val"], classes)
            raw.x_val = ImageFiles(val_files, prep)
        return raw

    @classmethod
    def open_transfer(cls, options: Options, folder: Path | None, array: Path | None):
        if folder is None:
            return super().open_transfer(options, folder, array)
        from edgekd.config.paths import require_folder

        require_folder(Path(folder), "data.transfer.folder", DataError)
        files = list_images(Path(folder))
        if not files:
            raise DataError(
                f"data.transfer.folder: '{folder}' holds no images ({', '.join(EXTENSIONS)}); "
                "put the unlabeled images there (subfolders are read too)."
            )
        prep = Preprocess(**options.model_dump(include=set(Preprocess.model_fields)))
        return ImageFiles(files, prep)


def write_examples(root: Path, per_class: int, size: int, seed: int = 0) -> None:
    """Small RGB PNGs of three shapes (square, disc, bar) with noise, one folder per class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    c = (size - 1) / 2
    masks = {
        "square": (abs(yy - c) < size / 4) & (abs(xx - c) < size / 4),
        "disc": (yy - c) ** 2 + (xx - c) ** 2 < (size / 3) ** 2,
        "bar": abs(xx - c) < size / 8,
    }
    for name, mask in masks.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = rng.integers(0, 60, (size, size, 3)) + mask[..., None] * rng.integers(150, 196)
            Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(root / name / f"{i}.png")
