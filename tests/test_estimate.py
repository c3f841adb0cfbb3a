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


def test_layers_count_kernels_not_fused_ops(exported):
    """mlp [32, 16]: Gemm, Relu, Gemm, Relu, Gemm -> 3 kernels (the ReLUs are post-ops)."""
    path = exported[0]
    layers = graph_cost(path)["layers"]
    if "mlp" in str(path):
        assert layers == 3
    else:
        assert 2 <= layers <= 6  # two conv blocks, pooling, the classifier


def test_fixed_costs_add_to_the_roofline_and_carry_a_band():
    from edgekd.backends.fixed_costs import FixedCosts

    cost = {"flops": 2_000_000, "weights": 1000, "activations": 500, "layers": 4}
    dev = DeviceSpec(memory_bandwidth_gbps=1.0, peak_fp32_gflops=1.0)
    est = roofline(cost, dev, "fp32", FixedCosts(10.0, 2.5, (0.5, 2.0), "test"))
    assert est["fixed_ms"] == pytest.approx(0.02)  # 10 us + 4 x 2.5 us
    assert est["latency_ms"] == pytest.approx(2.02) and est["bound"] == "compute"
    assert (est["low_ms"], est["high_ms"]) == (pytest.approx(1.01), pytest.approx(4.04))
    tiny = roofline({**cost, "flops": 10}, dev, "fp32", FixedCosts(10.0, 2.5, (0.5, 2.0), "t"))
    assert tiny["bound"] == "fixed-cost" and tiny["latency_ms"] >= 0.02


def test_target_fixed_costs_override_the_class_defaults():
    from edgekd.backends.fixed_costs import CLASS_COSTS, TARGET_BAND
    from edgekd.profile.estimate import fixed_costs

    bare = DeviceSpec(memory_bandwidth_gbps=1.0, peak_fp32_gflops=1.0)
    assert fixed_costs(bare, "tensorrt") == CLASS_COSTS["tensorrt"]
    own = DeviceSpec(memory_bandwidth_gbps=1.0, peak_fp32_gflops=1.0, overhead_per_layer_us=9)
    f = fixed_costs(own, "tensorrt")
    assert f.per_layer_us == 9 and f.per_inference_us == CLASS_COSTS["tensorrt"].per_inference_us
    assert f.band == TARGET_BAND and "not checked" in f.source
    assert fixed_costs(bare, "no-such-runtime").per_inference_us == 0


def test_no_estimate_falls_below_its_device_class_fixed_cost(tmp_path):
    """Regression: the quickstart MLP on a Jetson was estimated at 0.1 us, which no GPU
    runtime can reach (launch and synchronisation alone cost microseconds)."""
    import torch

    from edgekd.config.load import load_target
    from edgekd.models import build_model
    from edgekd.profile.estimate import fixed_costs

    model = build_model("mlp", {"hidden": [64]}, (1, 40), 10).eval()  # the quickstart student
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, torch.zeros(1, 1, 40), str(path), input_names=["input"],
                      dynamic_axes={"input": {0: "n"}}, dynamo=False)  # fmt: skip
    layers = graph_cost(path)["layers"]
    for name in ("jetson-orin-nano", "jetson-agx-orin", "raspberry-pi-5"):
        target = load_target(name)
        fixed = fixed_costs(target.device, target.runtime)
        floor_ms = (fixed.per_inference_us + layers * fixed.per_layer_us) / 1e3
        for precision in target.precisions:
            est, _ = estimate_latency(target, path, precision, "not here")
            assert est is not None, (name, precision)
            assert est.latency_ms >= floor_ms and est.fixed_ms == pytest.approx(floor_ms)
            assert est.low_ms <= est.latency_ms <= est.high_ms and est.band_source
    nano = load_target("jetson-orin-nano")
    est, _ = estimate_latency(nano, path, "fp32", "not here")
    assert est.latency_ms >= 0.1  # 100 us per inference on the Orin Nano, not 0.1 us
