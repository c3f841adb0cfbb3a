"""What the numbers mean for the decision, as plain sentences and small tables that
report.md and report.html both render: the pick per target, whether distillation helped,
warnings, and the recommended artifact's per-class accuracy."""

from __future__ import annotations

from dataclasses import dataclass

from edgekd.report.columns import MIB, fmt_ms
from edgekd.report.model import KdEffect, KdVerdict, Recommendation, Report, ReportRow
from edgekd.report.stats import wilson


def interval_text(report: Report) -> str:
    n = report.data.test_samples if report.data else None
    if not n:
        return ""
    return (
        f"Accuracy is measured on {n:,} test samples; `acc 95% CI` is the Wilson score "
        "interval. A distilled student's gain over its scratch twin carries Newcombe's hybrid "
        "score interval, which treats the two accuracies as independent: for two models "
        "scored on the same samples it is conservative (it errs towards 'within noise'); a "
        "difference is called a gain only when its interval lies above zero."
    )


def objective_line(report: Report) -> str:
    if report.objective is None:
        return (
            "The fastest student artifact (p90) that keeps the accuracy gate relative to the "
            "most accurate student artifact on that target; measured rows only."
        )
    some = next(iter(report.decisions.values()), None)
    what = some.objective if some else "the objective"
    return (
        f"Objective: the {what} on each target, the teacher included; only measured "
        "artifacts that pass their accuracy gate are candidates (estimates never are)."
    )


def pick_row(report: Report, target: str) -> ReportRow | None:
    rec = report.recommended.get(target)
    if rec is None:
        return None
    return next(
        (r for r in report.rows_on(target) if (r.model, r.precision) == (rec.model, rec.precision)),
        None,
    )


def pick_text(report: Report, target: str, rec: Recommendation) -> str:
    """One line: the pick with its interval, size and peak memory."""
    row = pick_row(report, target)
    parts = [f"accuracy {rec.accuracy:.2%}"]
    if row is not None and row.accuracy_ci is not None:
        parts[0] += f" (95% CI {row.accuracy_ci[0]:.1%}–{row.accuracy_ci[1]:.1%})"
    parts.append(f"p90 {fmt_ms(rec.p90_ms)} ms")
    if row is not None and row.p90_spread_ms is not None:
        lo, hi = row.p90_spread_ms
        flag = ", UNSTABLE" if row.unstable else ""
        parts[-1] += f" (rounds {fmt_ms(lo)}–{fmt_ms(hi)}{flag})"
    if row is not None and row.size_bytes is not None:
        parts.append(f"size {row.size_bytes / 1024:.1f} KB")
    if row is not None and row.peak_rss_bytes is not None:
        parts.append(f"peak RSS {row.peak_rss_bytes / MIB:.0f} MB")
    if row is not None and row.tuned_settings is not None:
        parts.append(f"tuned: {row.tuned_settings.text()}")
    return f"{rec.model} ({rec.method or rec.role}, {rec.precision}) — " + ", ".join(parts)


def kd_line(e: KdEffect) -> str:
    head = (
        f"{e.distilled} vs its scratch twin {e.scratch}: {e.distilled_accuracy:.2%} vs "
        f"{e.scratch_accuracy:.2%} on {e.test_samples:,} test samples, "
        f"{e.gain * 100:+.2f} points (95% CI {e.low * 100:+.2f} to {e.high * 100:+.2f})"
    )
    tail = {
        KdVerdict.GAIN: "a gain: the interval lies above zero.",
        KdVerdict.WITHIN_NOISE: "not a clear gain: the interval covers zero.",
        KdVerdict.NO_GAIN: "distillation did not help: the distilled student is at or below "
        "its scratch twin.",
    }[e.verdict]
    return f"{head}: {tail}"


def baseline_note(report: Report, e: KdEffect) -> str:
    """How the scratch twin was trained, beside the verdict: what "honest" means here."""
    scratch, twin = report.models.get(e.scratch), report.models.get(e.distilled)
    if scratch is None or twin is None or not scratch.steps:
        return ""
    if scratch.step_matched and twin.transfer_samples:
        return (
            f"{e.scratch} is step-matched: {scratch.steps:,} optimizer steps with the same "
            f"augmentation as {e.distilled}, over the labeled split only; it cannot use the "
            f"{twin.transfer_samples:,} unlabeled transfer inputs, which is what distillation "
            "adds."
        )
    return (
        f"{e.scratch} trains on the labeled split with the student's own schedule "
        f"({scratch.steps:,} optimizer steps) and augmentation."
    )


@dataclass(frozen=True)
class ClassLine:
    name: str
    samples: int
    correct: int
    confused_with: str  # the class it is most often mistaken for, with the count, or ""

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.samples if self.samples else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.accuracy, self.samples) if self.samples else None


def class_names(report: Report, k: int) -> list[str]:
    labels = report.data.labels if report.data else []
    return [labels[i] if i < len(labels) else str(i) for i in range(k)]


def class_lines(report: Report, row: ReportRow) -> list[ClassLine]:
    """Per class of the row's confusion matrix: test samples, correct, worst confusion."""
    m = row.confusion or []
    names = class_names(report, len(m))
    out = []
    for i, counts in enumerate(m):
        wrong = [(c, j) for j, c in enumerate(counts) if j != i and c > 0]
        c, j = max(wrong) if wrong else (0, -1)
        worst = f"{names[j]} ({c})" if wrong else ""
        out.append(ClassLine(names[i], sum(counts), counts[i] if i < len(counts) else 0, worst))
    return out


def class_cells(report: Report, row: ReportRow) -> list[tuple[ClassLine, str, str]]:
    """Each class with its accuracy and 95% interval as table text ("-" for no samples)."""
    out = []
    for c in class_lines(report, row):
        acc = "-" if c.accuracy is None else f"{c.accuracy:.1%}"
        ci = "-" if c.interval is None else f"{c.interval[0]:.1%}–{c.interval[1]:.1%}"
        out.append((c, acc, ci))
    return out
