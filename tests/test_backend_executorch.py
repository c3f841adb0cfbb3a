"""ExecuTorch backend: .pte from the torch model, XNNPACK delegation counts reported."""

from __future__ import annotations

import json

import numpy as np
import pytest
from backend_helpers import rows, tiny_run

from edgekd.backends import BACKENDS
from edgekd.config.schema import TargetConfig
from edgekd.errors import ConfigError

TARGET = TargetConfig(name="t", runtime="executorch")
pytestmark = pytest.mark.skipif(
    BACKENDS.get("executorch")(TARGET).available() is not None,
    reason=f"executorch not installed: {BACKENDS.get('executorch')(TARGET).available()}",
)


def test_delegation_counts_in_compile_info_and_report():
    run_dir, report = tiny_run()
    for row in rows(report, target="mobile-executorch"):
        manifest = json.loads((run_dir / row["bundle"] / "manifest.json").read_text())
        placement = manifest["compile"]["placement"]
        assert placement["delegated_ops"] > 0 and placement["delegated_subgraphs"] > 0
        assert placement["non_delegated_ops"] == sum(placement["non_delegated_by_op"].values())
        assert "delegated" in row["placement"]
        assert (run_dir / row["bundle"] / "model.pte").read_bytes()[4:8] == b"ET12"
    md = (run_dir / "report.md").read_text()
    assert "ops delegated" in md


def test_compile_needs_the_torch_model(tmp_path):
    calib = np.zeros((4, 1, 40), np.float32)
    with pytest.raises(ConfigError, match="PyTorch model"):
        BACKENDS.get("executorch")(TARGET).compile(tmp_path / "m.onnx", "fp32", calib, tmp_path)


def test_2d_resnet_pte_runs_any_batch(tmp_path):
    """Delegated 2-D ResNets can keep the export example's batch size; the runner must still
    return correct outputs for larger batches (regression: set_inputs error 0x10)."""
    import torch

    from edgekd.backends import BACKENDS
    from edgekd.backends.executorch import export_pte
    from edgekd.config.load import load_target
    from edgekd.models import build_model

    torch.manual_seed(0)
    model = build_model("resnet", {"depth": 8, "width": 4}, (3, 16, 16), 10).eval()
    calib = np.random.default_rng(0).random((16, 3, 16, 16), dtype=np.float32)
    export_pte(model, calib, "fp32", tmp_path / "model.pte", 256)
    runner = BACKENDS.get("executorch")(load_target("mobile-executorch")).load(tmp_path)
    for n in (1, 32):
        x = np.random.default_rng(n).random((n, 3, 16, 16), dtype=np.float32)
        np.testing.assert_allclose(
            runner(x), model(torch.from_numpy(x)).detach().numpy(), atol=1e-4
        )
