"""ExecuTorch backend: .pte from the torch model, XNNPACK delegation counts reported."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from backend_helpers import rows, tiny_run

from edgekd.backends import BACKENDS
from edgekd.config.schema import TargetConfig
from edgekd.errors import ConfigError

TARGET = TargetConfig(name="t", runtime="executorch")
STATUS = BACKENDS.get("executorch")(TARGET).status()
pytestmark = pytest.mark.skipif(not STATUS.runs_here, reason=STATUS.reason)


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


class FakeMethod:
    """Stands in for executorch's Method: rejects batches above `limit` with `error`."""

    def __init__(self, error: str, limit: int):
        self.error, self.limit = error, limit

    def execute(self, inputs):
        x = inputs[0]
        if len(x) > self.limit:
            raise RuntimeError(self.error)
        return [x.sum(dim=1, keepdim=True)]


def _runner(method):
    import torch

    from edgekd.backends.executorch import EtRunner

    runner = object.__new__(EtRunner)  # no .pte needed: only __call__ is under test
    runner.torch, runner.method, runner.max_batch, runner.threads = torch, method, 256, 1
    return runner


def test_runner_falls_back_to_batch_1_only_when_the_batch_is_rejected():
    """Regression: every RuntimeError used to be taken for the batch-size case."""
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    # what ExecuTorch 0.6+ really raises when an input exceeds the program's bounded shape
    rejected = "method->set_inputs() for method 'forward' failed with error 0x10"
    runner = _runner(FakeMethod(rejected, limit=1))
    np.testing.assert_allclose(runner(x), x.sum(1, keepdims=True))
    assert runner.max_batch == 1
    for other in ("method->execute() for method 'forward' failed with error 0x1", "oom"):
        runner = _runner(FakeMethod(other, limit=1))
        with pytest.raises(RuntimeError, match=re.escape(other)):
            runner(x)
        assert runner.max_batch == 256  # not silently degraded to batch 1
    single = _runner(FakeMethod(rejected, limit=0))
    with pytest.raises(RuntimeError, match="0x10"):  # batch 1 rejected too: a real failure
        single(x[:1])
