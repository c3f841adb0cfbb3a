"""The recommended artifact: fastest student artifact keeping the gate vs the best student."""

from __future__ import annotations

from edgekd.report.model import ReportRow
from edgekd.report.recommend import recommend, recommendations


def row(model, prec, acc, p90, role="distilled", status="ok", gate="pass", target="cpu"):
    return ReportRow(
        model=model,
        precision=prec,
        accuracy=acc,
        p90_ms=p90,
        role=role,
        status=status,
        gate=gate,
        target=target,
        runtime="onnxruntime",
        method="kd",
        bundle="b",
    )


def test_picks_fastest_within_gate_of_best():
    rows = [
        row("teacher", "fp32", 0.97, 0.05, role="teacher"),  # never recommended
        row("s", "fp32", 0.620, 0.010),
        row("s", "int8", 0.618, 0.006),  # keeps 99.7% of the best: faster, so it wins
        row("s-scratch", "int8", 0.580, 0.005, role="baseline"),  # too inaccurate
    ]
    assert (recommend(rows, "cpu", 0.99).precision, recommend(rows, "cpu", 0.99).model) == (
        "int8",
        "s",
    )


def test_failed_gate_and_estimates_are_not_recommended():
    rows = [
        row("s", "fp32", 0.62, 0.010),
        row("s", "int8", 0.62, 0.001, gate="fail"),
        row("s", "fp16", 0.62, 0.0005, status="estimated", gate="n/a"),
    ]
    assert recommend(rows, "cpu", 0.99).precision == "fp32"
    assert recommend(rows, "other", 0.99) is None
    assert set(recommendations(rows, 0.99)) == {"cpu"}
