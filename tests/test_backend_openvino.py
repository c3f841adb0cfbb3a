"""OpenVINO backend: IR files, NNCF int8 with accuracy control, runtime precisions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from backend_helpers import rows, tiny_run

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
