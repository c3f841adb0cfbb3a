"""What edgekd's OpenVINO runner and an OpenVINO bundle's predict.py share: the CPU plugin's
settings, and infer requests compiled for the input shapes a caller really feeds.

The IR keeps a dynamic batch (one artifact serves batch 1 and batch 32), but the CPU plugin
runs a dynamic model with shape inference and dynamic kernels on every call. Compiling a copy
reshaped to the fed shape is what benchmark_app does with `-shape`, and OpenVINO's guide
recommends for latency: the ResNet-8 student ran at p50 0.047-0.064 ms static against
0.060-0.080 ms dynamic (bf16, one thread, interleaved, 2026-12-02). Each new shape compiles
once; past `limit` shapes, or where the model refuses the reshape, the dynamic model answers.

Standalone (numpy and openvino only): OpenVINO bundles' predict.py includes this file, so a
bundle runs the way it was measured.
"""

from __future__ import annotations

STATIC_LIMIT = 4  # distinct input shapes compiled static before the dynamic model takes over


def cpu_config(threads: int, hint: str, streams, precision: str, perf_count=False) -> dict:
    """The CPU plugin's settings. threads 0: the plugin's own default; streams None: what the
    hint picks; precision "auto": the plugin picks the inference precision (bf16 on AMX /
    AVX-512 BF16 CPUs). No `X | None` annotations: predict.py runs on older Pythons too."""
    config = {"PERFORMANCE_HINT": hint, "PERF_COUNT": "YES" if perf_count else "NO"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    if streams is not None:
        config["NUM_STREAMS"] = str(streams)
    if precision != "auto":
        config["INFERENCE_PRECISION_HINT"] = precision
    return config


def property_text(value) -> str:
    """A compiled model's property as benchmark_app prints it (an ov.Type by its short name)."""
    return value.to_string() if hasattr(value, "to_string") else str(value)


class StaticShapes:
    """An infer request per fed shape: `request(shapes)` with `shapes` a tuple of each
    input's shape, in the model's input order."""

    def __init__(self, model, compile_model, dynamic_request, limit: int = STATIC_LIMIT):
        self.model = model  # the ov.Model as read (not modified: copies are reshaped)
        self.compile_model = compile_model  # ov.Model -> ov.CompiledModel
        self.dynamic = dynamic_request
        self.limit = limit
        self.requests: dict[tuple, object] = {}
        self.refused: set[tuple] = set()
        self.is_dynamic = any(i.partial_shape.is_dynamic for i in model.inputs)

    def request(self, shapes: tuple):
        if not self.is_dynamic:
            return self.dynamic
        found = self.requests.get(shapes)
        if found is not None:
            return found
        if shapes in self.refused or len(self.requests) >= self.limit:
            return self.dynamic
        static = self.model.clone()
        try:
            static.reshape({i: list(s) for i, s in enumerate(shapes)})
            compiled = self.compile_model(static)
        except Exception:  # a reshape the graph cannot take (fixed Reshape constants, ...)
            self.refused.add(shapes)
            return self.dynamic
        self.requests[shapes] = req = compiled.create_infer_request()
        return req
