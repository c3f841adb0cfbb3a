"""Fixed costs per runtime class for roofline estimates, with the error band found for each.

Where a target's `device:` spec names no fixed costs, an estimate for it takes its runtime's
defaults from here (edgekd/profile/estimate.py names no runtime; this table lives with the
backends).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FixedCosts:
    """Per-inference and per-layer overheads of a runtime/device class, and the error band
    (low, high factors on the estimate) with where it comes from."""

    per_inference_us: float
    per_layer_us: float
    band: tuple[float, float]
    source: str


# Defaults per runtime class for devices whose spec names no fixed costs. The CPU classes were
# measured on an x86 host (Xeon with AVX-512/AMX, one thread, loaded 2-CPU VM, 2026-12-01) by
# benchmarks/estimator_error.py: probes of 1 and 33 tiny layers give the fixed costs, then
# every model of the benchmark suite is estimated and measured; the band is the range of
# measured / estimated it found per runtime over two runs (0.87-1.69x and 0.77-1.40x over
# all runtimes), rounded outwards. TensorRT's cannot be checked
# here (targets/jetson-*.yaml derive theirs from published figures).
_CHECKED = "benchmarks/estimator_error.py on an x86 host, one thread"
CLASS_COSTS = {
    "onnxruntime": FixedCosts(4.6, 0.6, (0.75, 1.7), _CHECKED),
    "ort-mobile": FixedCosts(4.6, 0.6, (0.75, 1.7), _CHECKED + " (as onnxruntime)"),
    # OpenVINO re-measured 2026-12-02 after its runner moved to static shapes and one binding
    # per sample (per layer 1.2 -> 0.2 us): two runs, measured / estimated 0.84-1.32x
    "openvino": FixedCosts(9.0, 0.2, (0.8, 1.35), _CHECKED),
    "executorch": FixedCosts(7.3, 0.2, (0.8, 1.4), _CHECKED),
    "tensorrt": FixedCosts(
        100.0, 5.0, (1 / 3, 3.0), "Jetson Orin Nano figures (targets/jetson-orin-nano.yaml)"
    ),
}
UNKNOWN_CLASS = FixedCosts(0.0, 0.0, (1 / 3, 3.0), "no fixed costs known for this runtime")
# Band for fixed costs a target sets itself: nothing here has checked them.
TARGET_BAND = (1 / 3, 3.0)


def class_costs(runtime: str) -> FixedCosts:
    """The runtime class's defaults; a runtime without any gets none (and a 3x band)."""
    return CLASS_COSTS.get(runtime, UNKNOWN_CLASS)
