"""Roofline estimates: FLOPs and bytes from the ONNX graph, the roofline, and labelling."""

from __future__ import annotations

import pytest

from edgekd.config.schema import DeviceSpec, TargetConfig
from edgekd.profile.estimate import estimate_latency, graph_cost, roofline

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module", params=["mlp", "cnn1d"])
def exported(request, tmp_path_factory):
    import torch

    from edgekd.models import build_model, count_flops, count_params

    opts = {"hidden": [32, 16]} if request.param == "mlp" else {"channels": [8, 8]}
    model = build_model(request.param, opts, (1, 40), 10).eval()
    path = tmp_path_factory.mktemp(request.param) / "model.onnx"
    torch.onnx.export(model, torch.zeros(1, 1, 40), str(path), input_names=["input"],
                      dynamic_axes={"input": {0: "n"}}, dynamo=False)  # fmt: skip
    return path, count_flops(model, (1, 40)), count_params(model)


def test_graph_flops_match_torch_and_weights_match_params(exported):
    path, torch_flops, params = exported
    cost = graph_cost(path)
    # FLOPs of Conv/Gemm/MatMul only; torch's counter also counts nothing else for these models
    assert cost["flops"] == torch_flops
    # BatchNorm is folded into the convolutions at export, so a few parameters disappear
    assert 0.8 * params <= cost["weights"] <= params * 1.05
    assert cost["activations"] > 40  # at least the input is read


def test_roofline_math():
    cost = {"flops": 2_000_000, "weights": 1000, "activations": 500}
    dev = DeviceSpec(memory_bandwidth_gbps=1.0, peak_fp32_gflops=1.0, peak_int8_gops=100.0)
    fp32 = roofline(cost, dev, "fp32")
    assert fp32["bound"] == "compute" and fp32["latency_ms"] == pytest.approx(2.0)
    assert fp32["memory_ms"] == pytest.approx(1500 * 4 / 1e9 * 1e3)
    int8 = roofline(cost, dev, "int8")  # 20 us of compute, 1.5 us of memory
    assert int8["latency_ms"] == pytest.approx(0.02) and int8["size_bytes"] == 1000
    missing = roofline(cost, dev, "fp16")
    assert missing["latency_ms"] is None and "peak_fp16_gflops" in missing["reason"]


def test_estimate_is_labelled_or_says_why_there_is_none(exported):
    path = exported[0]
    with_specs = TargetConfig(
        name="jetson", runtime="onnxruntime",
        device={"memory_bandwidth_gbps": 68, "peak_fp32_gflops": 1000, "source": "datasheet"},
    )  # fmt: skip
    est, why = estimate_latency(with_specs, path, "fp32", "tensorrt is not installed")
    assert est is not None and est.latency_ms > 0 and why == "tensorrt is not installed"
    assert est.spec_source == "datasheet" and est.method == "roofline"
    bare = TargetConfig(name="x", runtime="onnxruntime")
    assert estimate_latency(bare, path, "fp32", "why") == (None, "why")
    none, why = estimate_latency(with_specs, path, "int8", "why")
    assert none is None and why.startswith("why") and "peak_int8_gops" in why


def test_rows_for_unmeasured_artifacts_are_estimated_or_skipped(exported):
    from edgekd.records import Gate, LatencySource, Role, RowStatus
    from edgekd.report.rows import Subject, estimated_row, skipped_row

    dev = {"memory_bandwidth_gbps": 68, "peak_fp32_gflops": 1000, "source": "datasheet"}
    est, why = estimate_latency(TargetConfig(name="j", runtime="x", device=dev), exported[0],
                                "fp32", "not measured here")  # fmt: skip
    s = Subject("m", Role.DISTILLED, "m", {"acc_test": 0.8, "params": 5}, "j", "x", "fp32")
    row = estimated_row(s, est, why, None)
    assert row.status is RowStatus.ESTIMATED and row.latency_source is LatencySource.ESTIMATED
    assert row.p90_ms == est.latency_ms and row.accuracy == 0.8 and row.acc_artifact is None
    assert row.gate is Gate.NOT_APPLICABLE and row.reason == "not measured here"
    skipped = skipped_row(s, "why")
    assert skipped.status is RowStatus.SKIPPED and skipped.p90_ms is None and skipped.params == 5
