"""Roofline estimates of batch-1 latency for devices that are not attached.

latency ~= max(FLOPs / peak compute, bytes moved / memory bandwidth), with FLOPs and bytes
counted from the ONNX graph at batch 1 (weights once, every activation written and read
once) and the peaks the target publishes for the precision (targets/*.yaml `device:` with a
`source`). It ignores launch overheads and caches, so it is an optimistic bound: every figure
that comes from here is labelled `estimated`, never mixed with measurements.
"""

from __future__ import annotations

import math
from pathlib import Path

from edgekd.records import Estimate

BYTES_PER = {"fp32": 4, "fp16": 2, "int8": 1}
PEAK_KEY = {"fp32": "peak_fp32_gflops", "fp16": "peak_fp16_gflops", "int8": "peak_int8_gops"}


def graph_cost(onnx_path: Path) -> dict:
    """FLOPs (2 x MACs of Conv/Gemm/MatMul), weight and activation element counts, batch 1."""
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
    return {"flops": int(flops), "weights": int(sum(init.values())), "activations": activations}


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


def roofline(cost: dict, device, precision: str) -> dict:
    """{"latency_ms", "bound", ...}, or {"latency_ms": None, "reason"} when a peak is missing."""
    peak = getattr(device, PEAK_KEY[precision], None)
    bandwidth = device.memory_bandwidth_gbps
    if not peak or not bandwidth:
        missing = PEAK_KEY[precision] if not peak else "memory_bandwidth_gbps"
        return {"latency_ms": None, "reason": f"the target's device spec has no {missing}"}
    nbytes = (cost["weights"] + cost["activations"]) * BYTES_PER[precision]
    compute_ms = cost["flops"] / (peak * 1e9) * 1e3
    memory_ms = nbytes / (bandwidth * 1e9) * 1e3
    return {
        "latency_ms": max(compute_ms, memory_ms),
        "bound": "compute" if compute_ms >= memory_ms else "memory",
        "compute_ms": compute_ms,
        "memory_ms": memory_ms,
        "flops": cost["flops"],
        "bytes": nbytes,
        "peak": peak,
        "memory_bandwidth_gbps": bandwidth,
        "size_bytes": cost["weights"] * BYTES_PER[precision],
        "method": "roofline",
        "spec_source": device.source,
    }


def has_specs(device) -> bool:
    return bool(device.memory_bandwidth_gbps) and any(getattr(device, k) for k in PEAK_KEY.values())


def estimate_latency(
    target, onnx_path: Path, precision: str, reason: str
) -> tuple[Estimate | None, str]:
    """(Estimate, reason) for an artifact that cannot be measured, or (None, reason) saying
    also why there is no estimate: no device specs, or none for this precision."""
    if not has_specs(target.device):
        return None, reason
    est = roofline(graph_cost(onnx_path), target.device, precision)
    if est["latency_ms"] is None:
        return None, f"{reason}; no estimate: {est['reason']}"
    return Estimate.model_validate(est), reason
