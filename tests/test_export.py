"""ONNX export: dynamic batch, numeric check against PyTorch, metadata stamp."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from edgekd.config.schema import ExportConfig
from edgekd.errors import ExportMismatchError
from edgekd.export.onnx import check_export, export_onnx, read_metadata
from edgekd.models import build_model


@pytest.fixture
def model_and_data():
    torch.manual_seed(0)
    model = build_model("cnn1d", {"channels": [4, 4]}, (1, 40), 10).eval()
    x = np.random.default_rng(0).standard_normal((32, 1, 40)).astype(np.float32)
    return model, x


def test_export_check_and_metadata(tmp_path, model_and_data):
    model, x = model_and_data
    path = tmp_path / "m.onnx"
    export_onnx(model, x, path, ExportConfig(), {"edgekd.model": "m"})
    result = check_export(model, path, x, ExportConfig())
    assert result["max_abs_diff"] < 1e-4 and result["argmax_agreement"] == 1.0
    assert read_metadata(path)["edgekd.model"] == "m"
    sess = ort.InferenceSession(str(path))
    assert sess.run(None, {"input": x[:7]})[0].shape == (7, 10)  # dynamic batch


def test_mismatch_raises_typed_error(tmp_path, model_and_data):
    model, x = model_and_data
    path = tmp_path / "m.onnx"
    export_onnx(model, x, path, ExportConfig(), {})
    with torch.no_grad():
        model.fc.bias.add_(0.5)  # the file no longer matches the model
    with pytest.raises(ExportMismatchError, match="differs from PyTorch"):
        check_export(model, path, x, ExportConfig())


def test_corrupt_onnx_metadata_is_user_error(tmp_path):
    from edgekd.errors import ArtifactError

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x01garbage" * 10)
    with pytest.raises(ArtifactError):
        read_metadata(bad)
