"""OpenVINO on the CPU: IR (.xml/.bin) converted from the ONNX file; int8 through NNCF.

int8 is post-training quantization with `nncf.quantize` on the calibration split, or, with
`int8_mode: accuracy_control`, `nncf.quantize_with_accuracy_control`, which reverts the
layers that cost the most accuracy on the validation split until the drop is within
`max_drop` (by default derived from the pipeline's accuracy gate).
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgekd.backends import (
    BACKENDS,
    CompileContext,
    check_precision,
    default_threads,
    missing_packages,
    package_versions,
)
from edgekd.config.schema import TargetConfig
from edgekd.errors import ArtifactError, RuntimeMissingError


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    int8_mode: Literal["plain", "accuracy_control"] = "plain"
    max_drop: float | None = Field(None, gt=0, lt=1)  # relative; None: 1 - accuracy_gate
    preset: Literal["performance", "mixed"] = "performance"
    performance_hint: Literal["LATENCY", "THROUGHPUT"] = "LATENCY"
    # f32 keeps the CPU plugin from running "fp32" layers in bf16 on AMX/AVX512-BF16 CPUs
    inference_precision: Literal["f32", "bf16", "auto"] = "f32"


def _batches(x: np.ndarray, batch: int = 1) -> list[np.ndarray]:
    return [np.ascontiguousarray(x[i : i + batch]) for i in range(0, len(x), batch)]


def quantize(model, calib: np.ndarray, options: Options, context: CompileContext | None):
    import nncf

    preset = getattr(nncf.QuantizationPreset, options.preset.upper())
    calib_ds = nncf.Dataset(_batches(calib))
    if options.int8_mode == "plain":
        q = nncf.quantize(model, calib_ds, preset=preset, subset_size=len(calib))
        return q, {"method": "nncf.quantize (post-training, calibration split)"}
    if context is None or context.val is None or len(context.val[0]) == 0:
        raise ArtifactError(
            "OpenVINO accuracy-controlled int8 needs a validation split; set data.val_fraction "
            "> 0 in the pipeline or use runtime_options.int8_mode: plain."
        )
    max_drop = options.max_drop or round(1 - context.accuracy_gate, 6)
    xv, yv = context.val
    val_ds = nncf.Dataset(list(zip(_batches(xv, 64), _batches(yv, 64))), lambda item: item[0])

    def validate(compiled, items) -> float:
        correct = total = 0
        for xb, yb in items:
            correct += int((compiled(xb)[0].argmax(1) == yb).sum())
            total += len(yb)
        return correct / max(total, 1)

    q = nncf.quantize_with_accuracy_control(
        model,
        calib_ds,
        val_ds,
        validate,
        max_drop=max_drop,
        drop_type=nncf.DropType.RELATIVE,
        preset=preset,
        subset_size=len(calib),
    )
    return q, {
        "method": "nncf.quantize_with_accuracy_control",
        "max_drop_relative": max_drop,
        "val_samples": int(len(xv)),
    }


def quantized_layers(model) -> dict:
    """How many FakeQuantize nodes survived: accuracy control may revert every one of them."""
    count = sum(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
    out = {"fake_quantize_nodes": int(count)}
    if count == 0:
        out["note"] = "every quantized layer was reverted: this 'int8' artifact runs in fp32"
    return out


class OvRunner:
    def __init__(self, xml: Path, target: TargetConfig, options: Options):
        import openvino as ov

        self.threads = target.threads or default_threads()
        config = {
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": options.performance_hint,
        }
        if options.inference_precision != "auto":
            config["INFERENCE_PRECISION_HINT"] = options.inference_precision
        try:
            self.compiled = ov.Core().compile_model(str(xml), "CPU", config)
        except Exception as exc:  # openvino raises RuntimeError subclasses with long texts
            raise ArtifactError(
                f"OpenVINO cannot load '{xml}': {str(exc).splitlines()[0][:200]}. Rebuild it "
                "with `edgekd run`."
            ) from None
        self.request = self.compiled.create_infer_request()
        self.tensor = ov.Tensor

    def __call__(self, x: np.ndarray) -> np.ndarray:
        # a zero-copy input tensor and a bare infer(): the lowest per-call overhead measured
        self.request.set_input_tensor(0, self.tensor(np.ascontiguousarray(x), shared_memory=True))
        self.request.infer()
        return self.request.get_output_tensor(0).data.copy()

    def describe(self) -> dict:
        precisions: collections.Counter = collections.Counter()
        for op in self.compiled.get_runtime_model().get_ordered_ops():
            rt = op.get_rt_info()
            kind = rt["layerType"].astype(str) if "layerType" in rt else "Parameter"
            if kind not in ("Parameter", "Result", "Input", "Output"):
                precisions[rt["runtimePrecision"].astype(str)] += 1
        return {
            "device": "CPU",
            "intra_op_threads": self.threads,
            "runtime_precision_layers": dict(precisions),
        }


@BACKENDS.register("openvino")
class OpenVinoBackend:
    Options = Options
    description = "OpenVINO CPU plugin (.xml/.bin IR; int8 via NNCF)"
    packages = ["openvino", "nncf"]
    artifact = "model.xml"

    def __init__(self, target: TargetConfig):
        self.target = target
        self.options = Options.model_validate(target.runtime_options)

    def available(self) -> str | None:
        if missing := missing_packages("openvino", "nncf"):
            return f"{' and '.join(missing)} not installed: pip install openvino nncf"
        return None

    def versions(self) -> dict[str, str]:
        return package_versions("openvino", "nncf")

    def compile(
        self,
        onnx_path: Path,
        precision: str,
        calib: np.ndarray,
        out_dir: Path,
        context: CompileContext | None = None,
    ) -> dict:
        import openvino as ov

        check_precision(self.target, ("fp32", "int8"), precision)
        model = ov.convert_model(str(onnx_path))
        info: dict = {"precision": precision}
        if precision == "int8":
            with _quiet():
                model, info["quantization"] = quantize(model, calib, self.options, context)
            info["quantization"].update(quantized_layers(model))
        ov.save_model(model, str(Path(out_dir) / self.artifact), compress_to_fp16=False)
        return info | {"files": [self.artifact, "model.bin"]}

    def load(self, artifact_dir: Path) -> OvRunner:
        if (reason := self.available()) is not None:
            raise RuntimeMissingError(reason)
        return OvRunner(Path(artifact_dir) / self.artifact, self.target, self.options)


@contextlib.contextmanager
def _quiet():
    """NNCF logs at INFO and draws progress bars; keep the CLI's own output readable."""
    log = logging.getLogger("nncf")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        log.setLevel(level)
