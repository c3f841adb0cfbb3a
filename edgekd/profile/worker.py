"""Measure one artifact in a fresh process: `python -m edgekd.profile.worker SPEC.json`.

A fresh interpreter per artifact keeps runtimes from sharing a process with torch or with each
other (thread pools, allocators and peak memory would otherwise leak between measurements).
The spec (`edgekd.profile.protocol.ProfileSpec`) names the artifact, the target and the
profile settings; the target's backend loads the artifact and reads its per-layer counters.
The result is written as JSON to the spec's `out` path; a user error as {"error": ...} with
exit code 2. This module imports nothing heavy and runs with only numpy, pydantic, pyyaml and
the runtime, so the same file runs on a remote device.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from edgekd.profile.protocol import (
    RESULT_SCHEMA,
    SPEC_SCHEMA,
    PluginRef,
    ProfileSpec,
    error_payload,
)


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


def load_backend(target, plugin: PluginRef | None = None):
    """The target's backend, or a clear error where its runtime cannot run here."""
    from edgekd.backends import BACKENDS
    from edgekd.errors import RuntimeMissingError

    if plugin is not None and target.runtime not in BACKENDS:
        BACKENDS.register(target.runtime)(plugin_class(plugin))
    backend = BACKENDS.get(target.runtime)(target)
    status = backend.status()
    if not status.runs_here:
        raise RuntimeMissingError(f"target '{target.name}' cannot run here: {status.reason}")
    return backend


def plugin_class(plugin: PluginRef) -> type:
    """The backend class from the file it was defined in (the parent process ran it too)."""
    import importlib.util

    path = Path(plugin.file)
    found = importlib.util.spec_from_file_location(f"edgekd_plugin_{path.stem}", path)
    module = importlib.util.module_from_spec(found)
    sys.modules[found.name] = module
    found.loader.exec_module(module)
    return getattr(module, plugin.name)


def sample_input(spec: ProfileSpec, x: np.ndarray | None) -> np.ndarray:
    """A batch-1 input: the first test input when data is given, else seeded noise."""
    if x is not None:
        return np.ascontiguousarray(x[:1])
    shape = [1, *spec.input_shape]
    return np.random.default_rng(0).standard_normal(shape).astype(spec.dtype)


def load_data(spec: ProfileSpec) -> tuple[np.ndarray | None, np.ndarray | None]:
    if spec.data is None:
        return None, None
    with np.load(spec.data.npz, allow_pickle=False) as z:
        return z[spec.data.x], z[spec.data.y]


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
        "placement": runner.describe(),
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


def measure(spec: ProfileSpec) -> dict:
    from edgekd.profile.accuracy import artifact_accuracy
    from edgekd.profile.latency import measure_latency, measure_throughput

    cfg, target, folder = spec.profile, spec.target, Path(spec.artifact_dir)
    backend = load_backend(target, spec.plugin)
    x, y = load_data(spec)
    rss_start = peak_rss_bytes()
    t0 = time.perf_counter()
    runner = backend.load(folder)
    load_ms = (time.perf_counter() - t0) * 1e3
    sample = sample_input(spec, x)
    latency = measure_latency(runner, sample, cfg)
    batch_n = int(spec.batch or cfg.throughput_batch)
    batch = np.ascontiguousarray(np.resize(sample, (batch_n, *sample.shape[1:])))
    throughput = measure_throughput(runner, batch, cfg.throughput_time_s)
    acc = artifact_accuracy(runner, x, y) if x is not None else None
    peak = peak_rss_bytes()
    env = environment(runner)
    del runner  # the layer profile opens its own session
    layers = backend.layer_profile(folder, sample, cfg.layer_runs) if cfg.layers else None
    return {
        "schema": RESULT_SCHEMA,
        "load_ms": load_ms,
        "first_inference_ms": latency["stats"]["first_inference_ms"],
        "latency": latency["stats"],
        "samples_ms": latency["samples_ms"],
        "throughput": throughput,
        "acc_artifact": acc,
        "memory": {"peak_rss_bytes": peak, "rss_before_load_bytes": rss_start},
        "artifact_bytes": artifact_bytes(folder, spec.files),
        "versions": backend.versions(),
        "environment": env,
        "layers": layers.model_dump(mode="json") if layers is not None else None,
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

    raw = json.loads(Path(argv[0]).read_text())
    if not isinstance(raw, dict) or raw.get("schema") != SPEC_SCHEMA:
        print(f"spec schema must be {SPEC_SCHEMA}", file=sys.stderr)
        return 2
    spec = ProfileSpec.model_validate(raw)
    try:
        result = measure(spec)
    except EdgeKDError as exc:
        write_json_atomic(Path(spec.out), error_payload(exc))
        return 2
    write_json_atomic(Path(spec.out), result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
