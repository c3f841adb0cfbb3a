"""The compile stage: one ONNX file to one target's artifact at one precision."""

from __future__ import annotations

import os
from pathlib import Path

from edgekd.config.schema import TargetConfig
from edgekd.data import Splits


def run_compile(
    backend, onnx_path: Path, precision: str, splits: Splits, folder: Path, context=None
) -> dict:
    """Compile for one precision; calibration data is the calib split, drawn from train."""
    info = backend.compile(onnx_path, precision, splits.x["calib"], folder, context=context)
    info["versions"] = backend.versions()
    info["bytes"] = sum(os.path.getsize(folder / f) for f in info["files"])
    return info


def target_settings(target: TargetConfig) -> dict:
    return target.model_dump(mode="json", exclude={"description", "device"})
