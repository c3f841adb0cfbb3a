"""ONNX Runtime, CPU execution provider."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from edgekd.backends import (
    BACKENDS,
    CompileContext,
    check_precision,
    default_threads,
    int8_reduce_range,
    missing_packages,
)
from edgekd.config.schema import TargetConfig
from edgekd.errors import ArtifactError, RuntimeMissingError

LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    graph_optimization_level: Literal["disable", "basic", "extended", "all"] = "all"
    execution_mode: Literal["sequential", "parallel"] = "sequential"
    inter_op_threads: int = 1
    int8_mode: Literal["auto", "static", "dynamic"] = "auto"
    reduce_range: Literal["auto", "on", "off"] = "auto"


class OrtRunner:
    def __init__(self, path: Path, target: TargetConfig, options: Options):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = target.threads or default_threads()
        so.inter_op_num_threads = options.inter_op_threads
        so.graph_optimization_level = getattr(
            ort.GraphOptimizationLevel, LEVELS[options.graph_optimization_level]
        )
        so.execution_mode = (
            ort.ExecutionMode.ORT_PARALLEL
            if options.execution_mode == "parallel"
            else ort.ExecutionMode.ORT_SEQUENTIAL
        )
        try:
            self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types
            raise ArtifactError(
                f"ONNX Runtime cannot load '{path}': {str(exc).splitlines()[0]}. The file is "
                "corrupt or not an ONNX model; rebuild it with `edgekd run`."
            ) from None
        self.input = self.session.get_inputs()[0].name
        self.threads = so.intra_op_num_threads

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: x})[0]

    def describe(self) -> dict:
        return {"providers": self.session.get_providers(), "intra_op_threads": self.threads}


def reduce_range_decision(options: Options) -> tuple[bool, str]:
    if options.reduce_range != "auto":
        return options.reduce_range == "on", f"reduce_range: {options.reduce_range} in target"
    return int8_reduce_range()


def compile_onnx(
    onnx_path: Path, precision: str, calib: np.ndarray, out: Path, options: Options
) -> dict:
    """fp32 copy, fp16 conversion, or int8 (static QDQ or dynamic) of `onnx_path` into `out`."""
    from edgekd.backends import ortquant

    if precision == "fp32":
        shutil.copyfile(onnx_path, out)
        return {"precision": precision}
    if precision == "fp16":
        return {"precision": precision, "quantization": ortquant.convert_fp16(onnx_path, out)}
    reduce, why = reduce_range_decision(options)
    mode, mode_why = ortquant.choose_int8_mode(onnx_path, options.int8_mode)
    if mode == "static":
        quant = ortquant.quantize_static(onnx_path, out, calib, reduce)
    else:
        quant = ortquant.quantize_dynamic(onnx_path, out, reduce)
    quant.update(mode=mode, mode_reason=mode_why, reduce_range=reduce, reduce_range_reason=why)
    return {"precision": precision, "quantization": quant}


@BACKENDS.register("onnxruntime")
class OnnxRuntimeBackend:
    Options = Options
    description = "ONNX Runtime CPU execution provider (.onnx)"
    packages = ["onnxruntime"]
    artifact = "model.onnx"

    def __init__(self, target: TargetConfig):
        self.target = target
        self.options = self.Options.model_validate(target.runtime_options)

    def available(self) -> str | None:
        if missing_packages("onnxruntime"):
            return "onnxruntime is not installed: pip install onnxruntime"
        return None

    def versions(self) -> dict[str, str]:
        import onnxruntime as ort

        return {"onnxruntime": ort.__version__}

    def compile(
        self,
        onnx_path: Path,
        precision: str,
        calib: np.ndarray,
        out_dir: Path,
        context: CompileContext | None = None,
    ) -> dict:
        check_precision(self.target, ("fp32", "fp16", "int8"), precision)
        info = compile_onnx(onnx_path, precision, calib, out_dir / self.artifact, self.options)
        return info | {"files": [self.artifact]}

    def load(self, artifact_dir: Path) -> OrtRunner:
        if (reason := self.available()) is not None:
            raise RuntimeMissingError(reason)
        return OrtRunner(Path(artifact_dir) / self.artifact, self.target, self.options)
