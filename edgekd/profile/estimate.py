"""Roofline estimates of batch-1 latency for devices that are not attached, with fixed costs.

latency ~= per-inference overhead + layers x per-layer overhead
           + max(FLOPs / peak compute, bytes moved / memory bandwidth)

FLOPs, bytes and layers are counted from the ONNX graph at batch 1 (weights once, every
activation written and read once; a layer is a kernel a runtime launches: shape bookkeeping,
Q/DQ pairs and activations or batch norms that runtimes fuse into the layer before them are
not counted). Peaks and fixed costs come from the target's `device:` spec, each with a cited
`source` (targets/*.yaml); a device without fixed costs takes its runtime class's defaults
(edgekd/backends/fixed_costs.py). Every estimate carries an error band: the range of
measured / estimated ratios that benchmarks/estimator_error.py found for the runtime class
on a machine where it could be checked, or a stated factor where nothing could be checked.
Estimates are labelled `estimated` everywhere and never mixed with measurements.
"""

from __future__ import annotations

import math
from pathlib import Path

from edgekd.backends.fixed_costs import TARGET_BAND, UNKNOWN_CLASS, FixedCosts, class_costs
from edgekd.records import Estimate

BYTES_PER = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
PEAK_KEY = {
    "fp32": "peak_fp32_gflops",
    "fp16": "peak_fp16_gflops",
    "bf16": "peak_bf16_gflops",
    "int8": "peak_int8_gops",
}
# Not kernels: shape bookkeeping, and quantize/dequantize pairs that runtimes fold into the
# integer kernels they surround.
FREE_OPS = {
    "Constant", "Identity", "Shape", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Gather",
    "Concat", "Cast", "QuantizeLinear", "DequantizeLinear", "Dropout",
}  # fmt: skip
# Fused into the kernel that produces their input by every runtime here (post-ops).
FUSED_OPS = {
    "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
    "BatchNormalization", "Add",
}  # fmt: skip
KERNEL_OPS = {"Conv", "ConvInteger", "QLinearConv", "Gemm", "MatMul", "MatMulInteger"}


def graph_cost(onnx_path: Path) -> dict:
    """FLOPs (2 x MACs of Conv/Gemm/MatMul), weight and activation element counts, and the
    layers a runtime launches, at batch 1."""
    import onnx

    model = onnx.load(str(onnx_path))
    for vi in list(model.graph.input) + list(model.graph.output):
        for dim in vi.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.dim_value = 1  # the symbolic batch dimension
    model = onnx.shape_inference.infer_shapes(model)
    g = model.graph
    init = {t.name: math.prod(t.dims) for t in g.initializer}
    shapes = {t.name: list(t.dims) for t in g.initializer}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = [d.dim_value for d in dims]
    flops, activations = 0, 0
    for node in g.node:
        flops += node_flops(node, shapes)
        for name in list(node.input) + list(node.output):
            if name and name not in init and name in shapes:
                activations += math.prod(shapes[name])
    return {
        "flops": int(flops),
        "weights": int(sum(init.values())),
        "activations": activations,
        "layers": count_layers(g),
    }


def count_layers(graph) -> int:
    """Kernels a runtime launches: every op but bookkeeping and Q/DQ, less the activations,
    batch norms and residual adds fused into the kernel that feeds them."""
    producer = {out: node for node in graph.node for out in node.output}

    def source(name: str):
        node = producer.get(name)
        while node is not None and node.op_type in FREE_OPS and node.input:
            node = producer.get(node.input[0])
        return node

    layers = 0
    for node in graph.node:
        if node.op_type in FREE_OPS:
            continue
        if node.op_type in FUSED_OPS:
            feeds = [source(i) for i in node.input if i in producer]
            if any(f is not None and f.op_type in KERNEL_OPS for f in feeds):
                continue
        layers += 1
    return max(layers, 1)


def node_flops(node, shapes: dict[str, list[int]]) -> int:
    out = shapes.get(node.output[0]) if node.output else None
    if out is None:
        return 0
    if node.op_type in ("Conv", "ConvInteger", "QLinearConv"):
        w = shapes.get(node.input[3 if node.op_type == "QLinearConv" else 1])
        return 2 * math.prod(out) * math.prod(w[1:]) if w else 0
    if node.op_type in ("Gemm", "MatMul", "MatMulInteger", "QLinearMatMul"):
        a = shapes.get(node.input[0])
        if not a:
            return 0
        trans_a = any(at.name == "transA" and at.i for at in node.attribute)
        k = a[-2] if trans_a and len(a) >= 2 else a[-1]
        return 2 * math.prod(out) * k
    return 0


def fixed_costs(device, runtime: str) -> FixedCosts:
    """The target's own fixed costs where its spec names them, else its runtime class's."""
    default = class_costs(runtime)
    own = (device.overhead_per_inference_us, device.overhead_per_layer_us)
    if own == (None, None):
        return default
    return FixedCosts(
        default.per_inference_us if own[0] is None else own[0],
        default.per_layer_us if own[1] is None else own[1],
        TARGET_BAND,
        f"the target's fixed costs, not checked on a device: {TARGET_BAND[1]:g}x either way",
    )


def roofline(cost: dict, device, precision: str, fixed: FixedCosts = UNKNOWN_CLASS) -> dict:
    """{"latency_ms", "bound", ...}, or {"latency_ms": None, "reason"} when a peak is missing."""
    key = PEAK_KEY.get(precision, f"peak_{precision}")
    peak = getattr(device, key, None)
    bandwidth = device.memory_bandwidth_gbps
    if not peak or not bandwidth:
        missing = key if not peak else "memory_bandwidth_gbps"
        return {"latency_ms": None, "reason": f"the target's device spec has no {missing}"}
    nbytes = (cost["weights"] + cost["activations"]) * BYTES_PER[precision]
    compute_ms = cost["flops"] / (peak * 1e9) * 1e3
    memory_ms = nbytes / (bandwidth * 1e9) * 1e3
    layers = cost.get("layers", 0)
    fixed_ms = (fixed.per_inference_us + layers * fixed.per_layer_us) / 1e3
    latency = fixed_ms + max(compute_ms, memory_ms)
    bound = "compute" if compute_ms >= memory_ms else "memory"
    return {
        "latency_ms": latency,
        "bound": "fixed-cost" if fixed_ms >= max(compute_ms, memory_ms) else bound,
        "compute_ms": compute_ms,
        "memory_ms": memory_ms,
        "fixed_ms": fixed_ms,
        "layers": layers,
        "flops": cost["flops"],
        "bytes": nbytes,
        "peak": peak,
        "memory_bandwidth_gbps": bandwidth,
        "size_bytes": cost["weights"] * BYTES_PER[precision],
        "method": "roofline",  # plus fixed costs (fixed_ms)
        "spec_source": device.source,
        "low_ms": latency * fixed.band[0],
        "high_ms": latency * fixed.band[1],
        "band_source": fixed.source,
    }


def has_specs(device) -> bool:
    return bool(device.memory_bandwidth_gbps) and any(
        getattr(device, k, None) for k in PEAK_KEY.values()
    )


def estimate_latency(
    target, onnx_path: Path, precision: str, reason: str
) -> tuple[Estimate | None, str]:
    """(Estimate, reason) for an artifact that cannot be measured, or (None, reason) saying
    also why there is no estimate: no device specs, or none for this precision."""
    if not has_specs(target.device):
        return None, reason
    fixed = fixed_costs(target.device, target.runtime)
    est = roofline(graph_cost(onnx_path), target.device, precision, fixed)
    if est["latency_ms"] is None:
        return None, f"{reason}; no estimate: {est['reason']}"
    return Estimate.model_validate(est), reason
