"""ONNX Runtime, CPU execution provider."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from edgekd.backends import BACKENDS, default_threads, missing_packages
from edgekd.config import TargetConfig
from edgekd.errors import ArtifactError, ConfigError, RuntimeMissingError

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


@BACKENDS.register("onnxruntime")
class OnnxRuntimeBackend:
    Options = Options
    description = "ONNX Runtime CPU execution provider (.onnx)"
    packages = ["onnxruntime"]
    artifact = "model.onnx"

    def __init__(self, target: TargetConfig):
        self.target = target
        self.options = Options.model_validate(target.runtime_options)

    def available(self) -> str | None:
        if missing_packages("onnxruntime"):
            return "onnxruntime is not installed: pip install onnxruntime"
        return None

    def versions(self) -> dict[str, str]:
        import onnxruntime as ort

        return {"onnxruntime": ort.__version__}

    def compile(self, onnx_path: Path, precision: str, calib: np.ndarray, out_dir: Path) -> dict:
        if precision != "fp32":
            raise ConfigError(
                f"target '{self.target.name}': precision '{precision}' is not supported by the "
                "onnxruntime backend yet; use fp32."
            )
        shutil.copyfile(onnx_path, out_dir / self.artifact)
        return {"precision": precision, "files": [self.artifact]}

    def load(self, artifact_dir: Path) -> OrtRunner:
        if (reason := self.available()) is not None:
            raise RuntimeMissingError(reason)
        return OrtRunner(Path(artifact_dir) / self.artifact, self.target, self.options)
