"""Export to one self-contained ONNX file with a dynamic batch; check it against PyTorch.

The check runs the exported file in ONNX Runtime on real test inputs and raises
ExportMismatchError when any output differs beyond `atol + rtol * |torch|`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgekd.config.schema import ExportConfig
from edgekd.errors import ArtifactError, ExportMismatchError

INPUT, OUTPUT = "input", "logits"


def export_onnx(
    model: nn.Module, sample: np.ndarray, path: Path, cfg: ExportConfig, metadata: dict[str, str]
) -> None:
    import onnx

    model = model.eval()
    x = torch.as_tensor(sample[:1])
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            _export(model, x, path, cfg)
    finally:
        quiet.setLevel(level)
    proto = onnx.load(str(path))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _export(model: nn.Module, x: torch.Tensor, path: Path, cfg: ExportConfig) -> None:
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
        opset_version=cfg.opset,
        external_data=False,
        verbose=False,
    )


def check_export(model: nn.Module, path: Path, x: np.ndarray, cfg: ExportConfig) -> dict:
    """Compare ONNX Runtime with PyTorch on `x`; raise if they disagree."""
    import onnxruntime as ort

    x = x[: cfg.check_samples]
    with torch.no_grad():
        ref = model.eval()(torch.as_tensor(x)).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {INPUT: x})[0]
    diff = np.abs(got - ref)
    bound = cfg.atol + cfg.rtol * np.abs(ref)
    result = {
        "samples": int(len(x)),
        "max_abs_diff": float(diff.max()),
        "atol": cfg.atol,
        "rtol": cfg.rtol,
        "argmax_agreement": float((got.argmax(1) == ref.argmax(1)).mean()),
    }
    if (diff > bound).any():
        raise ExportMismatchError(
            f"The exported ONNX model differs from PyTorch on {int((diff > bound).sum())} of "
            f"{diff.size} outputs (max |diff| {result['max_abs_diff']:.3g} > atol {cfg.atol} + "
            f"rtol {cfg.rtol}·|ref|). Check for ops with training-only behaviour or raise the "
            "tolerance in the pipeline's export section if the difference is expected."
        )
    return result


def read_metadata(path: Path) -> dict[str, str]:
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, ValueError, ... for corrupt files
        raise ArtifactError(
            f"'{path}' is not a readable ONNX model ({type(exc).__name__}). Re-export it."
        ) from None
    return {p.key: p.value for p in proto.metadata_props}


def metadata_for(label: str, info: dict, splits_meta: dict, lineage: dict) -> dict[str, str]:
    return {
        "edgekd.model": label,
        "edgekd.architecture": json.dumps({"model": info["model"], "options": info["options"]}),
        "edgekd.input_shape": json.dumps(info["input_shape"]),
        "edgekd.labels": json.dumps(splits_meta["labels"]),
        "edgekd.preprocessing": splits_meta["preprocessing"],
        "edgekd.lineage": json.dumps(lineage),
    }
