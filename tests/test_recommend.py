"""The recommended artifact answers the objective: fastest within P points of the most
accurate artifact (the teacher included), or most accurate within a p90 budget; measured,
gate-passing rows with finite figures only. Hand-made reports where the teacher wins, where a
student wins, and where no artifact meets the budget."""

from __future__ import annotations

import math

import pytest

from edgekd.config.schema import Objective, PipelineConfig
from edgekd.config.validate import validate
from edgekd.errors import ConfigError
from edgekd.records import Role
from edgekd.report.model import ReportRow
from edgekd.report.recommend import decide, recommend, recommendations

DROP1 = Objective(max_accuracy_drop=1.0)


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
        method="kd" if role == "distilled" else str(role),
        bundle=f"deploy/{target}/{model}-{prec}",
        latency_source="estimated" if status == "estimated" else "measured-local",
    )


TEACHER = row("teacher", "fp32", 0.970, 0.0156, role="teacher")
STUDENTS_WIN = [
    TEACHER,
    row("s", "fp32", 0.965, 0.0080),
    row("s", "int8", 0.962, 0.0052),  # within 1 point of the teacher and fastest: the pick
    row("s-scratch", "int8", 0.950, 0.0050, role="baseline"),  # faster, 2 points below
]
TEACHER_WINS = [
    TEACHER,
    row("s", "fp32", 0.620, 0.0052),
    row("s-scratch", "fp32", 0.600, 0.0050, role="baseline"),
]


def test_a_student_wins_within_one_point_of_the_teacher():
    pick = recommend(STUDENTS_WIN, "cpu", DROP1)
    assert (pick.model, pick.precision) == ("s", "int8")
    d = decide(STUDENTS_WIN, "cpu", DROP1)
    assert not d.teacher_wins and d.advice == []
    assert "s (kd, int8) is the fastest" in d.summary
    assert "3.0x the speed of the teacher's" in d.summary
    assert "0.80 points below" in d.summary


def test_the_teacher_wins_and_the_report_says_no_student_paid_off():
    pick = recommend(TEACHER_WINS, "cpu", DROP1)
    assert pick.role is Role.TEACHER
    d = decide(TEACHER_WINS, "cpu", DROP1)
    assert d.teacher_wins and d.summary.startswith("No student paid off on cpu")
    assert "s (kd, fp32)" in d.summary and "35.00 points below" in d.summary
    assert any("larger student" in a for a in d.advice)
    assert any("transfer data" in a for a in d.advice)
    assert any("teacher assistant" in a for a in d.advice)
    picks, decisions = recommendations(TEACHER_WINS, DROP1)
    assert picks["cpu"].model == "teacher" and picks["cpu"].role is Role.TEACHER
    assert decisions["cpu"].teacher_wins


def test_max_drop_sets_the_tolerance_in_points():
    assert recommend(STUDENTS_WIN, "cpu", Objective(max_accuracy_drop=0)).model == "teacher"
    assert recommend(STUDENTS_WIN, "cpu", Objective(max_accuracy_drop=0.5)).precision == "fp32"
    assert recommend(STUDENTS_WIN, "cpu", Objective(max_accuracy_drop=2)).model == "s-scratch"


def test_budget_picks_the_most_accurate_within_it():
    assert recommend(STUDENTS_WIN, "cpu", Objective(budget_ms=0.01)).precision == "fp32"
    assert recommend(STUDENTS_WIN, "cpu", Objective(budget_ms=1.0)).model == "teacher"
    assert recommend(STUDENTS_WIN, "cpu", Objective(budget_ms=0.0051)).model == "s-scratch"
    assert decide(STUDENTS_WIN, "cpu", Objective(budget_ms=1.0)).teacher_wins


def test_a_budget_no_artifact_meets_names_the_fastest():
    tight = Objective(budget_ms=0.001)
    assert recommend(STUDENTS_WIN, "cpu", tight) is None
    d = decide(STUDENTS_WIN, "cpu", tight)
    assert d.summary.startswith("No artifact on cpu meets p90 <= 0.001 ms")
    fastest = "the fastest is s-scratch (baseline, int8) — accuracy 95.00%, p90 0.00500 ms"
    assert fastest in d.summary
    picks, decisions = recommendations(STUDENTS_WIN, tight)
    assert picks == {} and "cpu" in decisions


def test_failed_gate_estimates_and_nan_are_never_recommended_nor_the_reference():
    rows = [
        row("s", "fp32", 0.62, 0.010),
        row("s", "int8", 0.99, 0.001, gate="fail"),  # most accurate and fastest: lost in compile
        row("s", "fp16", 0.99, 0.0005, status="estimated", gate="n/a"),
        row("t", "fp32", math.nan, 0.0001, role="teacher"),
    ]
    assert recommend(rows, "cpu", DROP1).precision == "fp32"  # 0.62 is the reference
    assert recommend(rows, "cpu", Objective(budget_ms=0.002)) is None
    assert recommend(rows, "other", DROP1) is None
    picks, decisions = recommendations(rows, DROP1)
    assert set(picks) == {"cpu"}
    only_estimates = [row("s", "fp16", 0.99, 0.0005, status="estimated", gate="n/a")]
    d = decide(only_estimates, "cpu", DROP1)
    assert "Nothing to recommend" in d.summary and "estimates are never recommended" in d.summary


@pytest.mark.parametrize(
    "objective, ok",
    [({}, False), ({"budget_ms": 1, "max_accuracy_drop": 1}, False), ({"budget_ms": 0}, False),
     ({"budget_ms": 0.5}, True), ({"max_accuracy_drop": 2}, True), ({"max_drop": 1}, False)],
)  # fmt: skip
def test_pipeline_objective_takes_exactly_one_key(objective, ok):
    doc = {"name": "p", "students": [{"name": "s", "model": "mlp"}], "objective": objective}
    if ok:
        assert validate(PipelineConfig, doc, "p.yaml").objective == Objective(**objective)
    else:
        with pytest.raises(ConfigError, match="objective"):
            validate(PipelineConfig, doc, "p.yaml")


def test_default_objective_is_one_point():
    cfg = validate(PipelineConfig, {"name": "p", "students": [{"name": "s", "model": "mlp"}]}, "p")
    assert cfg.objective == DROP1
