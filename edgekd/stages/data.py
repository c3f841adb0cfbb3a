"""The data stage (load the dataset plugin, check, split, store the splits) and the transfer
stage (the unlabeled inputs distillation may add). Their cache keys hold the content of the
files they read; the transfer set has its own stage so that adding one retrains only the
students that use it, not the teacher."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.config.paths import content_digests
from edgekd.config.schema import PipelineConfig
from edgekd.data import DATASETS, Splits, check_raw, make_splits
from edgekd.data.augment import get_augmentation
from edgekd.data.notes import data_warnings
from edgekd.data.source import Source
from edgekd.data.transfer import check_transfer, open_transfer, transfer_files
from edgekd.errors import DataError
from edgekd.hashing import stable_hash, to_jsonable
from edgekd.store import StageResult

# the transfer stage's, the training stages' (augment), or no effect
NOT_IN_KEY = {"transfer", "transfer_samples", "augment", "workers"}


def data_key(cfg: PipelineConfig) -> dict:
    """The data stage's cache config: the data settings, the seed and, by content, every
    file the dataset reads (`Dataset.files`), so that replacing a file behind the same path
    recomputes the splits and everything trained on them. Builtin datasets read no files."""
    plugin = DATASETS.get(cfg.data.dataset)
    key = {"data": cfg.data.model_dump(mode="json", exclude=NOT_IN_KEY), "seed": cfg.seed}
    files = plugin.files(plugin.parse_options(cfg.data.options))
    if files:
        key["files"] = content_digests(files, f"data ({cfg.data.dataset})", DataError)
    return key


def run_data(cfg: PipelineConfig, folder: Path, key: dict | None = None) -> dict:
    """Load, check, split and store the data; `key` (data_key's) gives the fingerprint of
    the files read, recorded with the split indices."""
    plugin = DATASETS.get(cfg.data.dataset)
    options = plugin.parse_options(cfg.data.options)  # parsed at load: as is
    raw = plugin.load(options)
    check_raw(raw, cfg.data.dataset)
    get_augmentation(raw.augment)  # an unknown name fails here, not in the first epoch
    splits = make_splits(raw, cfg.data.val_fraction, cfg.data.calib_size, cfg.seed)
    _check_declared_input(cfg, splits.input_shape)
    source = {"dataset": cfg.data.dataset, "options": to_jsonable(options)}
    if key is not None and key.get("files"):  # sha256 over every file's path and sha256
        source["fingerprint"] = stable_hash(key["files"])
    layout = splits.save(folder, source)
    prep = raw.preprocessing if isinstance(raw.preprocessing, dict) else {}
    prep = {"text": prep.get("text", raw.preprocessing), **prep}
    warnings = data_warnings(splits)  # the engine prints them, cached or not
    return {
        "dataset": cfg.data.dataset,
        "labels": splits.labels,
        "preprocessing": prep,
        "input_shape": list(splits.input_shape),
        "input": {"shape": list(splits.input_shape), "dtype": "float32"},
        "sizes": {k: int(len(v)) for k, v in splits.y.items()},
        "augment": splits.augment,
        "teacher_input_shape": list(splits.teacher_view().input_shape),
        "teacher_view": splits.x_teacher is not None,  # cross-modal: teachers read xt_*
        "source": layout,  # split indices over it, stored or reopened (edgekd.data.splits)
        "test_class_counts": np.bincount(splits.y["test"], minlength=splits.num_classes).tolist(),
        "warnings": warnings,
    }


def _check_declared_input(cfg: PipelineConfig, shape: tuple) -> None:
    declared = cfg.data.input
    if declared is not None and tuple(declared.shape) != tuple(shape):
        raise DataError(
            f"data.input.shape is {list(declared.shape)} but the data's samples have shape "
            f"{list(shape)}. Fix data.input, or the dataset's options (resize, crop, "
            "channels) so that they agree."
        )


def load_splits(res: StageResult, workers: int | str = "auto") -> Splits:
    return Splits.load(res.path, res.info, workers)


def transfer_key(cfg: PipelineConfig) -> dict:
    """The transfer stage's cache config: how the inputs are made or read (and, for the
    user's files, their content), and the dataset options that preprocess them."""
    d = cfg.data
    key = {
        "data": d.model_dump(mode="json", exclude={"augment", "workers"}),
        "seed": cfg.seed,
    }
    files = transfer_files(d.transfer) if d.transfer is not None else []
    if files:
        key["files"] = content_digests(files, "data.transfer", DataError)
    return key


def run_transfer(cfg: PipelineConfig, splits: Splits, folder: Path) -> dict:
    """Generate (`data.transfer_samples`) or open (`data.transfer`) the unlabeled inputs,
    check they fit the data's samples, and store generated ones."""
    from edgekd.data.npzfile import write_npz

    plugin = DATASETS.get(cfg.data.dataset)
    options = plugin.parse_options(cfg.data.options)
    if cfg.data.transfer_samples:
        x = plugin.transfer(options, cfg.data.transfer_samples, cfg.seed)
        check_transfer(x, splits.input_shape, "data.transfer_samples")
        write_npz(folder / "transfer.npz", {"x": np.ascontiguousarray(x, dtype=np.float32)})
        info, count = {"kind": "generated", "stored": True}, len(x)
    else:
        src = open_transfer(plugin, options, cfg.data.transfer)
        check_transfer(src, splits.input_shape, "data.transfer")
        info, count = {"kind": "files", "stored": False}, len(src)
    return info | {"count": count, "input_shape": list(splits.input_shape)}


def load_transfer(res: StageResult, cfg: PipelineConfig) -> Source:
    """The transfer inputs a transfer stage recorded: stored ones memory-mapped, the user's
    files reopened (and checked to be as many as the stage saw)."""
    from edgekd.data.npzfile import map_npz
    from edgekd.data.source import ArraySource

    if res.info["stored"]:
        return ArraySource(map_npz(res.path / "transfer.npz")["x"])
    plugin = DATASETS.get(cfg.data.dataset)
    src = open_transfer(plugin, plugin.parse_options(cfg.data.options), cfg.data.transfer)
    if len(src) != res.info["count"]:
        raise DataError(
            f"data.transfer now holds {len(src)} inputs; the transfer stage saw "
            f"{res.info['count']}. The files changed during the run: run again."
        )
    return src
