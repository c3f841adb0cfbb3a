"""Measure one artifact in a fresh process: `python -m edgekd.profile.worker SPEC.json`.

A fresh interpreter per artifact keeps runtimes from sharing a process with torch or with each
other (thread pools, allocators and peak memory would otherwise leak between measurements).
The spec names the artifact, the target and the profile settings; the result is written as
JSON to the spec's `out` path. A user error is written as {"error": ...} with exit code 2.
This module imports nothing heavy and runs with only numpy, pydantic, pyyaml and the runtime,
so the same file runs on a remote device.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

SPEC_SCHEMA = "edgekd.profile-spec/1"
RESULT_SCHEMA = "edgekd.profile-result/1"


def peak_rss_bytes() -> int:
    """High-water resident set size of this process.

    Linux: VmHWM of /proc/self/status, which starts afresh at exec; ru_maxrss would also
    count the parent's memory at fork. Elsewhere ru_maxrss (bytes on macOS).
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def load_runner(spec: dict, target):
    """(runner, versions) from the registered backend, or the minimal OpenVINO runner."""
    from edgekd.backends import BACKENDS
    from edgekd.errors import RuntimeMissingError

    runtime = target.runtime
    # benchmark_app-equivalent settings on request, or when no openvino backend is registered
    minimal = spec.get("runner") == "openvino-latency" or runtime not in BACKENDS
    if runtime == "openvino" and minimal:
        from edgekd.profile.ov_runner import load_openvino

        return load_openvino(Path(spec["artifact_dir"]) / spec["artifact"], target)
    backend = BACKENDS.get(runtime)(target)
    reason = backend.available()
    if reason is not None:
        raise RuntimeMissingError(f"target '{target.name}' cannot run here: {reason}")
    return backend.load(Path(spec["artifact_dir"])), backend.versions()


def sample_input(spec: dict, x: np.ndarray | None) -> np.ndarray:
    """A batch-1 input: the first test input when data is given, else seeded noise."""
    if x is not None:
        return np.ascontiguousarray(x[:1])
    shape = [1, *[int(d) for d in spec["input_shape"]]]
    return np.random.default_rng(0).standard_normal(shape).astype(spec.get("dtype", "float32"))


def load_data(spec: dict) -> tuple[np.ndarray | None, np.ndarray | None]:
    data = spec.get("data")
    if not data:
        return None, None
    with np.load(data["npz"], allow_pickle=False) as z:
        return z[data.get("x", "x_test")], z[data.get("y", "y_test")]


def environment(runner) -> dict:
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = None
    return {
        "hostname": platform.node(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "affinity": affinity,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "placement": runner.describe() if hasattr(runner, "describe") else {},
        "torch_loaded": "torch" in sys.modules,
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def measure(spec: dict) -> dict:
    from edgekd.config.schema import ProfileConfig, TargetConfig
    from edgekd.profile.accuracy import artifact_accuracy
    from edgekd.profile.latency import measure_latency, measure_throughput

    cfg = ProfileConfig.model_validate(spec["profile"])
    target = TargetConfig.model_validate(spec["target"])
    x, y = load_data(spec)
    rss_start = peak_rss_bytes()
    t0 = time.perf_counter()
    runner, versions = load_runner(spec, target)
    load_ms = (time.perf_counter() - t0) * 1e3
    sample = sample_input(spec, x)
    latency = measure_latency(runner, sample, cfg)
    batch_n = int(spec.get("batch") or cfg.throughput_batch)
    batch = np.ascontiguousarray(np.resize(sample, (batch_n, *sample.shape[1:])))
    throughput = measure_throughput(runner, batch, cfg.throughput_time_s)
    acc = artifact_accuracy(runner, x, y) if x is not None else None
    peak = peak_rss_bytes()
    env = environment(runner)
    del runner
    layers = None
    if cfg.layers:
        from edgekd.profile.layers import layer_profile

        layers = layer_profile(spec, target, sample, cfg.layer_runs)
    return {
        "schema": RESULT_SCHEMA,
        "load_ms": load_ms,
        "first_inference_ms": latency["stats"]["first_inference_ms"],
        "latency": latency["stats"],
        "samples_ms": latency["samples_ms"],
        "throughput": throughput,
        "acc_artifact": acc,
        "memory": {"peak_rss_bytes": peak, "rss_before_load_bytes": rss_start},
        "artifact_bytes": artifact_bytes(Path(spec["artifact_dir"]), spec.get("files")),
        "versions": versions,
        "environment": env,
        "layers": layers,
        "settings": cfg.model_dump(),
        "threads": target.threads,
    }


def artifact_bytes(folder: Path, files: list[str] | None) -> int:
    names = files or [p.name for p in folder.iterdir() if p.is_file()]
    return sum((folder / n).stat().st_size for n in names if (folder / n).is_file())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m edgekd.profile.worker SPEC.json", file=sys.stderr)
        return 2
    from edgekd.errors import EdgeKDError
    from edgekd.fsutil import write_json_atomic

    spec = json.loads(Path(argv[0]).read_text())
    if spec.get("schema") != SPEC_SCHEMA:
        print(f"spec schema must be {SPEC_SCHEMA}", file=sys.stderr)
        return 2
    try:
        result = measure(spec)
    except EdgeKDError as exc:
        write_json_atomic(
            Path(spec["out"]), {"error": {"type": type(exc).__name__, "msg": str(exc)}}
        )
        return 2
    write_json_atomic(Path(spec["out"]), result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
