"""The artifact edgekd recommends per target: the answer to the user's objective.

`max_accuracy_drop: P` picks the fastest artifact (batch-1 p90) within P points of the most
accurate artifact on that target, the teacher included; `budget_ms: X` picks the most
accurate artifact with p90 <= X. The default is `max_accuracy_drop: 1`. Only measured rows
whose artifact passed its accuracy gate with a finite accuracy and p90 are candidates: an
estimate or an artifact that lost accuracy in compilation is never recommended. When the
teacher is the answer, no student paid off, and the decision says so and what to try.
"""

from __future__ import annotations

from edgekd.config.schema import Objective
from edgekd.records import Gate, Role, RowStatus
from edgekd.report.columns import fmt_ms, plain_number
from edgekd.report.model import Decision, Recommendation, ReportRow
from edgekd.report.stats import finite

DEFAULT = Objective(max_accuracy_drop=1.0)
ADVICE = [
    "a larger student (more width or depth) to narrow the capacity gap",
    "more transfer data: unlabeled inputs the teacher labels for the student",
    "a longer, patient schedule (more epochs, the same augmented view for teacher and student)",
    "a teacher assistant: distil through a model between the teacher's and student's sizes",
]


def eligible(rows: list[ReportRow], target: str) -> list[ReportRow]:
    """The rows a recommendation may rest on: measured, gate passed, finite figures."""
    return [
        r
        for r in rows
        if r.target == target
        and r.status is RowStatus.OK
        and not r.estimated
        and r.gate is Gate.PASS
        and finite(r.accuracy)
        and finite(r.p90_ms)
    ]


def objective_text(objective: Objective) -> str:
    if objective.budget_ms is not None:
        return f"most accurate artifact with batch-1 p90 <= {plain_number(objective.budget_ms)} ms"
    p = objective.max_accuracy_drop
    return f"fastest artifact (batch-1 p90) within {p:g} point{'s' * (p != 1)} of the most accurate"


def pick(pool: list[ReportRow], objective: Objective) -> ReportRow | None:
    if not pool:
        return None
    if objective.budget_ms is not None:
        ok = [r for r in pool if r.p90_ms <= objective.budget_ms]
        return max(ok, key=lambda r: (r.accuracy, -r.p90_ms)) if ok else None
    best = max(r.accuracy for r in pool)
    floor = best - objective.max_accuracy_drop / 100 - 1e-12  # points; float noise aside
    return min((r for r in pool if r.accuracy >= floor), key=lambda r: (r.p90_ms, -r.accuracy))


def recommend(rows: list[ReportRow], target: str, objective: Objective = DEFAULT):
    """The recommended row on `target`, or None when no candidate answers the objective."""
    return pick(eligible(rows, target), objective)


def describe(r: ReportRow) -> str:
    return f"{r.label} — accuracy {r.accuracy:.2%}, p90 {fmt_ms(r.p90_ms)} ms —"


def decide(rows: list[ReportRow], target: str, objective: Objective) -> Decision:
    """The decision on one target in words: the pick, or why there is none."""
    pool = eligible(rows, target)
    chosen, text = pick(pool, objective), objective_text(objective)
    if not pool:
        why = "no artifact was measured here with a passing accuracy gate"
        summary = f"Nothing to recommend on {target}: {why} (estimates are never recommended)."
        return Decision(objective=text, summary=summary)
    if chosen is None:
        fastest = min(pool, key=lambda r: r.p90_ms)
        return Decision(
            objective=text,
            summary=f"No artifact on {target} meets p90 <= {plain_number(objective.budget_ms)} ms; "
            f"the fastest is {describe(fastest)} too slow.",
        )
    if chosen.role is Role.TEACHER:
        return teacher_decision(pool, chosen, target, text)
    why = f"{chosen.label} is the {text}{versus_teacher(pool, chosen)}."
    return Decision(objective=text, summary=why)


def versus_teacher(pool: list[ReportRow], chosen: ReportRow) -> str:
    """How the pick stands against the teacher's best artifact on the same target."""
    teachers = [r for r in pool if r.role is Role.TEACHER]
    if not teachers:
        return ""
    t = max(teachers, key=lambda r: (r.accuracy, -r.p90_ms))
    drop = (t.accuracy - chosen.accuracy) * 100
    side = f"{drop:.2f} points below" if drop >= 0 else f"{-drop:.2f} points above"
    return (
        f": {t.p90_ms / chosen.p90_ms:.1f}x the speed of the teacher's best artifact, "
        f"{t.label} (p90 {fmt_ms(t.p90_ms)} ms), and {side} its accuracy"
    )


def teacher_decision(pool: list[ReportRow], chosen: ReportRow, target: str, text: str):
    students = [r for r in pool if r.role is not Role.TEACHER]
    if students:
        best = max(students, key=lambda r: (r.accuracy, -r.p90_ms))
        gap = (chosen.accuracy - best.accuracy) * 100
        detail = f" The best student artifact, {describe(best)} is {gap:.2f} points below it."
    else:
        detail = " No student artifact was measured here with a passing accuracy gate."
    return Decision(
        objective=text,
        summary=f"No student paid off on {target}: the teacher itself, {describe(chosen)} is the "
        f"{text}.{detail}",
        teacher_wins=True,
        advice=list(ADVICE),
    )


def recommendation(r: ReportRow) -> Recommendation:
    return Recommendation(
        model=r.model,
        method=r.method,
        precision=r.precision,
        accuracy=r.accuracy,
        p90_ms=r.p90_ms,
        bundle=r.bundle,
        role=r.role,
        unstable=r.unstable,
    )


def recommendations(rows: list[ReportRow], objective: Objective = DEFAULT):
    """The pick per target (targets without one are left out) and every target's decision."""
    picks, decisions = {}, {}
    for target in sorted({r.target for r in rows}):
        chosen = recommend(rows, target, objective)
        if chosen is not None:
            picks[target] = recommendation(chosen)
        decisions[target] = decide(rows, target, objective)
    return picks, decisions
