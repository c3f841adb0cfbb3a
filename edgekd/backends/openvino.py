"""OpenVINO on the CPU: IR (.xml/.bin) converted from the ONNX file; bf16 execution; int8 via NNCF.

bf16 keeps the fp32 IR and runs it with INFERENCE_PRECISION_HINT=bf16 (the CPU plugin's own
default on AVX-512 BF16 / AMX CPUs); the IR carries that choice in its rt_info
(`edgekd/inference_precision`), so whoever loads the artifact runs what was measured. It is
offered only where the CPU flags say bf16 is native (decided at compile and again at load).
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

from edgekd.backends import BACKENDS
from edgekd.backends.base import (
    Backend,
    CompileContext,
    Feed,
    bf16_support,
    default_threads,
    local_threads,
    thread_ladder,
    unique,
)
from edgekd.backends.ov_shared import StaticShapes, cpu_config, property_text
from edgekd.backends.sigstack import kept_signal_stack
from edgekd.errors import ArtifactError, RuntimeMissingError
from edgekd.records import LayerProfile, RuntimeSettings


def tuned(threads: int, hint: str, streams: int | None) -> RuntimeSettings:
    """One candidate: the compile options tuning varies, by their Options names."""
    options = {"performance_hint": hint, "num_streams": streams}
    return RuntimeSettings(threads=threads, options=options)


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    int8_mode: Literal["plain", "accuracy_control"] = "plain"
    max_drop: float | None = Field(None, gt=0, lt=1)  # relative; None: 1 - accuracy_gate
    preset: Literal["performance", "mixed"] = "performance"
    performance_hint: Literal["LATENCY", "THROUGHPUT"] = "LATENCY"
    num_streams: int | None = Field(None, ge=1)  # None: what the performance hint picks
    # f32 keeps the CPU plugin from running "fp32" layers in bf16 on AMX/AVX512-BF16 CPUs;
    # the bf16 precision (its own artifact) is how a target asks for bf16 execution
    inference_precision: Literal["f32", "bf16", "auto"] = "f32"


RT_PRECISION = ["edgekd", "inference_precision"]  # the IR's rt_info key for bf16 artifacts


def artifact_precision(model) -> str:
    """'bf16' for an IR compiled as bf16 (rt_info), else '' (the target's setting applies)."""
    return model.get_rt_info(RT_PRECISION).astype(str) if model.has_rt_info(RT_PRECISION) else ""


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
    """The CPU plugin with the target's settings; `perf_count` turns on per-layer counters."""

    def __init__(self, xml: Path, threads: int, options: Options, perf_count: bool = False):
        import openvino as ov

        self.threads = threads
        core = ov.Core()
        try:
            model = core.read_model(str(xml))
            self.precision = artifact_precision(model)
            config = plugin_config(threads, options, perf_count, self.precision)
            with kept_signal_stack():  # the plugin swaps this thread's alternate stack
                self.compiled = core.compile_model(model, "CPU", config)
        except RuntimeMissingError:
            raise  # a bf16 artifact on a CPU without bf16: not a broken file
        except Exception as exc:  # openvino raises RuntimeError subclasses with long texts
            raise ArtifactError(
                f"OpenVINO cannot load '{xml}': {str(exc).splitlines()[0][:200]}. The file is "
                "corrupt or not an OpenVINO IR (.xml with its .bin beside it); rebuild it "
                "with `edgekd run`."
            ) from None
        self.request = self.compiled.create_infer_request()  # the dynamic model's
        self.tensor = ov.Tensor
        self.index = {n: i for i, inp in enumerate(model.inputs) for n in inp.get_names()}
        self.n_inputs = len(model.inputs)

        def compile_static(m):
            with kept_signal_stack():
                return core.compile_model(m, "CPU", config)

        self.shapes = StaticShapes(model, compile_static, self.request)
        self.bound: tuple = (None, ())  # (request, the arrays it holds): bound once per sample

    def __call__(self, x: Feed) -> np.ndarray:
        # Each fed shape runs on a copy compiled static (ov_shared). The input is shared, not
        # copied, and bound once per sample as benchmark_app binds it: feeding the same array
        # again skips wrapping it (~5 us in Python). infer() without arguments skips building
        # a result dict (~40 us per call in Python), which would swamp small models' latency.
        arrays = self.in_order(x) if isinstance(x, dict) else [x]
        request = self.shapes.request(tuple(a.shape for a in arrays))
        held = self.bound[1]
        if (
            self.bound[0] is not request
            or len(held) != len(arrays)
            or any(a is not b for a, b in zip(arrays, held, strict=False))
        ):
            kept = []
            for i, a in enumerate(arrays):
                c = np.ascontiguousarray(a)
                request.set_input_tensor(i, self.tensor(c, shared_memory=True))
                kept.append(a if c is a else None)  # a copy is not tracked: bind it again
            self.bound = (request, kept)
        self.request = request  # the one whose profiling counters describe the last run
        request.infer()
        return request.get_output_tensor(0).data.copy()

    def in_order(self, feed: dict) -> list[np.ndarray]:
        arrays: list = [None] * self.n_inputs
        for name, a in feed.items():
            if name not in self.index:
                raise ArtifactError(
                    f"the model has no input '{name}' (its inputs: {sorted(self.index)}); "
                    "feed the input names the bundle's manifest lists."
                )
            arrays[self.index[name]] = a
        if any(a is None for a in arrays):
            raise ArtifactError(f"every input must be fed: {sorted(self.index)}")
        return arrays

    def describe(self) -> dict:
        precisions: collections.Counter = collections.Counter()
        compiled = self.request.get_compiled_model()  # the last run's (static) model
        for op in compiled.get_runtime_model().get_ordered_ops():
            rt = op.get_rt_info()
            kind = rt["layerType"].astype(str) if "layerType" in rt else "Parameter"
            if kind not in ("Parameter", "Result", "Input", "Output"):
                precisions[rt["runtimePrecision"].astype(str)] += 1
        return {
            "device": "CPU",
            "intra_op_threads": self.threads,
            "runtime_precision_layers": dict(precisions),
            "static_shapes": [[list(s) for s in k] for k in self.shapes.requests],
            **self.properties(),
        }

    def properties(self) -> dict[str, str]:
        """The settings the plugin actually applied, as benchmark_app prints them."""
        props = {}
        for key in ("PERFORMANCE_HINT", "NUM_STREAMS", "INFERENCE_PRECISION_HINT"):
            try:
                props[key] = property_text(self.compiled.get_property(key))
            except Exception:  # a property this plugin version does not expose
                continue
        return props


def plugin_config(
    threads: int, options: Options, perf_count: bool = False, artifact: str = ""
) -> dict:
    """The CPU plugin's settings; a bf16 artifact runs in bf16 where the CPU has it."""
    precision = options.inference_precision
    if artifact == "bf16":
        ok, why = bf16_support()
        if not ok:
            raise RuntimeMissingError(f"this bf16 artifact needs a bf16 CPU here: {why}")
        precision = "bf16"
    return cpu_config(threads, options.performance_hint, options.num_streams, precision, perf_count)


def node_times(runner: OvRunner, sample: Feed, runs: int) -> dict[tuple[str, str], float]:
    """PERF_COUNT=YES and InferRequest.get_profiling_info() after each run."""
    from edgekd.profile.layers import per_run_totals

    runner(sample)  # warm-up
    events = []
    for i in range(runs):
        runner(sample)
        for info in runner.request.get_profiling_info():
            if str(info.status).endswith("EXECUTED") and "NOT" not in str(info.status):
                key = (info.node_name, f"{info.node_type} ({info.exec_type})")
                events.append((i, key, info.real_time.total_seconds() * 1e6))
    return per_run_totals(runs, events)


@BACKENDS.register("openvino")
class OpenVinoBackend(Backend):
    Options = Options
    description = "OpenVINO CPU plugin (.xml/.bin IR; int8 via NNCF)"
    packages = ("openvino", "nncf")
    extra = "openvino"
    wheel_platforms = (
        "linux-x86_64",
        "linux-aarch64",
        "darwin-arm64",
        "darwin-x86_64",
        "win32-AMD64",
    )
    artifact = "model.xml"
    precisions = ("fp32", "bf16", "int8")
    int8_path = "nncf-openvino"  # QAT-KD and mixed precision (edgekd.quant)
    examples = ({}, {"num_streams": 1, "inference_precision": "auto"})

    def precision_unsupported(self, precision: str) -> str:
        """bf16 only where this CPU has it (a remote host decides when it loads the IR)."""
        if precision != "bf16" or self.target.host != "local":
            return ""
        ok, why = bf16_support()
        return "" if ok else f"bf16 not offered on this machine: {why}"

    def compile(
        self,
        onnx_path: Path,
        precision: str,
        calib: np.ndarray,
        out_dir: Path,
        context: CompileContext | None = None,
    ) -> dict:
        with kept_signal_stack():  # NNCF's compiled models leave a stale one (see sigstack)
            return self._compile(onnx_path, precision, calib, out_dir, context)

    def _compile(self, onnx_path: Path, precision: str, calib, out_dir: Path, context) -> dict:
        import openvino as ov

        self.check_precision(precision)
        model = ov.convert_model(str(onnx_path))
        info: dict = {"precision": precision}
        if precision == "int8":
            with _quiet():
                model, info["quantization"] = quantize(model, calib, self.options, context)
            info["quantization"].update(quantized_layers(model))
        if precision == "bf16":  # the fp32 IR, run in bf16: say so inside the artifact
            model.set_rt_info("bf16", RT_PRECISION)
            ok, why = bf16_support()
            info["execution"] = {"inference_precision": "bf16", "cpu_here": why, "native": ok}
        ov.save_model(model, str(Path(out_dir) / self.artifact), compress_to_fp16=False)
        return info | {"files": [self.artifact, "model.bin"]}

    def default_settings(self) -> RuntimeSettings:
        """The target's own hint and streams, threads capped at the CPUs here."""
        o = self.options
        return tuned(local_threads(self.target), o.performance_hint, o.num_streams)

    def tuning_space(self, precision: str) -> list[RuntimeSettings]:
        """Threads up to the ceiling here x the CPU plugin's LATENCY / THROUGHPUT hints (the
        hint picks the streams); the target's own settings first."""
        ladder = thread_ladder(local_threads(self.target))
        grid = [tuned(t, hint, None) for t in ladder for hint in ("LATENCY", "THROUGHPUT")]
        return unique([self.default_settings(), *grid])

    def load(self, artifact_dir: Path, perf_count: bool = False) -> OvRunner:
        self.require_runtime()
        threads = self.target.threads or default_threads()
        return OvRunner(Path(artifact_dir) / self.artifact, threads, self.options, perf_count)

    def layer_profile(self, artifact_dir: Path, sample: Feed, runs: int) -> LayerProfile:
        from edgekd.profile.layers import summarize_nodes

        per_node = node_times(self.load(artifact_dir, perf_count=True), sample, runs)
        return summarize_nodes(per_node, runs, "openvino PERF_COUNT")

    def placement_summary(self, compile_info: dict, runtime_placement: dict) -> str:
        """The precisions the CPU plugin really runs layers in, and any int8 caveat."""
        layers = runtime_placement.get("runtime_precision_layers")
        if not layers:
            return super().placement_summary(compile_info, runtime_placement)
        text = "layers " + ", ".join(f"{k}:{v}" for k, v in sorted(layers.items()))
        note = (compile_info.get("quantization") or {}).get("note")
        return f"{text} ({note})" if note else text


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
