"""The profiling worker: a fresh process per artifact, raw samples, memory, per-layer top 10."""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
import onnx
import pytest

from edgekd.backends.onnxruntime import parse_ort_trace
from edgekd.config.schema import ProfileConfig, TargetConfig
from edgekd.errors import ArtifactError
from edgekd.profile.isolate import profile_artifact
from edgekd.profile.latency import nearest_rank
from edgekd.profile.layers import TOP_N, summarize_nodes
from edgekd.profile.protocol import make_spec

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

QUICK = ProfileConfig(tier="quick", min_queries=50, layer_runs=5)


@pytest.fixture(scope="module")
def deep_onnx(tmp_path_factory):
    """An MLP with 12 Linear+Tanh blocks: more than ten nodes even after ORT's fusions."""
    import torch

    folder = tmp_path_factory.mktemp("deep")
    layers = []
    for _ in range(12):
        layers += [torch.nn.Linear(32, 32), torch.nn.Tanh()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(32, 4)).eval()
    path = folder / "model.onnx"
    torch.onnx.export(
        model,
        torch.zeros(1, 32),
        str(path),
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "n"}},
        dynamo=False,
    )
    return path


def ort_target(**kw) -> TargetConfig:
    return TargetConfig(name="cpu-onnxruntime", runtime="onnxruntime", threads=1, **kw)


def test_worker_runs_in_a_fresh_process_without_torch(deep_onnx, tmp_path):
    x = np.random.default_rng(0).standard_normal((40, 32)).astype(np.float32)
    y = np.zeros(40, dtype=np.int64)
    np.savez(tmp_path / "data.npz", x_test=x, y_test=y)
    spec = make_spec(
        deep_onnx.parent, "model.onnx", ort_target(), QUICK, [32], tmp_path / "data.npz"
    )
    res = profile_artifact(spec)
    assert res["source"] == "measured-local"
    assert res["environment"]["torch_loaded"] is False  # torch is loaded in *this* process
    lat, samples = res["latency"], sorted(res["samples_ms"])
    assert lat["queries"] == len(samples) >= 50
    assert lat["p99_ms"] == nearest_rank(samples, 99)  # stats come from the saved raw samples
    rounds = res["latency_rounds"]  # except p50/p90: the medians over rounds
    assert sum(rounds["queries_per_round"]) == len(samples) and rounds["count"] == QUICK.rounds
    assert lat["p90_ms"] == rounds["p90_median_ms"] == statistics.median(rounds["p90_ms"])
    assert lat["min_ms"] <= lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    assert res["load_ms"] > 0 and res["first_inference_ms"] > 0
    assert res["memory"]["peak_rss_bytes"] >= res["memory"]["rss_before_load_bytes"] > 0
    assert res["artifact_bytes"] == deep_onnx.stat().st_size
    assert res["versions"]["onnxruntime"]
    assert res["environment"]["placement"]["intra_op_threads"] == 1
    assert 0.0 <= res["acc_artifact"] <= 1.0
    assert res["throughput"]["batch"] == QUICK.throughput_batch


def test_ort_layer_profile_is_the_ten_slowest_real_nodes(deep_onnx):
    spec = make_spec(deep_onnx.parent, "model.onnx", ort_target(), QUICK, [32])
    layers = profile_artifact(spec)["layers"]
    top = layers["top"]
    assert layers["tool"] == "onnxruntime profiler" and layers["nodes"] > TOP_N
    assert len(top) == TOP_N
    assert [t["mean_us"] for t in top] == sorted((t["mean_us"] for t in top), reverse=True)
    assert 0 < sum(t["share"] for t in top) <= 1.0 + 1e-9
    graph_ops = {n.op_type for n in onnx.load(str(deep_onnx)).graph.node}
    assert any(t["op_type"] in graph_ops | {"FusedGemm"} for t in top)


def test_openvino_layer_counters(deep_onnx, tmp_path):
    ov = pytest.importorskip("openvino", reason="openvino not installed")
    ov.save_model(ov.convert_model(str(deep_onnx)), str(tmp_path / "model.xml"))
    target = TargetConfig(name="cpu-openvino", runtime="openvino", threads=1)
    spec = make_spec(tmp_path, "model.xml", target, QUICK, [32], files=["model.xml", "model.bin"])
    res = profile_artifact(spec)
    assert res["versions"]["openvino"] and res["latency"]["p50_ms"] > 0
    layers = res["layers"]
    assert layers["tool"] == "openvino PERF_COUNT" and 0 < len(layers["top"]) <= TOP_N
    assert all(t["mean_us"] >= 0 for t in layers["top"])


def test_parse_ort_trace_keeps_only_the_last_runs():
    def run(ts):
        return {"cat": "Session", "name": "model_run", "ts": ts}

    def node(ts, name, op, dur):
        return {
            "cat": "Node",
            "name": f"{name}_kernel_time",
            "ts": ts,
            "dur": dur,
            "args": {"op_name": op},
        }

    trace = [
        run(0),
        node(1, "a", "Gemm", 1000),
        run(10),
        node(11, "a", "Gemm", 6),
        node(12, "b", "Relu", 2),
        run(20),
        node(21, "a", "Gemm", 4),
    ]
    per_node = parse_ort_trace(trace, runs=2)  # the warm-up run at ts 0 is dropped
    assert per_node == {("a", "Gemm"): 10.0, ("b", "Relu"): 2.0}  # runs x per-run median
    summary = summarize_nodes(per_node, 2, "t")
    assert summary.top[0].mean_us == 5.0 and math.isclose(summary.total_us, 6.0)
    # one preempted run does not move a node's figure: the median of 3 runs ignores it
    trace3 = [run(0), node(1, "a", "Gemm", 5), run(10), node(11, "a", "Gemm", 900),
              run(20), node(21, "a", "Gemm", 6)]  # fmt: skip
    assert parse_ort_trace(trace3, runs=3) == {("a", "Gemm"): 18.0}


def test_corrupt_artifact_is_a_clear_error_from_the_worker(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"not an onnx file")
    spec = make_spec(tmp_path, "model.onnx", ort_target(), QUICK, [32])
    with pytest.raises(ArtifactError, match="ONNX Runtime cannot load"):
        profile_artifact(spec)


def test_worker_rejects_an_unknown_spec(tmp_path):
    import subprocess
    import sys

    (tmp_path / "spec.json").write_text(json.dumps({"schema": "other"}))
    proc = subprocess.run(
        [sys.executable, "-m", "edgekd.profile.worker", str(tmp_path / "spec.json")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "spec schema" in proc.stderr
