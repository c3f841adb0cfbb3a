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


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_2d_resnet_pte_keeps_its_dynamic_batch(tmp_path, precision):
    """Regression: XNNPACK lowering of 2-D convs narrowed the batch to 15 (a guard from ATen's
    NNPACK test `batch >= 16` on the export example), so batch 32 failed with error 0x10."""
    import torch

    from edgekd.backends.executorch import export_pte
    from edgekd.config.load import load_target
    from edgekd.models import build_model

    torch.manual_seed(0)
    model = build_model("resnet", {"depth": 8, "width": 4}, (3, 16, 16), 10).eval()
    calib = np.random.default_rng(0).random((16, 3, 16, 16), dtype=np.float32)
    info = export_pte(model, calib, precision, tmp_path / "model.pte", 64)
    assert info["max_batch"] == 64 and info["placement"]["delegated_ops"] > 0
    runner = BACKENDS.get("executorch")(load_target("mobile-executorch")).load(tmp_path)
    assert runner.describe()["max_batch"] == 64  # one call per batch of up to 64, no chunks
    one = runner(calib[:1])
    for n in (1, 32, 64):
        x = np.random.default_rng(n).random((n, 3, 16, 16), dtype=np.float32)
        out = runner(x)
        assert out.shape == (n, 10)
        if precision == "fp32":
            expect = model(torch.from_numpy(x)).detach().numpy()
            np.testing.assert_allclose(out, expect, atol=1e-4)
    np.testing.assert_allclose(runner(np.repeat(calib[:1], 64, 0))[:1], one, atol=1e-5)


def test_compile_refuses_a_program_whose_batch_was_narrowed(tmp_path, monkeypatch):
    """A lowering guard that still narrows the batch fails the build with what to do, so
    neither the worker nor the bundle's predict.py meets error 0x10 later."""
    from edgekd.backends import executorch
    from edgekd.backends.base import CompileContext
    from edgekd.errors import ArtifactError

    monkeypatch.setattr(executorch, "export_pte", lambda *a: {"placement": {}, "max_batch": 15})
    backend = BACKENDS.get("executorch")(TARGET)
    context = CompileContext(load_model=lambda: __import__("torch").nn.Identity())
    with pytest.raises(ArtifactError, match=r"at most 15.*max_batch=256.*max_batch to 15"):
        backend.compile(tmp_path / "m.onnx", "fp32", np.zeros((2, 4), np.float32), tmp_path,
                        context)  # fmt: skip


def test_layer_profile_from_etdump(tmp_path):
    """ETDump per-operator times: XNNPACK ops and portable kernels in one top-10 table, with
    delegated / not-delegated time per run."""
    import torch

    from edgekd.backends.executorch import export_pte
    from edgekd.models import build_model

    torch.manual_seed(0)
    model = build_model("resnet", {"depth": 8, "width": 4}, (3, 16, 16), 10).eval()
    calib = np.random.default_rng(0).random((4, 3, 16, 16), dtype=np.float32)
    export_pte(model, calib, "fp32", tmp_path / "model.pte", 8)
    prof = BACKENDS.get("executorch")(TARGET).layer_profile(tmp_path, calib[:1], 5)
    assert "ETDump" in prof.tool and prof.runs == 5 and 0 < len(prof.top) <= 10
    assert set(prof.split_us) == {"delegated", "not delegated"}
    assert sum(prof.split_us.values()) == pytest.approx(prof.total_us)
    assert prof.split_us["delegated"] > prof.split_us["not delegated"] > 0
    types = {op.op_type for op in prof.top}
    assert any("Convolution" in t and "XnnpackBackend" in t for t in types)
    assert sum(op.share for op in prof.top) <= 1 + 1e-9
    assert [op.mean_us for op in prof.top] == sorted((op.mean_us for op in prof.top), reverse=True)


def _event(name=None, instr=0, start=0, end=0, op=None):
    from types import SimpleNamespace

    return SimpleNamespace(name=name, instruction_id=instr, start_time=start, end_time=end,
                           delegate_debug_id_str=op)  # fmt: skip


def test_etdump_events_split_delegate_calls_into_ops_and_glue():
    """Synthetic ETDump events (ns): a delegate call of 10 us holding ops of 3 and 4 us, a
    portable kernel of 2 us; XNNPACK's whole-us op times are averaged, the rest medians."""
    from edgekd.backends.et_profile import node_times, summarize

    names = {0: ("kernel", "aten::view_copy.out"), 1: ("delegate", "XnnpackBackend")}
    run = [
        _event("OPERATOR_CALL", 0, 0, 2000),
        _event(None, 1, 3000, 6000, "Convolution (NHWC, F32) IGEMM #1"),
        _event(None, 1, 6000, 10000, "Fully Connected (NC, F32) GEMM #1"),
        _event("DELEGATE_CALL", 1, 2000, 12000),
        _event("Method::execute", 0, 0, 13000),
    ]
    times, coarse = node_times([run, run], names)
    prof = summarize(times, coarse, 2)
    got = [(op.name, op.op_type, op.mean_us) for op in prof.top]
    assert got == [
        ("Fully Connected (NC, F32) GEMM #1 @1", "Fully Connected (NC, F32) GEMM (XnnpackBackend)",
         4.0),
        ("Convolution (NHWC, F32) IGEMM #1 @1", "Convolution (NHWC, F32) IGEMM (XnnpackBackend)",
         3.0),
        ("XnnpackBackend call @1, outside its ops", "delegate glue", 3.0),
        ("aten::view_copy.out @0", "aten::view_copy.out (not delegated)", 2.0),
    ]  # fmt: skip
    assert prof.total_us == pytest.approx(12.0)
    assert prof.split_us == {"delegated": 10.0, "not delegated": 2.0}
