"""A minimal OpenVINO CPU runner for profiling an .xml/.bin artifact.

Used only when no `openvino` backend is registered (edgekd/backends/openvino.py owns the real
one) and by the per-layer profiler. Settings follow benchmark_app's latency mode: the LATENCY
hint, one stream, a fixed thread count, so figures compare with OpenVINO's own tool.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.backends import default_threads, missing_packages
from edgekd.errors import ArtifactError, RuntimeMissingError


def compile_openvino(xml: Path, threads: int, perf_count: bool = False):
    if missing_packages("openvino"):
        raise RuntimeMissingError("openvino is not installed: pip install 'edgekd[openvino]'")
    import openvino as ov

    config = {
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": "1",
        "INFERENCE_NUM_THREADS": str(threads),
        "PERF_COUNT": "YES" if perf_count else "NO",
        # fp32 means fp32: without this, CPUs with bf16/AMX units silently run in bf16.
        "INFERENCE_PRECISION_HINT": "f32",
    }
    try:
        return ov.Core().compile_model(str(xml), "CPU", config)
    except Exception as exc:  # OpenVINO raises RuntimeError subclasses with long text
        raise ArtifactError(
            f"OpenVINO cannot load '{xml}': {str(exc).splitlines()[0][:200]}. The file is "
            "corrupt or not an OpenVINO IR (.xml with its .bin beside it); rebuild it."
        ) from None


class OvRunner:
    def __init__(self, xml: Path, threads: int, perf_count: bool = False):
        import openvino

        self._ov = openvino
        self.threads = threads
        self.compiled = compile_openvino(xml, threads, perf_count)
        self.request = self.compiled.create_infer_request()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        # The input is shared, not copied; infer() without arguments skips building a result
        # dict (~40 us per call in Python), which would swamp small models' latency.
        self.request.set_input_tensor(self._ov.Tensor(x, shared_memory=True))
        self.request.infer()
        return self.request.get_output_tensor(0).data.copy()

    def describe(self) -> dict:
        props = {}
        for key in (
            "PERFORMANCE_HINT",
            "NUM_STREAMS",
            "INFERENCE_NUM_THREADS",
            "INFERENCE_PRECISION_HINT",
        ):
            try:
                props[key] = str(self.compiled.get_property(key))
            except Exception:  # a property this plugin version does not expose
                continue
        return {"device": "CPU", "threads": self.threads, **props}


def load_openvino(xml: Path, target) -> tuple[OvRunner, dict]:
    import openvino as ov

    runner = OvRunner(xml, target.threads or default_threads())
    return runner, {"openvino": ov.get_version()}
