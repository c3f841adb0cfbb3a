"""ONNX Runtime, CPU execution provider; its per-layer profile comes from ORT's own profiler."""

from __future__ import annotations

import bisect
import json
import shutil
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from edgekd.backends import BACKENDS
from edgekd.backends.base import (
    Backend,
    CompileContext,
    Feed,
    default_threads,
    int8_reduce_range,
    local_threads,
    thread_ladder,
    unique,
)
from edgekd.errors import ArtifactError
from edgekd.fsutil import temp_dir
from edgekd.records import LayerProfile, RuntimeSettings

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
    # intra-op threads spin-wait for work between parallel sections: faster on an idle CPU,
    # CPU time burnt (and sometimes slower) on a shared one; ORT's default is on
    allow_spinning: bool = True


TUNED_LEVELS = ("all", "extended")  # "basic" drops the fusions int8 QDQ graphs depend on


def tuned(threads: int, level: str, spin: bool) -> RuntimeSettings:
    """One candidate: the session options tuning varies, by their Options names."""
    options = {"graph_optimization_level": level, "allow_spinning": spin}
    return RuntimeSettings(threads=threads, options=options)


def session_options(threads: int, options: Options):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = options.inter_op_threads
    so.graph_optimization_level = getattr(
        ort.GraphOptimizationLevel, LEVELS[options.graph_optimization_level]
    )
    so.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL
        if options.execution_mode == "parallel"
        else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    so.add_session_config_entry(SPINNING, "1" if options.allow_spinning else "0")
    return so


SPINNING = "session.intra_op.allow_spinning"


def open_session(path: Path, so):
    import onnxruntime as ort

    try:
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types
        raise ArtifactError(
            f"ONNX Runtime cannot load '{path}': {str(exc).splitlines()[0]}. The file is "
            "corrupt or not an ONNX model; rebuild it with `edgekd run`."
        ) from None


class OrtRunner:
    def __init__(self, path: Path, threads: int, options: Options):
        self.session = open_session(path, session_options(threads, options))
        self.input = self.session.get_inputs()[0].name
        self.threads = threads

    def __call__(self, x: Feed) -> np.ndarray:
        return self.session.run(None, x if isinstance(x, dict) else {self.input: x})[0]

    def describe(self) -> dict:
        so = self.session.get_session_options()
        return {
            "providers": self.session.get_providers(),
            "intra_op_threads": self.threads,
            "graph_optimization_level": str(so.graph_optimization_level).rsplit(".", 1)[-1],
            "allow_spinning": so.get_session_config_entry(SPINNING) != "0",
        }


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


def ort_layer_profile(
    path: Path, threads: int, options: Options, sample: Feed, runs: int
) -> LayerProfile:
    """SessionOptions.enable_profiling: a Chrome-trace JSON with one `<node>_kernel_time`
    event per node per run, in a session of its own (profiling slows every call)."""
    from edgekd.profile.layers import summarize_nodes

    with temp_dir("ortprof") as tmp:  # named for its process: removed if that is killed
        so = session_options(threads, options)
        so.enable_profiling = True
        so.profile_file_prefix = str(tmp / "ort")
        sess = open_session(path, so)
        feed = sample if isinstance(sample, dict) else {sess.get_inputs()[0].name: sample}
        sess.run(None, feed)  # warm-up, dropped below by keeping only the last runs' events
        for _ in range(runs):
            sess.run(None, feed)
        trace = json.loads(Path(sess.end_profiling()).read_text())
    return summarize_nodes(parse_ort_trace(trace, runs), runs, "onnxruntime profiler")


def parse_ort_trace(trace: list[dict], runs: int) -> dict[tuple[str, str], float]:
    """Kernel time (us) per node over the last `runs` model runs of an ORT trace, as
    runs x the per-run median: one preempted run on a shared CPU does not skew a node."""
    from edgekd.profile.layers import per_run_totals

    starts = sorted(
        e["ts"] for e in trace if e.get("cat") == "Session" and e.get("name") == "model_run"
    )[-runs:]
    events = []
    for e in trace:
        name = e.get("name", "")
        if e.get("cat") != "Node" or not name.endswith("_kernel_time"):
            continue
        i = bisect.bisect_right(starts, e.get("ts", 0)) - 1
        if i >= 0:
            key = (name.removesuffix("_kernel_time"), e.get("args", {}).get("op_name", "?"))
            events.append((i, key, float(e.get("dur", 0))))
    return per_run_totals(len(starts), events)


@BACKENDS.register("onnxruntime")
class OnnxRuntimeBackend(Backend):
    Options = Options
    description = "ONNX Runtime CPU execution provider (.onnx)"
    packages = ("onnxruntime",)
    artifact = "model.onnx"
    precisions = ("fp32", "fp16", "int8")
    int8_path = "qdq-onnx"  # QAT-KD and mixed precision (edgekd.quant)
    examples = ({}, {"graph_optimization_level": "basic", "execution_mode": "parallel"})

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
        self.check_precision(precision)
        info = compile_onnx(onnx_path, precision, calib, out_dir / self.artifact, self.options)
        return info | {"files": [self.artifact]}

    def default_settings(self) -> RuntimeSettings:
        """The target's own session settings, threads capped at the CPUs here."""
        o = self.options
        return tuned(local_threads(self.target), o.graph_optimization_level, o.allow_spinning)

    def tuning_space(self, precision: str) -> list[RuntimeSettings]:
        """Threads up to the ceiling here x graph optimisation level x thread spinning (which
        only a pool of two or more threads has); the target's own settings first."""
        o = self.options
        levels = dict.fromkeys((o.graph_optimization_level, *TUNED_LEVELS))
        grid = [
            tuned(t, level, spin)
            for t in thread_ladder(local_threads(self.target))
            for level in levels
            for spin in ((o.allow_spinning,) if t == 1 else (True, False))
        ]
        return unique([self.default_settings(), *grid])

    def session_settings(self) -> tuple[int, Options]:
        """Threads and session options that loading and profiling share."""
        return self.target.threads or default_threads(), self.options

    def load(self, artifact_dir: Path) -> OrtRunner:
        self.require_runtime()
        return OrtRunner(Path(artifact_dir) / self.artifact, *self.session_settings())

    def layer_profile(self, artifact_dir: Path, sample: Feed, runs: int) -> LayerProfile:
        threads, options = self.session_settings()
        return ort_layer_profile(Path(artifact_dir) / self.artifact, threads, options, sample, runs)

    def placement_summary(self, compile_info: dict, runtime_placement: dict) -> str:
        quant = compile_info.get("quantization") or {}
        if "mode" in quant:
            return f"{quant['mode']} int8, reduce_range={quant.get('reduce_range')}"
        return super().placement_summary(compile_info, runtime_placement)
