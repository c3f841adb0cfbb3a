"""Runtimes behind one small protocol; one lazily importing file per runtime.

A backend class is registered under its runtime name and constructed with a TargetConfig.
It must never import its runtime at module level: `available()` says whether it can run here.

    class Backend:
        Options: type[BaseModel]      # validates target.runtime_options
        description: str
        packages: list[str]           # what `pip install` brings the runtime
        artifact: str                 # the artifact's main file name
        predict_template: str         # optional: deploy/templates/predict_<this>.py
        compiles_without_runtime: bool  # optional: compile() works where load() cannot
        def __init__(self, target): ...
        def available(self) -> str | None      # None, or why it cannot run here
        def versions(self) -> dict[str, str]
        def compile(self, onnx_path, precision, calib, out_dir, context=None) -> dict
        def load(self, artifact_dir) -> Runner # Runner(x: np.ndarray) -> np.ndarray

`compile` returns an info dict with at least `files` (what goes into the deploy bundle); it
may name the bundle's main file under `artifact` when that differs from the class default.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edgekd.errors import ConfigError
from edgekd.registry import Registry

BACKENDS: Registry = Registry("runtime", "edgekd.backends")


class Runner(Protocol):
    def __call__(self, x: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict: ...


@dataclass(frozen=True)
class CompileContext:
    """What some backends need beyond the ONNX file: the torch model, a validation split."""

    load_model: Callable[[], Any] | None = None  # -> the trained torch nn.Module (eval mode)
    val: tuple[np.ndarray, np.ndarray] | None = None  # never the test split
    accuracy_gate: float = 0.99


def missing_packages(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def package_versions(*dists: str) -> dict[str, str]:
    """Installed versions of the given distributions; absent ones are left out."""
    out = {}
    for d in dists:
        try:
            out[d] = importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def default_threads() -> int:
    """Physical cores where known, else logical CPUs available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def local_threads(target) -> int:
    """The target's thread count, capped at the CPUs here (a phone's 4 cores on a 2-CPU box)."""
    return min(target.threads or default_threads(), default_threads())


def check_precision(target, supported: tuple[str, ...], precision: str) -> None:
    if precision not in supported:
        raise ConfigError(
            f"target '{target.name}': precision '{precision}' is not supported by the "
            f"'{target.runtime}' backend; supported: {', '.join(supported)}. Edit the target's "
            "`precisions` list."
        )


VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (x86 `flags`, ARM `Features`), empty where unreadable."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def int8_reduce_range(flags: set[str] | None = None) -> tuple[bool, str]:
    """Whether int8 weights should use 7 bits, and why.

    Without VNNI-class dot-product instructions, x86 u8*s8 kernels (VPMADDUBSW) can saturate
    16-bit intermediates; ONNX Runtime's docs advise reduce_range there. With VNNI/dot-product
    the full 8-bit range is exact.
    """
    flags = cpu_flags() if flags is None else flags
    found = sorted(f for f in VNNI_FLAGS if f in flags)
    if found:
        return False, f"CPU has {', '.join(found)}: full 8-bit weights"
    if not flags:
        return True, "CPU flags unreadable: assume no VNNI, use 7-bit weights (reduce_range)"
    return True, "CPU has no VNNI/dot-product instructions: 7-bit weights (reduce_range)"
