"""What a reader must know before acting on the numbers: whether distillation helped each
student (with the 95% interval of the gain), and the warnings that make figures hard to
trust (a test split too small to separate the artifacts, a class with no test samples, a
student that is not smaller or not faster than its teacher, latency rounds that disagree)."""

from __future__ import annotations

from edgekd.records import Role, RowStatus
from edgekd.report.columns import fmt_ms
from edgekd.report.model import (
    DataSummary,
    Finding,
    FindingKind,
    KdEffect,
    KdVerdict,
    ReportRow,
)
from edgekd.report.stats import diff_interval, finite, half_width

SMALL_TEST_HALF_WIDTH = 0.02  # warn when accuracy is known to worse than ±2 points


def kd_effects(rows: list[ReportRow], n: int | None) -> list[KdEffect]:
    """Each distilled student against its scratch twin, on their PyTorch test accuracy."""
    if not n:
        return []
    twins: dict[str, dict[Role, ReportRow]] = {}
    for r in rows:
        if r.student and r.role is not Role.TEACHER and finite(r.acc_torch):
            twins.setdefault(r.student, {}).setdefault(r.role, r)
    out = []
    for student, pair in twins.items():
        d, s = pair.get(Role.DISTILLED), pair.get(Role.BASELINE)
        if d is None or s is None:
            continue
        gain, low, high = diff_interval(d.acc_torch, n, s.acc_torch, n)
        verdict = (
            KdVerdict.NO_GAIN
            if gain <= 0
            else KdVerdict.GAIN
            if low > 0
            else KdVerdict.WITHIN_NOISE
        )
        out.append(
            KdEffect(
                student=student,
                distilled=d.model,
                scratch=s.model,
                distilled_accuracy=d.acc_torch,
                scratch_accuracy=s.acc_torch,
                test_samples=n,
                gain=gain,
                low=low,
                high=high,
                verdict=verdict,
            )  # fmt: skip
        )
    return out


def findings(rows: list[ReportRow], data: DataSummary | None) -> list[Finding]:
    return (
        small_test(rows, data)
        + empty_classes(data)
        + not_smaller(rows)
        + not_faster(rows)
        + unstable_rows(rows)
    )


def small_test(rows: list[ReportRow], data: DataSummary | None) -> list[Finding]:
    n = data.test_samples if data else None
    accs = [r.accuracy for r in rows if finite(r.accuracy)]
    if not n or not accs:
        return []
    best = max(accs)
    hw = half_width(best, n)
    if hw <= SMALL_TEST_HALF_WIDTH:
        return []
    _, _, noise = diff_interval(best, n, best, n)
    text = (
        f"The test split has only {n:,} samples: an accuracy near {best:.1%} is known to "
        f"±{hw * 100:.1f} points (95% interval), and two artifacts that differ by less than "
        f"about {noise * 100:.1f} points cannot be told apart. Treat accuracy differences "
        "below that as noise, or test on more samples."
    )
    return [Finding(kind=FindingKind.SMALL_TEST_SPLIT, text=text)]


def empty_classes(data: DataSummary | None) -> list[Finding]:
    if data is None or data.test_class_counts is None:
        return []
    names = data.labels or [str(i) for i in range(len(data.test_class_counts))]
    empty = [names[i] for i, c in enumerate(data.test_class_counts) if c == 0]
    if not empty:
        return []
    one = len(empty) == 1
    some, it = ("1 class has", "it") if one else (f"{len(empty)} classes have", "them")
    text = (
        f"{some} no test samples ({', '.join(map(repr, empty[:10]))}"
        f"{', ...' if len(empty) > 10 else ''}): no accuracy is measured for {it}, and the "
        f"overall accuracy says nothing about {it}."
    )
    return [Finding(kind=FindingKind.EMPTY_TEST_CLASS, text=text)]


def _teacher(rows: list[ReportRow]) -> ReportRow | None:
    return next((r for r in rows if r.role is Role.TEACHER), None)


def not_smaller(rows: list[ReportRow]) -> list[Finding]:
    t = _teacher(rows)
    if t is None or not t.params:
        return []
    seen, out = set(), []
    for r in rows:
        if r.role is Role.TEACHER or r.model in seen or not r.params or r.params < t.params:
            continue
        seen.add(r.model)
        text = (
            f"{r.model} has {r.params:,} parameters, no fewer than its teacher ({t.model}: "
            f"{t.params:,}): it does not compress the teacher."
        )
        out.append(Finding(kind=FindingKind.STUDENT_NOT_SMALLER, text=text))
    return out


def not_faster(rows: list[ReportRow]) -> list[Finding]:
    """A student artifact measured no faster than the teacher's at the same precision."""
    measured = [r for r in rows if r.status is RowStatus.OK and finite(r.p90_ms)]
    teacher = {(r.target, r.precision): r for r in measured if r.role is Role.TEACHER}
    out = []
    for r in measured:
        t = teacher.get((r.target, r.precision))
        if r.role is Role.TEACHER or t is None or r.p90_ms < t.p90_ms:
            continue
        text = (
            f"{r.label} on {r.target} has p90 {fmt_ms(r.p90_ms)} ms, no faster than its "
            f"teacher at the same precision ({t.label}: {fmt_ms(t.p90_ms)} ms)."
        )
        out.append(Finding(kind=FindingKind.STUDENT_SLOWER, text=text))
    return out


def unstable_rows(rows: list[ReportRow]) -> list[Finding]:
    """Artifacts whose latency rounds disagree: their p90 is the median round, but the
    machine was busy while they were measured; measure again before relying on it."""
    out = []
    for r in rows:
        if not r.unstable or r.p90_spread_ms is None:
            continue
        lo, hi = r.p90_spread_ms
        text = (
            f"{r.label} on {r.target}: its {r.rounds} latency rounds disagree (p90 "
            f"{fmt_ms(lo)}–{fmt_ms(hi)} ms; reported: the median round, {fmt_ms(r.p90_ms)} "
            "ms). Other work on the machine likely interfered; profile it again on a quiet "
            "machine before relying on its latency."
        )
        out.append(Finding(kind=FindingKind.UNSTABLE_LATENCY, text=text))
    return out
