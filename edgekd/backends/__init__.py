"""Runtimes behind one small protocol; one lazily importing file per runtime.

A backend class is registered under its runtime name and constructed with a TargetConfig.
It must never import its runtime at module level: `available()` says whether it can run here.

    class Backend:
        Options: type[BaseModel]      # validates target.runtime_options
        description: str
        packages: list[str]           # what `pip install` brings the runtime
        artifact: str                 # the artifact's main file name
        def __init__(self, target): ...
        def available(self) -> str | None      # None, or why it cannot run here
        def versions(self) -> dict[str, str]
        def compile(self, onnx_path, precision, calib, out_dir) -> dict
        def load(self, artifact_dir) -> Runner # Runner(x: np.ndarray) -> np.ndarray
"""

from __future__ import annotations

import importlib.util
import os
from typing import Protocol

import numpy as np

from edgekd.registry import Registry

BACKENDS: Registry = Registry("runtime", "edgekd.backends")


class Runner(Protocol):
    def __call__(self, x: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict: ...


def missing_packages(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def default_threads() -> int:
    """Physical cores where known, else logical CPUs available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
