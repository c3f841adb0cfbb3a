"""TensorRT backend: without TensorRT here, the bundle still holds what the device needs.

The engine build itself needs TensorRT and an NVIDIA GPU; that test is skipped, with its
reason, wherever tensorrt is not importable.
"""

from __future__ import annotations

import importlib.util
import json
import py_compile
import subprocess

import onnx
import pytest
from backend_helpers import rows, tiny_run

from edgekd.backends.tensorrt import NOT_BUILT
from edgekd.deploy import verify_bundle


def test_bundle_has_onnx_qdq_and_build_scripts(tmp_path):
    run_dir, report = tiny_run()
    jetson = rows(report, target="jetson-orin-nano")
    assert {r["precision"] for r in jetson} == {"fp32", "fp16", "int8"}
    for row in jetson:
        if importlib.util.find_spec("tensorrt") is None:
            # compiled and bundled here, latency estimated from the device's published specs
            assert row["status"] == "estimated" and row["reason"].startswith(NOT_BUILT)
            assert row["latency_source"] == "estimated" and row["acc_artifact"] is None
        bundle = run_dir / row["bundle"]
        manifest = verify_bundle(bundle)
        onnx_name = "model_qdq.onnx" if row["precision"] == "int8" else "model.onnx"
        assert onnx_name in manifest["files"]
        onnx.checker.check_model(onnx.load(str(bundle / onnx_name)))
        script = (bundle / "build_engine.sh").read_text()
        assert f"--onnx={onnx_name}" in script and "--saveEngine=model.engine" in script
        assert ("--int8" in script) == (row["precision"] == "int8")
        assert ("--fp16" in script) == (row["precision"] != "fp32")
        assert subprocess.run(["bash", "-n", str(bundle / "build_engine.sh")]).returncode == 0
        for name in ("trt_engine.py", "predict.py"):  # compiled outside the bundle
            py_compile.compile(str(bundle / name), str(tmp_path / f"{name}c"), doraise=True)
        assert not (bundle / "__pycache__").exists()
    assert "not built here: needs TensorRT" in (run_dir / "report.md").read_text()


def test_engine_built_later_on_the_device_still_verifies(tmp_path):
    import shutil

    from edgekd.errors import ArtifactError

    run_dir, report = tiny_run()
    [row] = rows(report, model="mlp-t", target="jetson-orin-nano", precision="fp16")
    bundle = tmp_path / "bundle"
    shutil.copytree(run_dir / row["bundle"], bundle)
    (bundle / "model.engine").write_bytes(b"engine built by build_engine.sh")
    assert verify_bundle(bundle)["built_on_device"] == ["model.engine"]
    (bundle / "other.bin").write_bytes(b"x")
    with pytest.raises(ArtifactError, match="not listed"):
        verify_bundle(bundle)


def test_qdq_model_is_symmetric_int8():
    run_dir, report = tiny_run()
    [row] = rows(report, model="teacher", target="jetson-orin-nano", precision="int8")
    model = onnx.load(str(run_dir / row["bundle"] / "model_qdq.onnx"))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    zero_points = [
        inits[n.input[2]] for n in model.graph.node
        if n.op_type == "QuantizeLinear" and len(n.input) > 2 and n.input[2] in inits
    ]  # fmt: skip
    assert zero_points, "no QuantizeLinear with a zero point"
    assert all(z.dtype.name == "int8" and not z.any() for z in zero_points)
    info = json.loads((run_dir / row["bundle"] / "manifest.json").read_text())["compile"]
    assert info["engine"] is None or importlib.util.find_spec("tensorrt") is not None


@pytest.mark.skipif(
    importlib.util.find_spec("tensorrt") is None,
    reason="tensorrt is not importable here (needs a Jetson or an NVIDIA GPU with TensorRT)",
)
def test_engine_builds_and_runs_where_tensorrt_exists(tmp_path):
    import numpy as np

    from edgekd.backends import trt_engine

    run_dir, report = tiny_run()
    [row] = rows(report, model="teacher", target="jetson-orin-nano", precision="fp16")
    trt_engine.build(
        str(run_dir / row["bundle"] / "model.onnx"), str(tmp_path / "m.engine"), "fp16"
    )
    runner = trt_engine.EngineRunner(str(tmp_path / "m.engine"))
    out = runner(np.zeros((2, 1, 40), np.float32))
    assert out.shape == (2, 10) and runner.last_gpu_ms > 0
