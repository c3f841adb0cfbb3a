"""bf16 as a precision: decided from CPU flags, skipped with a reason where the CPU lacks it,
and gated on the compiled artifact's accuracy like every other precision."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgekd.backends.base import bf16_support
from edgekd.config.schema import TargetConfig
from edgekd.records import Gate, Role


@pytest.mark.parametrize(
    ("flags", "native", "says"),
    [
        ({"avx512f", "avx512_bf16", "amx_bf16"}, True, "amx_bf16, avx512_bf16"),
        ({"avx512f", "avx512_vnni"}, False, "no bf16 instructions"),
        (set(), False, "unreadable"),
    ],
)
def test_bf16_support_from_cpu_flags(flags, native, says):
    ok, why = bf16_support(flags)
    assert ok is native and says in why


def test_plan_skips_bf16_with_the_reason_where_the_cpu_lacks_it(monkeypatch):
    from edgekd.backends import openvino
    from edgekd.deploy_flow import Action, plan

    monkeypatch.setattr(openvino, "bf16_support", lambda: (False, "CPU has no bf16 (test)"))
    model = SimpleNamespace(label="s", role="distilled", student="s",
                            stage=SimpleNamespace(info={}))  # fmt: skip
    target = TargetConfig(name="cpu-ov", runtime="openvino", precisions=["fp32", "bf16"])
    steps = {s.precision: s for s in plan([model], [target])}
    assert steps["bf16"].action is Action.SKIP
    assert steps["bf16"].reason == "bf16 not offered on this machine: CPU has no bf16 (test)"
    assert steps["fp32"].action is not Action.SKIP


def test_bf16_rows_are_gated_like_int8():
    """The gate is generic (report/rows.py): a bf16 artifact that loses accuracy fails it."""
    from edgekd.report.rows import Built, Subject, measured_row

    prof = {
        "latency": {"p50_ms": 0.1, "p90_ms": 0.1, "queries": 100},
        "load_ms": 1.0,
        "throughput": {"samples_per_s": 10.0, "batch": 8},
        "source": "measured-local",
    }
    s = Subject("s", Role.DISTILLED, "s", {"acc_test": 0.90}, "cpu-ov", "openvino", "bf16")
    built = Built({"bytes": 10}, "deploy/cpu-ov/s-bf16", "layers bf16:3")
    kept = measured_row(s, built, prof | {"acc_artifact": 0.895}, gate=0.99)
    lost = measured_row(s, built, prof | {"acc_artifact": 0.85}, gate=0.99)
    assert (kept.precision, kept.gate, lost.gate) == ("bf16", Gate.PASS, Gate.FAIL)
