"""The export stage: the trained model to ONNX, checked against PyTorch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from torch import nn

from edgekd.config.schema import ExportConfig
from edgekd.data import Splits
from edgekd.export.onnx import check_export, export_onnx


def run_export(
    model: nn.Module, splits: Splits, cfg: ExportConfig, metadata: dict, folder: Path
) -> dict:
    path = folder / "model.onnx"
    sample = np.array(splits.x["test"][: cfg.check_samples], dtype=np.float32)  # writable
    export_onnx(model, sample, path, cfg, metadata)
    check = check_export(model, path, sample, cfg)
    return {"check": check, "opset": written_opset(path), "bytes": os.path.getsize(path)}


def written_opset(path: Path) -> int:
    """The default-domain opset the file declares: what the exporter wrote, not what was
    asked for (an exporter may write another one)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
