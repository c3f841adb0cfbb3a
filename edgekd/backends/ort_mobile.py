"""ONNX Runtime Mobile: the .ort format plus the operator list for a reduced (minimal) build.

The .ort file runs in the full ONNX Runtime here and in a minimal ORT build on the phone;
`required_operators.config` is the `--include_ops_by_config` input for that minimal build.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from edgekd.backends import BACKENDS
from edgekd.backends.base import CompileContext, local_threads
from edgekd.backends.onnxruntime import OnnxRuntimeBackend, compile_onnx
from edgekd.backends.onnxruntime import Options as OrtOptions
from edgekd.errors import ArtifactError
from edgekd.records import RuntimeSettings

CONFIG = "required_operators.config"


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    target_platform: Literal["arm", "amd64"] = "arm"
    optimization_style: Literal["Fixed", "Runtime"] = "Fixed"
    int8_mode: Literal["auto", "static", "dynamic"] = "auto"
    reduce_range: Literal["auto", "on", "off"] = "off"


def convert_to_ort(onnx_path: Path, out_dir: Path, options: Options) -> None:
    """onnxruntime.tools.convert_onnx_models_to_ort, its chatter captured, outputs renamed."""
    from onnxruntime.tools.convert_onnx_models_to_ort import (
        OptimizationStyle,
        convert_onnx_models_to_ort,
    )

    logging.getLogger("ort_format_model.utils").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()) as log:
        convert_onnx_models_to_ort(
            Path(onnx_path),
            output_dir=Path(tmp),
            optimization_styles=[OptimizationStyle[options.optimization_style]],
            target_platform=options.target_platform,
        )
        orts, configs = list(Path(tmp).glob("*.ort")), list(Path(tmp).glob("*.config"))
        if len(orts) != 1 or len(configs) != 1:
            raise ArtifactError(
                f"ONNX Runtime's .ort conversion of '{onnx_path}' did not produce one .ort file "
                f"and one operator config: {log.getvalue()[-400:]}"
            )
        shutil.move(orts[0], out_dir / "model.ort")
        shutil.move(configs[0], out_dir / CONFIG)


def required_ops(config: Path) -> list[str]:
    """`domain;opset;Op1,Op2` lines -> ['ai.onnx:18:Conv', ...]."""
    ops = []
    for line in config.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            domain, opset, names = line.split(";", 2)
            ops += [f"{domain}:{opset}:{n}" for n in names.split(",") if n]
    return ops


@BACKENDS.register("ort-mobile")
class OrtMobileBackend(OnnxRuntimeBackend):
    """Same runtime as `onnxruntime` (status, versions, runner, layer profile, placement);
    its own artifact and build."""

    Options = Options
    description = "ONNX Runtime Mobile (.ort + required-operators config for a minimal build)"
    artifact = "model.ort"
    predict_template = "onnxruntime"
    examples = ({}, {"target_platform": "amd64", "int8_mode": "static"})

    def compile(
        self,
        onnx_path: Path,
        precision: str,
        calib: np.ndarray,
        out_dir: Path,
        context: CompileContext | None = None,
    ) -> dict:
        self.check_precision(precision)
        ort_opts = OrtOptions(
            int8_mode=self.options.int8_mode, reduce_range=self.options.reduce_range
        )
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "model.onnx"
            info = compile_onnx(onnx_path, precision, calib, src, ort_opts)
            convert_to_ort(src, Path(out_dir), self.options)
        info["required_operators"] = required_ops(Path(out_dir) / CONFIG)
        info["target_platform"] = self.options.target_platform
        return info | {"files": [self.artifact, CONFIG]}

    def default_settings(self) -> RuntimeSettings:
        """Threads only: the .ort was optimised at conversion, and its options are the
        phone's build settings, not session settings."""
        return RuntimeSettings(threads=local_threads(self.target))

    def tuning_space(self, precision: str) -> list[RuntimeSettings]:
        return self.thread_space()

    def session_settings(self) -> tuple[int, OrtOptions]:
        """The phone's settings do not apply here: ORT defaults, threads capped at this CPU."""
        return local_threads(self.target), OrtOptions()
