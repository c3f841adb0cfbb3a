"""Int8 that ships: quantization-aware distillation and accuracy-budgeted mixed precision.

When a student's plain int8 (post-training) artifact loses accuracy, two ways back:
- QAT-KD (`qatkd.py`): fine-tune the student with the runtime's own fake quantization
  against the teacher's soft targets, then export the fake-quantized model for that runtime;
- mixed precision (`mixed.py`): keep the layers most sensitive to int8 in float, fewest first,
  until the artifact keeps the accuracy gate on the validation split.

Each runtime's int8 tooling is an `Int8Path` plugin (one file in `paths/`), named by the
backend's `int8_path`; `recover.py` wires both into the deploy flow. Heavy imports stay
inside the plugins' methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgekd.registry import Plugin, Registry


class NotKeepable(Exception):
    """The runtime cannot build or run the int8 model with these layers kept in float (one
    sentence why); the mixed-precision search skips that layer and tries the next."""


@dataclass(frozen=True)
class Candidate:
    """An int8 model with some layers kept in float: its logits (for the sensitivity search
    on the validation split) and how to write it as the runtime's artifact."""

    logits: Any  # (np.ndarray) -> np.ndarray
    write: Any  # (out_dir: Path) -> compile info {"files", "quantization", ...}


class Int8Path(Plugin):
    """One runtime's int8 tooling, from the trained torch model (and its ONNX export)."""

    library: ClassVar[str] = ""  # the library whose fake quantization QAT trains through
    native_mixed: ClassVar[bool] = False  # the runtime's own accuracy control does `mixed`

    def __init__(self, backend, opset: int = 18):
        self.backend = backend
        self.opset = opset

    def prepare_qat(self, model, calib: np.ndarray):
        """The model with fake quantization inserted and calibrated, ready to train."""
        raise NotImplementedError

    def export_qat(self, prepared, calib: np.ndarray, out_dir: Path) -> dict:
        """Write the trained fake-quantized model as this runtime's int8 artifact."""
        raise NotImplementedError

    def layers(self, model, onnx_path: Path) -> list[str]:
        """The quantizable layers, by the names `candidate` takes."""
        raise NotImplementedError

    def candidate(
        self, model, onnx_path: Path, calib: np.ndarray, keep: list[str], work: Path
    ) -> Candidate:
        """Post-training int8 with the layers in `keep` left in float (scratch files in `work`)."""
        raise NotImplementedError

    def native(self, onnx_path: Path, calib: np.ndarray, out_dir: Path, context) -> dict:
        """The runtime's own accuracy-controlled int8 (where `native_mixed`)."""
        raise NotImplementedError


INT8_PATHS: Registry[type[Int8Path]] = Registry("int8 path", "edgekd.quant.paths")
