"""ONNX Runtime backend: int8 mode choice, reduce_range from CPU features, QDQ per-channel."""

from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import pytest
from backend_helpers import rows, tiny_run

from edgekd.backends import cpu_flags, int8_reduce_range
from edgekd.backends.ortquant import choose_int8_mode
from edgekd.config.schema import TargetConfig
from edgekd.deploy import load_bundle


def test_reduce_range_follows_vnni(tmp_path):
    assert int8_reduce_range({"sse4_2", "avx2"})[0] is True
    assert int8_reduce_range({"avx2", "avx512_vnni"})[0] is False
    assert int8_reduce_range({"fp", "asimd", "asimddp"})[0] is False
    assert int8_reduce_range(set())[0] is True
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx_vnni\n")
    assert "avx_vnni" in cpu_flags(info)
    assert cpu_flags(tmp_path / "missing") == set()


def _onnx(run_dir, label):
    return next((run_dir / "stages").glob(f"export-{label}-*")) / "model.onnx"


def test_int8_mode_auto_by_op_mix():
    run_dir, _ = tiny_run()
    assert choose_int8_mode(_onnx(run_dir, "teacher"), "auto")[0] == "static"
    assert choose_int8_mode(_onnx(run_dir, "mlp-t"), "auto")[0] == "dynamic"
    assert choose_int8_mode(_onnx(run_dir, "mlp-t"), "static")[0] == "static"


def test_static_int8_is_per_channel_qdq_with_recorded_decision():
    run_dir, report = tiny_run()
    [row] = rows(report, model="teacher", target="cpu-onnxruntime", precision="int8")
    manifest = json.loads((run_dir / row["bundle"] / "manifest.json").read_text())
    quant = manifest["compile"]["quantization"]
    assert quant["mode"] == "static" and "Conv" in quant["mode_reason"]
    assert quant["reduce_range"] == int8_reduce_range()[0]
    assert quant["reduce_range_reason"] == int8_reduce_range()[1]
    model = onnx.load(str(run_dir / row["bundle"] / "model.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    inits = {i.name: i for i in model.graph.initializer}
    per_channel = [
        n for n in model.graph.node
        if n.op_type == "DequantizeLinear" and n.input[1] in inits
        and len(onnx.numpy_helper.to_array(inits[n.input[1]]).shape) == 1
        and onnx.numpy_helper.to_array(inits[n.input[1]]).size > 1
    ]  # fmt: skip
    assert per_channel, "no per-channel weight scales found"


def test_dynamic_int8_for_mlp():
    run_dir, report = tiny_run()
    [row] = rows(report, model="mlp-t", target="cpu-onnxruntime", precision="int8")
    ops = {n.op_type for n in onnx.load(str(run_dir / row["bundle"] / "model.onnx")).graph.node}
    assert ops & {"DynamicQuantizeLinear", "MatMulInteger", "DynamicQuantizeMatMul"}
    assert row["gate"] in ("pass", "fail") and row["acc_artifact"] is not None


def test_fp16_compiles_and_runs_close(tmp_path):
    from edgekd.backends.onnxruntime import OnnxRuntimeBackend

    run_dir, report = tiny_run()
    backend = OnnxRuntimeBackend(TargetConfig(name="t", runtime="onnxruntime"))
    x = np.random.default_rng(0).standard_normal((16, 1, 40)).astype(np.float32)
    info = backend.compile(_onnx(run_dir, "teacher"), "fp16", x, tmp_path)
    assert info["precision"] == "fp16"
    _, ref = load_bundle(run_dir / rows(report, model="teacher", precision="fp32")[0]["bundle"])
    got = backend.load(tmp_path)(x)
    assert onnx.load(str(tmp_path / "model.onnx")).graph.initializer[0].data_type == 10  # FLOAT16
    np.testing.assert_allclose(got, ref(x), atol=5e-2, rtol=5e-2)


def test_remote_target_row_is_not_measured_here():
    run_dir, report = tiny_run()
    pi = rows(report, target="raspberry-pi-5")
    assert pi and all(r["status"] == "estimated" for r in pi)  # roofline, labelled so
    assert all(r["latency_source"] == "estimated" for r in pi)
    assert all("not measured here" in r["reason"] for r in pi)
    assert all((run_dir / r["bundle"] / "model.onnx").is_file() for r in pi)
    assert "not measured here" in (run_dir / "report.md").read_text()


@pytest.mark.parametrize("bad", [{"int8_mode": "fastest"}, {"reduce_rang": "on"}])
def test_bad_runtime_options_are_config_errors(tmp_path, bad):
    import yaml

    from edgekd.config.load import load_target
    from edgekd.errors import ConfigError

    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "runtime": "onnxruntime", "runtime_options": bad}))
    with pytest.raises(ConfigError, match="runtime_options"):
        load_target(str(path))


def _matmul_onnx(path):
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "w"], ["logits"])],
        "mm",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(w, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_quantizing_leaves_the_callers_log_levels_alone(tmp_path):
    """Regression: the quantizer wrapper set the root logger to ERROR for good."""
    from edgekd.backends import ortquant

    src = _matmul_onnx(tmp_path / "m.onnx")
    calib = np.random.default_rng(1).standard_normal((16, 8)).astype(np.float32)
    root, ort_log = logging.getLogger(), logging.getLogger("onnxruntime")
    saved = root.level, ort_log.level
    try:
        root.setLevel(logging.INFO)
        ort_log.setLevel(logging.WARNING)
        ortquant.quantize_static(src, tmp_path / "s.onnx", calib, reduce_range=False)
        assert (root.level, ort_log.level) == (logging.INFO, logging.WARNING)
        ortquant.quantize_dynamic(src, tmp_path / "d.onnx", reduce_range=False)
        assert (root.level, ort_log.level) == (logging.INFO, logging.WARNING)
    finally:
        root.setLevel(saved[0])
        ort_log.setLevel(saved[1])
    assert (tmp_path / "s.onnx").is_file() and (tmp_path / "d.onnx").is_file()
