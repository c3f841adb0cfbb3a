"""Measure one artifact in a fresh process: `python -m edgekd.profile.worker SPEC.json`.

A fresh interpreter per artifact keeps runtimes from sharing a process with torch or with each
other (thread pools, allocators and peak memory would otherwise leak between measurements).
The spec (`edgekd.profile.protocol.ProfileSpec`) names the artifact, its inputs (shapes,
dtypes, integer ranges, whether the batch is free), the target and the profile settings; the
target's backend loads the artifact and reads its per-layer counters. Threads and input
sizes are checked against what this machine has before anything is allocated.
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

from edgekd.errors import ArtifactError, EdgeKDError
from edgekd.fsutil import clean_stale_temp, write_json_atomic
from edgekd.profile.limits import check_input_bytes, check_threads
from edgekd.profile.protocol import (
    PARENT_ENV,
    RESULT_SCHEMA,
    SPEC_SCHEMA,
    InputSpec,
    PluginRef,
    ProfileSpec,
    error_payload,
)

Feed = np.ndarray | dict  # one array, or {input name: array} for a model with several


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


def random_array(inp: InputSpec, shape: list[int], rng) -> np.ndarray:
    """Seeded noise for floats, uniform integers in [low, high), random booleans."""
    if inp.dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if inp.dtype.startswith(("int", "uint")):
        return rng.integers(inp.low, inp.high, size=shape).astype(inp.dtype)
    return rng.standard_normal(shape).astype(inp.dtype)


def as_feed(spec: ProfileSpec, arrays: list[np.ndarray]) -> Feed:
    """A plain array for a one-input model named by position, else {input name: array}."""
    if len(spec.inputs) == 1 and spec.inputs[0].name is None:
        return arrays[0]
    return {inp.name: a for inp, a in zip(spec.inputs, arrays)}


def sample_input(spec: ProfileSpec, x: np.ndarray | None) -> Feed:
    """The latency query: the first test input when data is given, else random inputs."""
    if x is not None:
        return np.ascontiguousarray(x[:1])
    check_input_bytes(feed_bytes(spec.inputs, None), "the inputs of one query")
    rng = np.random.default_rng(0)
    return as_feed(spec, [random_array(i, i.shape, rng) for i in spec.inputs])


def throughput_input(spec: ProfileSpec, sample: Feed, batch_n: int) -> tuple[Feed, str]:
    """The sample grown to `batch_n` along the batch axis; a model with a static batch is
    measured at its own batch instead."""
    if not scalable(spec.inputs):
        return sample, "static (the model's own batch)"
    check_input_bytes(feed_bytes(spec.inputs, batch_n), f"--batch {batch_n} inputs")
    arrays = [sample] if isinstance(sample, np.ndarray) else list(sample.values())
    grown = [
        np.ascontiguousarray(np.resize(a, (batch_n, *a.shape[1:]))) if i.shape else a
        for i, a in zip(spec.inputs, arrays)
    ]
    return as_feed(spec, grown), "requested"


def scalable(inputs: list[InputSpec]) -> bool:
    return all(i.dynamic_batch for i in inputs if i.shape)


def feed_bytes(inputs: list[InputSpec], batch_n: int | None) -> int:
    total = 0
    for i in inputs:
        dims = [batch_n, *i.shape[1:]] if batch_n and i.shape else i.shape
        total += int(np.prod(dims, dtype=np.float64)) * np.dtype(i.dtype).itemsize
    return total


def feed_size(feed: Feed) -> int:
    first = feed if isinstance(feed, np.ndarray) else next(iter(feed.values()))
    return int(first.shape[0]) if first.ndim else 1


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
    from edgekd.profile.accuracy import artifact_evaluation

    cfg, target, folder = spec.profile, spec.target, Path(spec.artifact_dir)
    if spec.check_threads:
        check_threads(target.threads)
    backend = load_backend(target, spec.plugin)
    x, y = load_data(spec)
    sample = sample_input(spec, x)
    rss_start = peak_rss_bytes()
    t0 = time.perf_counter()
    runner = backend.load(folder)
    load_ms = (time.perf_counter() - t0) * 1e3
    latency, throughput = timed(spec, runner, sample)
    scored = artifact_evaluation(runner, x, y) if x is not None else {"acc_artifact": None}
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
        "inputs": [i.describe() for i in spec.inputs],
        **scored,  # acc_artifact, and the confusion matrix where there are labels
        "memory": {"peak_rss_bytes": peak, "rss_before_load_bytes": rss_start},
        "artifact_bytes": artifact_bytes(folder, spec.files),
        "versions": backend.versions(),
        "environment": env,
        "layers": layers.model_dump(mode="json") if layers is not None else None,
        "settings": cfg.model_dump(),
        "threads": target.threads,
    }


def timed(spec: ProfileSpec, runner, sample: Feed) -> tuple[dict, dict]:
    """Latency at the query's batch, then throughput; a model that rejects its inputs is a
    user error that names them (a shape or integer range the model does not take)."""
    from edgekd.profile.latency import measure_latency, measure_throughput

    cfg = spec.profile
    try:
        latency = measure_latency(runner, sample, cfg)
        batch, why = throughput_input(spec, sample, int(spec.batch or cfg.throughput_batch))
        throughput = measure_throughput(runner, batch, cfg.throughput_time_s, feed_size(batch))
    except EdgeKDError:
        raise
    except Exception as exc:  # each runtime raises its own types for a rejected input
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        fed = "; ".join(i.text() for i in spec.inputs)
        raise ArtifactError(
            f"the model rejects the inputs it was given ({fed}): {first}. Pass the shapes "
            "and integer ranges it expects (--shape NAME=1x128, --int-range LOW:HIGH)."
        ) from None
    return latency, throughput | {"batch_source": why}


def artifact_bytes(folder: Path, files: list[str] | None) -> int:
    names = files or [p.name for p in folder.iterdir() if p.is_file()]
    return sum((folder / n).stat().st_size for n in names if (folder / n).is_file())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m edgekd.profile.worker SPEC.json", file=sys.stderr)
        return 2
    raw = json.loads(Path(argv[0]).read_text())
    if not isinstance(raw, dict) or raw.get("schema") != SPEC_SCHEMA:
        print(f"spec schema must be {SPEC_SCHEMA}", file=sys.stderr)
        return 2
    spec = ProfileSpec.model_validate(raw)
    end_with_parent()
    clean_stale_temp()  # folders of workers killed before they could remove them
    try:
        result = measure(spec)
    except EdgeKDError as exc:
        write_json_atomic(Path(spec.out), error_payload(exc))
        return 2
    write_json_atomic(Path(spec.out), result)
    return 0


def end_with_parent() -> None:
    """Exit cleanly (temp folders removed) on SIGTERM, and get SIGTERM when the edgekd that
    started this worker dies, so a killed `edgekd profile` leaves no worker behind."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):  # it died before prctl took effect
        sys.exit(128 + signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
