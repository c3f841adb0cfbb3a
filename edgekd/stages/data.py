"""The data stage: load the dataset plugin, split, seed and store the splits."""

from __future__ import annotations

from pathlib import Path

from edgekd.config.schema import PipelineConfig
from edgekd.data import DATASETS, Splits, check_raw, make_splits
from edgekd.data.augment import get_augmentation
from edgekd.store import StageResult


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
