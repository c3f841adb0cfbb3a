"""Per-layer profiles from each runtime's own counters: the ten slowest ops of an artifact.

ONNX Runtime: SessionOptions.enable_profiling writes a Chrome-trace JSON with one
`<node>_kernel_time` event per node per run. OpenVINO: PERF_COUNT=YES and
InferRequest.get_profiling_info() after each run. Profiling adds overhead, so it runs in its
own session after the latency measurement and its times are only compared with each other.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from edgekd.backends import default_threads

TOP_N = 10
ORT_SUFFIXES = (".onnx", ".ort")


def layer_profile(spec: dict, target, sample: np.ndarray, runs: int) -> dict:
    """{"tool", "runs", "total_us", "top": [...]} or {"available": False, "reason"}."""
    path = Path(spec["artifact_dir"]) / spec["artifact"]
    threads = target.threads or default_threads()
    if path.suffix in ORT_SUFFIXES:
        level = target.runtime_options.get("graph_optimization_level", "all")
        per_node = ort_node_times(path, threads, level, sample, runs)
        tool = "onnxruntime profiler"
    elif path.suffix == ".xml":
        per_node = openvino_node_times(path, threads, sample, runs)
        tool = "openvino PERF_COUNT"
    else:
        return {"available": False, "reason": f"no per-layer profiler for {path.suffix} files"}
    return summarize_nodes(per_node, runs, tool)


def summarize_nodes(per_node: dict[tuple[str, str], float], runs: int, tool: str) -> dict:
    """Mean time per run of each (node, op type), the slowest TOP_N with their share."""
    total = sum(per_node.values())
    ranked = sorted(per_node.items(), key=lambda kv: kv[1], reverse=True)[:TOP_N]
    top = [
        {
            "name": name,
            "op_type": op,
            "mean_us": us / runs,
            "share": us / total if total else 0.0,
        }
        for (name, op), us in ranked
    ]
    return {
        "tool": tool,
        "runs": runs,
        "nodes": len(per_node),
        "total_us": total / runs,
        "top": top,
    }


def ort_node_times(
    path: Path, threads: int, level: str, sample: np.ndarray, runs: int
) -> dict[tuple[str, str], float]:
    import onnxruntime as ort

    from edgekd.backends.onnxruntime import LEVELS

    with tempfile.TemporaryDirectory(prefix="edgekd-ortprof-") as tmp:
        so = ort.SessionOptions()
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "ort")
        so.intra_op_num_threads = threads
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[level])
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: sample}
        sess.run(None, feed)  # warm-up, dropped below by skipping the first run's events
        for _ in range(runs):
            sess.run(None, feed)
        trace = json.loads(Path(sess.end_profiling()).read_text())
    return parse_ort_trace(trace, runs)


def parse_ort_trace(trace: list[dict], runs: int) -> dict[tuple[str, str], float]:
    """Sum of kernel time (us) per node over the last `runs` model runs of an ORT trace."""
    model_runs = [e for e in trace if e.get("cat") == "Session" and e.get("name") == "model_run"]
    since = model_runs[-runs]["ts"] if len(model_runs) >= runs else 0
    out: dict[tuple[str, str], float] = defaultdict(float)
    for e in trace:
        name = e.get("name", "")
        if e.get("cat") == "Node" and name.endswith("_kernel_time") and e.get("ts", 0) >= since:
            op = e.get("args", {}).get("op_name", "?")
            out[(name.removesuffix("_kernel_time"), op)] += float(e.get("dur", 0))
    return dict(out)


def openvino_node_times(
    path: Path, threads: int, sample: np.ndarray, runs: int
) -> dict[tuple[str, str], float]:
    from edgekd.profile.ov_runner import OvRunner

    runner = OvRunner(path, threads, perf_count=True)
    runner(sample)  # warm-up
    out: dict[tuple[str, str], float] = defaultdict(float)
    for _ in range(runs):
        runner(sample)
        for info in runner.request.get_profiling_info():
            if str(info.status).endswith("EXECUTED") and "NOT" not in str(info.status):
                us = info.real_time.total_seconds() * 1e6
                out[(info.node_name, f"{info.node_type} ({info.exec_type})")] += us
    return dict(out)
