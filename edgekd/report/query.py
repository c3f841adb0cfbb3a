"""`edgekd report`: the table, the pick for another objective (`--budget-ms`, `--max-drop`),
two runs compared (`--compare`); with `--json`, stdout carries one JSON document and nothing
else, whatever other flags are given."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgekd.config.schema import Objective
from edgekd.errors import ConfigError
from edgekd.records import AccuracySource
from edgekd.report.columns import fmt_ms, plain_number
from edgekd.report.model import Report, ReportRow
from edgekd.report.narrative import pick_text
from edgekd.report.recommend import DEFAULT, recommend, recommendations


@dataclass(frozen=True)
class ReportQuery:
    json_out: bool = False
    compare: Path | None = None
    budget_ms: float | None = None
    max_drop: float | None = None
    target: str | None = None

    def objective(self) -> Objective | None:
        """The override the flags ask for; None keeps the run's own objective."""
        if self.budget_ms is not None and self.max_drop is not None:
            raise ConfigError(
                "--budget-ms and --max-drop are two objectives; give one, e.g. --budget-ms 0.5 "
                "(most accurate within 0.5 ms) or --max-drop 1 (fastest within 1 point)."
            )
        if self.budget_ms is not None:
            if self.budget_ms <= 0:
                raise ConfigError("--budget-ms must be a positive latency in ms, e.g. 0.5.")
            return Objective(budget_ms=self.budget_ms)
        if self.max_drop is not None:
            if not 0 <= self.max_drop <= 100:
                raise ConfigError("--max-drop is in accuracy points, 0 to 100, e.g. 1.")
            return Objective(max_accuracy_drop=self.max_drop)
        return None


def candidates(report: Report, target: str) -> list[ReportRow]:
    rows = report.rows_on(target)
    if not rows:
        raise ConfigError(
            f"the report has no rows for target '{target}'; its targets are: "
            f"{', '.join(report.target_names())}."
        )
    return [r for r in rows if r.p90_ms is not None and r.accuracy is not None]


def within_budget(report: Report, target: str, budget_ms: float) -> ReportRow | None:
    """The recommended artifact on `target` for the objective `budget_ms`: the most accurate
    measured, gate-passing artifact with p90 <= budget (estimates are never picked)."""
    candidates(report, target)
    return recommend(report.rows, target, Objective(budget_ms=budget_ms))


def with_objective(report: Report, objective: Objective | None) -> Report:
    """The report with its picks and decisions made for `objective` (None: as written)."""
    if objective is None:
        return report
    picks, decisions = recommendations(report.rows, objective)
    update = {"objective": objective, "recommended": picks, "decisions": decisions}
    return report.model_copy(update=update)


def decision_lines(report: Report, target: str) -> list[str]:
    """What to deploy on `target`, ending with the pick's line (or the reason there is none)."""
    objective = report.objective or DEFAULT
    rec, decision = report.recommended.get(target), report.decisions.get(target)
    lines = [decision.summary] if decision is not None else []
    lines += [f"  try {a}" for a in decision.advice] if decision is not None else []
    lines += estimate_notes(report, target, objective, rec)
    if rec is not None:
        head = (
            f"best within p90 <= {plain_number(objective.budget_ms)} ms on {target}"
            if objective.budget_ms is not None
            else f"recommended on {target}"
        )
        lines.append(f"{head}: {pick_text(report, target, rec)}; bundle: {rec.bundle or '-'}")
    return lines


def estimate_notes(report: Report, target: str, objective: Objective, rec) -> list[str]:
    """Estimated artifacts the budget would admit with a better accuracy: shown, not picked."""
    if objective.budget_ms is None:
        return []
    floor = rec.accuracy if rec is not None else -1.0
    return [
        f"  {r.label}: accuracy {r.accuracy:.2%}"
        + (" (PyTorch)" if r.accuracy_source is AccuracySource.TORCH else "")
        + f", p90 ~{fmt_ms(r.p90_ms)} ms — ESTIMATED latency (roofline), not measured: "
        "never recommended"
        for r in candidates(report, target)
        if r.estimated and r.p90_ms <= objective.budget_ms and r.accuracy > floor
    ]


def run_report(run_dir: Path, q: ReportQuery) -> int:
    """Print what the flags ask for; the exit status is 1 when --target has no pick."""
    from edgekd.report.load import load_report

    objective = q.objective()
    rep = with_objective(load_report(run_dir), objective)
    if q.target is not None:
        candidates(rep, q.target)  # an unknown target is an error, in every mode
    other = load_report(q.compare) if q.compare is not None else None
    if q.json_out:
        print(json.dumps(json_doc(rep, other, objective, (run_dir, q.compare)), indent=2))
    else:
        print_human(rep, other, q, (run_dir, q.compare))
    return 1 if q.target is not None and q.target not in rep.recommended else 0


def json_doc(rep: Report, other: Report | None, objective, paths) -> dict:
    if other is None:
        return rep.to_json()
    from edgekd.report.compare import compare_doc

    other = with_objective(other, objective)
    doc = compare_doc(rep, other, tuple(map(str, paths)))
    doc["recommended"] = {k: r.to_json()["recommended"] for k, r in (("a", rep), ("b", other))}
    return doc


def print_human(rep: Report, other: Report | None, q: ReportQuery, paths) -> None:
    if other is not None:
        from edgekd.report.compare import print_compare

        print_compare(rep, other, tuple(map(str, paths)))
    else:
        from edgekd.report.table import print_table

        print_table(rep, picks=q.target is None and q.objective() is None)
    if q.target is None and q.objective() is None:
        return
    for target in [q.target] if q.target else rep.target_names():
        for line in decision_lines(rep, target):
            print(line)
