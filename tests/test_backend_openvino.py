"""OpenVINO backend: IR files, NNCF int8 with accuracy control, runtime precisions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from backend_helpers import rows, tiny_run
from test_bundle_predict import predict

from edgekd.backends import BACKENDS
from edgekd.config.schema import TargetConfig
from edgekd.errors import ArtifactError

TARGET = TargetConfig(
    name="t", runtime="openvino", runtime_options={"int8_mode": "accuracy_control"}
)
STATUS = BACKENDS.get("openvino")(TARGET).status()
pytestmark = pytest.mark.skipif(not STATUS.runs_here, reason=STATUS.reason)


def test_int8_uses_accuracy_control_with_gate_drop():
    run_dir, report = tiny_run()
    for row in rows(report, target="cpu-openvino", precision="int8"):
        bundle = run_dir / row["bundle"]
        assert (bundle / "model.xml").is_file() and (bundle / "model.bin").is_file()
        quant = json.loads((bundle / "manifest.json").read_text())["compile"]["quantization"]
        assert quant["method"] == "nncf.quantize_with_accuracy_control"
        assert quant["max_drop_relative"] == pytest.approx(1 - report["accuracy_gate"])
        assert quant["val_samples"] > 0
        assert isinstance(quant["fake_quantize_nodes"], int)
        assert ("note" in quant) == (quant["fake_quantize_nodes"] == 0)


def test_runtime_precisions_show_int8_layers():
    _, report = tiny_run()
    [fp32] = rows(report, model="teacher", target="cpu-openvino", precision="fp32")
    [int8] = rows(report, model="teacher", target="cpu-openvino", precision="int8")
    assert "i8" not in fp32["placement"] and "u8" not in fp32["placement"]
    assert "bf16" not in fp32["placement"]  # inference_precision f32 keeps fp32 honest
    assert "i8:" in int8["placement"] or "u8:" in int8["placement"]


def test_accuracy_control_needs_a_validation_split(tmp_path):
    run_dir, _ = tiny_run()
    onnx_path = next((run_dir / "stages").glob("export-mlp-t-*")) / "model.onnx"
    calib = np.random.default_rng(0).standard_normal((8, 1, 40)).astype(np.float32)
    with pytest.raises(ArtifactError, match="validation split"):
        BACKENDS.get("openvino")(TARGET).compile(onnx_path, "int8", calib, tmp_path, None)


def test_bf16_is_run_and_gated_where_the_cpu_has_it():
    """bf16 rows: the fp32 IR marked bf16 (rt_info), run with INFERENCE_PRECISION_HINT=bf16,
    accuracy measured on the artifact and gated; skipped with the reason on CPUs without it."""
    import openvino as ov

    from edgekd.backends.base import bf16_support

    run_dir, report = tiny_run()
    native, why = bf16_support()
    bf16 = rows(report, target="cpu-openvino", precision="bf16")
    assert bf16
    for row in bf16:
        if not native:
            assert row["status"] == "skipped" and "bf16 not offered" in row["reason"]
            continue
        assert row["status"] == "ok" and row["acc_artifact"] is not None
        assert row["gate"] in ("pass", "fail") and "bf16:" in row["placement"]
        bundle = run_dir / row["bundle"]
        manifest = json.loads((bundle / "manifest.json").read_text())
        assert manifest["compile"]["execution"] == {
            "inference_precision": "bf16", "cpu_here": why, "native": True
        }  # fmt: skip
        model = ov.Core().read_model(str(bundle / "model.xml"))
        assert model.get_rt_info(["edgekd", "inference_precision"]).astype(str) == "bf16"
        applied = json.loads(predict(bundle, "--print-settings").stdout)  # runs as measured
        assert applied["INFERENCE_PRECISION_HINT"] == "bf16"
    for row in rows(report, target="cpu-openvino", precision="fp32", status="ok"):
        applied = json.loads(predict(run_dir / row["bundle"], "--print-settings").stdout)
        assert applied["INFERENCE_PRECISION_HINT"] == "f32"


def test_bf16_needs_a_bf16_cpu(monkeypatch, tmp_path):
    """Decided from CPU flags: no bf16 artifact is built or loaded as if it were f32."""
    from edgekd.backends import openvino
    from edgekd.errors import RuntimeMissingError

    monkeypatch.setattr(openvino, "bf16_support", lambda: (False, "CPU has no bf16"))
    backend = BACKENDS.get("openvino")(TARGET)
    assert (
        backend.precision_unsupported("bf16") == "bf16 not offered on this machine: CPU has no bf16"
    )
    assert backend.precision_unsupported("fp32") == ""
    remote = TARGET.model_copy(update={"host": "ssh://pi@host"})
    assert BACKENDS.get("openvino")(remote).precision_unsupported("bf16") == ""  # its CPU decides
    with pytest.raises(RuntimeMissingError, match="needs a bf16 CPU"):
        openvino.plugin_config(1, backend.options, artifact="bf16")
    import openvino as ov

    x = ov.opset13.parameter([1, 4], ov.Type.f32)
    model = ov.Model([ov.opset13.relu(x)], [x])
    model.set_rt_info("bf16", openvino.RT_PRECISION)
    ov.save_model(model, str(tmp_path / "model.xml"))
    with pytest.raises(RuntimeMissingError, match="needs a bf16 CPU"):  # not "corrupt file"
        backend.load(tmp_path)
    monkeypatch.setattr(openvino, "bf16_support", lambda: (True, "CPU has amx_bf16"))
    config = openvino.plugin_config(1, backend.options, artifact="bf16")
    assert config["INFERENCE_PRECISION_HINT"] == "bf16"
    assert openvino.plugin_config(1, backend.options)["INFERENCE_PRECISION_HINT"] == "f32"


# ---------------------------------------------------------------- static shapes, binding
def dynamic_model(reshape_to: list[int] | None = None):
    """x [?, 4] -> x @ W (W known), optionally through a fixed Reshape that only some
    batches can take."""
    import openvino as ov

    x = ov.opset13.parameter([-1, 4], ov.Type.f32, name="x")
    w = ov.opset13.constant(np.arange(8, dtype=np.float32).reshape(4, 2))
    y = ov.opset13.matmul(x, w, False, False)
    if reshape_to:
        y = ov.opset13.reshape(y, ov.opset13.constant(np.array(reshape_to)), False)
    return ov.Model([y], [x])


def test_each_fed_shape_runs_on_a_static_copy_up_to_a_limit():
    import openvino as ov

    from edgekd.backends.ov_shared import StaticShapes

    core = ov.Core()
    model = dynamic_model()
    compiled = []

    def compile_model(m):
        compiled.append([list(i.shape) for i in m.inputs])
        return core.compile_model(m, "CPU")

    dynamic = core.compile_model(model, "CPU").create_infer_request()
    shapes = StaticShapes(model, compile_model, dynamic, limit=2)
    one = shapes.request(((1, 4),))
    assert one is not dynamic and shapes.request(((1, 4),)) is one  # compiled once
    assert shapes.request(((3, 4),)) is not dynamic
    assert shapes.request(((5, 4),)) is dynamic  # past the limit
    assert compiled == [[[1, 4]], [[3, 4]]]
    assert model.inputs[0].partial_shape.is_dynamic  # the model read is left as it was
    x = np.ones((1, 4), np.float32)
    np.testing.assert_allclose(one.infer({0: x})[0], x @ np.arange(8).reshape(4, 2))


def test_a_shape_the_graph_refuses_falls_back_to_the_dynamic_model():
    import openvino as ov

    from edgekd.backends.ov_shared import StaticShapes

    core = ov.Core()
    model = dynamic_model(reshape_to=[3, 2])  # valid for batch 3 only
    dynamic = core.compile_model(model, "CPU").create_infer_request()
    shapes = StaticShapes(model, lambda m: core.compile_model(m, "CPU"), dynamic)
    assert shapes.request(((1, 4),)) is dynamic and ((1, 4),) in shapes.refused
    assert shapes.request(((3, 4),)) is not dynamic


def test_the_runner_binds_a_sample_once_and_still_sees_new_data(tmp_path):
    """Feeding the same array again skips rebinding it (as benchmark_app binds once), yet an
    in-place change, a new array, a non-contiguous one and another batch all give their own
    results."""
    import openvino as ov

    from edgekd.backends.openvino import Options, OvRunner

    ov.save_model(dynamic_model(), str(tmp_path / "model.xml"))
    runner = OvRunner(tmp_path / "model.xml", 1, Options())
    w = np.arange(8, dtype=np.float32).reshape(4, 2)
    x = np.ones((1, 4), np.float32)
    np.testing.assert_allclose(runner(x), x @ w)
    bound = runner.bound
    np.testing.assert_allclose(runner(x), x @ w)
    assert runner.bound is bound  # not bound again
    x[0, 0] = 5.0  # the input is shared with the runtime: seen without rebinding
    np.testing.assert_allclose(runner(x), x @ w)
    y = np.full((1, 4), 2.0, np.float32)
    np.testing.assert_allclose(runner(y), y @ w)
    strided = np.arange(16, dtype=np.float32).reshape(2, 8)[:, ::2]
    np.testing.assert_allclose(runner(strided), strided @ w)
    np.testing.assert_allclose(runner({"x": strided}), strided @ w)
    assert runner.describe()["static_shapes"] == [[[1, 4]], [[2, 4]]]
    with pytest.raises(ArtifactError, match="no input 'y'"):
        runner({"y": x})
