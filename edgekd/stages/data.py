"""The data stage: load the dataset plugin, split, seed and store the splits; its cache key
holds the content of the files the dataset reads."""

from __future__ import annotations

from pathlib import Path

from edgekd.config.paths import content_digests
from edgekd.config.schema import PipelineConfig
from edgekd.data import DATASETS, Splits, check_raw, make_splits
from edgekd.data.augment import get_augmentation
from edgekd.errors import DataError
from edgekd.store import StageResult


def data_key(cfg: PipelineConfig) -> dict:
    """The data stage's cache config: the data settings, the seed and, by content, every
    file the dataset reads (`Dataset.files`), so that replacing a file behind the same path
    recomputes the splits and everything trained on them. Builtin datasets read no files
    and keep the keys they always had."""
    plugin = DATASETS.get(cfg.data.dataset)
    key = {"data": cfg.data, "seed": cfg.seed}
    files = plugin.files(plugin.parse_options(cfg.data.options))
    if files:
        key["files"] = content_digests(files, f"data ({cfg.data.dataset})", DataError)
    return key


def run_data(cfg: PipelineConfig, folder: Path) -> dict:
    plugin = DATASETS.get(cfg.data.dataset)
    raw = plugin.load(plugin.parse_options(cfg.data.options))  # parsed at load: as is
    check_raw(raw, cfg.data.dataset)
    get_augmentation(raw.augment)  # an unknown name fails here, not in the first epoch
    splits = make_splits(raw, cfg.data.val_fraction, cfg.data.calib_size, cfg.seed)
    splits.save(folder)
    return {
        "dataset": cfg.data.dataset,
        "labels": splits.labels,
        "preprocessing": splits.preprocessing,
        "input_shape": list(splits.input_shape),
        "sizes": {k: int(len(v)) for k, v in splits.y.items()},
        "augment": splits.augment,
        "teacher_input_shape": list(splits.teacher_view().input_shape),
        "teacher_view": splits.x_teacher is not None,  # cross-modal: teachers read xt_*
    }


def load_splits(res: StageResult) -> Splits:
    return Splits.load(res.path, res.info)
