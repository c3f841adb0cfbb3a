"""Runtimes behind one base class; one lazily importing file per runtime.

A backend is a `Backend` subclass registered under its runtime name with
`@BACKENDS.register("name")` and constructed with a TargetConfig. It must never import its
runtime at module level: `status()` says whether it runs here, compiles only, or is missing.
Everything runtime-specific lives in the backend: compile, load, its per-layer profile, its
placement summary, its predict template. `profile/`, `report/` and the engine only read what
the base class promises; see `edgekd/backends/base.py`.
"""

from __future__ import annotations

from edgekd.backends.base import (
    Backend,
    CompileContext,
    Runner,
    RuntimeStatus,
    check_precision,
    cpu_flags,
    default_threads,
    int8_reduce_range,
    local_threads,
    missing_packages,
    package_versions,
)
from edgekd.registry import Registry

BACKENDS: Registry[type[Backend]] = Registry("runtime", "edgekd.backends")
# (target, runtime) that `edgekd profile model.onnx` measures a plain ONNX file on by default
PLAIN_ONNX_TARGET = ("cpu-onnxruntime", "onnxruntime")

__all__ = [
    "BACKENDS",
    "PLAIN_ONNX_TARGET",
    "Backend",
    "CompileContext",
    "Runner",
    "RuntimeStatus",
    "check_precision",
    "cpu_flags",
    "default_threads",
    "int8_reduce_range",
    "local_threads",
    "missing_packages",
    "package_versions",
]
