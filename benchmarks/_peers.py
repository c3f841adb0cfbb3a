"""Cross-check our latency against a peer tool: OpenVINO's own benchmark_app.

Same IR, same CPU settings on both sides (LATENCY hint, 1 stream, 1 infer request, sync API,
the same thread count, f32 inference precision, f32 input), batch 1; compare the medians.
Ours is edgekd's profiling worker with the openvino backend, its runtime_options set to what
benchmark_app is given (BENCHMARK_APP_OPTIONS). Test and benchmark tooling, not part of edgekd.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from edgekd.errors import EdgeKDError

# The openvino backend's runtime_options that match benchmark_app's latency mode below.
BENCHMARK_APP_OPTIONS = {
    "performance_hint": "LATENCY",
    "num_streams": 1,
    "inference_precision": "f32",
}
MEDIAN = re.compile(r"Median:\s+([0-9.]+)\s*(ms|us)")


def benchmark_app_cmd() -> list[str]:
    """benchmark_app from this interpreter's environment (it ships with the openvino wheel)."""
    script = Path(sys.executable).parent / "benchmark_app"
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "from openvino.tools.benchmark.main import main; main()"]


def run_benchmark_app(xml: Path, threads: int, niter: int, timeout: float = 600) -> dict:
    """benchmark_app's median batch-1 latency (ms) and its own first-inference time."""
    with tempfile.TemporaryDirectory(prefix="edgekd-benchmark-app-") as tmp:
        cfg = Path(tmp) / "config.json"
        props = {
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": "1",
            "INFERENCE_NUM_THREADS": str(threads),
            "INFERENCE_PRECISION_HINT": "f32",
        }
        cfg.write_text(json.dumps({"CPU": props}))
        cmd = benchmark_app_cmd() + [
            "-m", str(xml), "-d", "CPU", "-hint", "latency", "-niter", str(niter),
            "-nireq", "1", "-api", "sync", "-ip", "f32", "-load_config", str(cfg),
            "-report_type", "no_counters", "-json_stats", "-report_folder", tmp,
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        match = MEDIAN.search(proc.stdout)
        if proc.returncode != 0 or match is None:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            raise EdgeKDError(f"benchmark_app failed (exit {proc.returncode}): {' | '.join(tail)}")
        value, unit = float(match.group(1)), match.group(2)
        stats = json.loads((Path(tmp) / "benchmark_report.json").read_text())
    return {
        "median_ms": value / 1000 if unit == "us" else value,
        "iterations": niter,
        "execution_results": stats.get("execution_results", {}),
        "command": " ".join(cmd[1:]),
    }


def run_ours(xml: Path, input_shape: list[int], threads: int, queries: int) -> dict:
    """Our worker on the same IR with the same settings, in a fresh process."""
    from edgekd.config.schema import ProfileConfig, TargetConfig
    from edgekd.profile.isolate import run_local
    from edgekd.profile.protocol import make_spec

    target = TargetConfig(
        name="openvino-check", runtime="openvino", threads=threads,
        runtime_options=BENCHMARK_APP_OPTIONS,
    )  # fmt: skip
    profile = ProfileConfig(
        tier="report", warmup=50, min_queries=max(queries, 1024), min_time_s=0.0,
        throughput_time_s=0.05, layers=False,
    )  # fmt: skip
    files = [xml.name, xml.with_suffix(".bin").name]
    spec = make_spec(xml.parent, xml.name, target, profile, input_shape, batch=1, files=files)
    res = run_local(spec)
    return {"median_ms": res["latency"]["p50_ms"], "latency": res["latency"], "placement":
            res["environment"]["placement"], "versions": res["versions"]}  # fmt: skip


def cross_check(xml: Path, input_shape: list[int], threads: int, queries: int, rounds: int):
    """Alternate ours and benchmark_app `rounds` times (the CPU is shared); median of medians."""
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(run_ours(xml, input_shape, threads, queries))
        theirs.append(run_benchmark_app(xml, threads, max(queries, 1024)))
    med = sorted(o["median_ms"] for o in ours)[len(ours) // 2]
    peer = sorted(t["median_ms"] for t in theirs)[len(theirs) // 2]
    return {"ours_median_ms": med, "benchmark_app_median_ms": peer, "ratio": med / peer,
            "rounds": {"ours": ours, "benchmark_app": theirs}, "threads": threads}  # fmt: skip
