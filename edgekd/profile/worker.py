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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekd.errors import EdgeKDError
from edgekd.fsutil import clean_stale_temp, write_json_atomic
from edgekd.profile.feeds import (
    Feed,
    feed_size,
    inputs_checked,
    load_data,
    sample_input,
    throughput_input,
)
from edgekd.profile.limits import available_cpus, check_threads
from edgekd.profile.protocol import (
    PARENT_ENV,
    RESULT_SCHEMA,
    SPEC_SCHEMA,
    PluginRef,
    ProfileSpec,
    error_payload,
)
from edgekd.records import RuntimeSettings


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


@dataclass
class Loaded:
    """One artifact loaded with its settings, and what its measurement needs around it."""

    spec: ProfileSpec
    backend: Any
    settings: RuntimeSettings
    sample: Feed
    x: np.ndarray | None
    y: np.ndarray | None
    rss_start: int
    load_ms: float
    runner: Any


def open_artifact(spec: ProfileSpec) -> Loaded:
    """The backend with the spec's settings (or the target's own, threads capped at the CPUs
    here), the inputs, and the artifact loaded: load time apart from everything else."""
    if spec.check_threads:
        check_threads(spec.target.threads)
    backend = load_backend(spec.target, spec.plugin)
    settings = spec.settings or backend.default_settings()
    if settings.threads > available_cpus():  # tuned elsewhere: a ceiling, never oversubscribed
        settings = settings.model_copy(update={"threads": available_cpus()})
    backend = backend.with_settings(settings)
    x, y = load_data(spec)
    sample = sample_input(spec, x)
    rss_start = peak_rss_bytes()
    t0 = time.perf_counter()
    runner = backend.load(Path(spec.artifact_dir))
    load_ms = (time.perf_counter() - t0) * 1e3
    return Loaded(spec, backend, settings, sample, x, y, rss_start, load_ms, runner)


def measure(spec: ProfileSpec, channel=None) -> dict:
    """Everything about one artifact; with a `channel` (serve mode), its latency rounds run
    when the coordinator says, interleaved with the other artifacts of its target."""
    from edgekd.profile.rounds import measure_latency_rounds
    from edgekd.profile.serve import serve_rounds

    if spec.mode == "tune":
        from edgekd.profile.tune import tune

        return tune(spec, load_backend(spec.target, spec.plugin))
    art = open_artifact(spec)
    with inputs_checked(spec):
        if channel is not None:
            latency = serve_rounds(art.runner, art.sample, spec.profile, channel)
        else:
            latency = measure_latency_rounds(art.runner, art.sample, spec.profile)
    return finish(art, latency)


def finish(art: Loaded, latency: dict) -> dict:
    """Throughput, accuracy, memory and the per-layer profile after the latency rounds."""
    from edgekd.profile.accuracy import artifact_evaluation
    from edgekd.profile.latency import measure_throughput

    spec, cfg = art.spec, art.spec.profile
    with inputs_checked(spec):
        batch, why = throughput_input(spec, art.sample, int(spec.batch or cfg.throughput_batch))
        throughput = measure_throughput(art.runner, batch, cfg.throughput_time_s, feed_size(batch))
    x, y = art.x, art.y
    scored = artifact_evaluation(art.runner, x, y) if x is not None else {"acc_artifact": None}
    peak = peak_rss_bytes()
    env = environment(art.runner)
    art.runner = None  # the layer profile opens its own session
    folder = Path(spec.artifact_dir)
    layers = art.backend.layer_profile(folder, art.sample, cfg.layer_runs) if cfg.layers else None
    return {
        "schema": RESULT_SCHEMA,
        "load_ms": art.load_ms,
        "first_inference_ms": latency["stats"]["first_inference_ms"],
        "latency": latency["stats"],
        "samples_ms": latency["samples_ms"],
        "latency_rounds": latency["rounds"],
        "throughput": throughput | {"batch_source": why},
        "inputs": [i.describe() for i in spec.inputs],
        **scored,  # acc_artifact, and the confusion matrix where there are labels
        "memory": {"peak_rss_bytes": peak, "rss_before_load_bytes": art.rss_start},
        "artifact_bytes": artifact_bytes(folder, spec.files),
        "versions": art.backend.versions(),
        "environment": env | {"cpus": available_cpus()},
        "layers": layers.model_dump(mode="json") if layers is not None else None,
        "settings": cfg.model_dump(),
        "runtime_settings": art.settings.model_dump(mode="json"),
        "threads": spec.target.threads,  # the target's ceiling, as asked
    }


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
    channel = None
    if spec.mode == "serve":
        from edgekd.profile.serve import Channel

        channel = Channel.over_stdio()
    try:
        result = measure(spec, channel)
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
