"""Build report.json, report.md and report.html from the rows of one run.

The rows come from `edgekd.report.rows`; here they get what depends on the other rows (the
speed-up over the teacher, the Pareto flag) and the run's context, and are written as a
`Report` (schema edgekd.report/4) beside its markdown and HTML renderings, with what the
numbers mean for the decision: the pick per target for the pipeline's objective, each
accuracy's 95% interval, whether distillation helped, and warnings.
"""

from __future__ import annotations

import time
from pathlib import Path

import edgekd
from edgekd.config.schema import Objective
from edgekd.fsutil import write_set_atomic
from edgekd.records import Role
from edgekd.report.data import data_summary
from edgekd.report.findings import findings, kd_effects
from edgekd.report.model import (
    AgreementReference,
    DataSummary,
    ModelSummary,
    Report,
    ReportRow,
    StudentSearch,
    TargetSummary,
)
from edgekd.report.pareto import mark_frontier
from edgekd.report.recommend import recommendations
from edgekd.report.stats import finite, wilson

MODEL_KEYS = ("model", "options", "method", "scheme", "params", "flops", "acc_test")
MODEL_KEYS += ("synthetic_samples", "synthesis", "training_samples_read", "peers", "teachers")
MODEL_KEYS += ("steps", "step_matched", "transfer_samples")


def write_report(
    run_dir: Path,
    cfg,
    models,
    targets,
    rows: list[ReportRow],
    *,
    reference: dict | None = None,
    search: dict | None = None,
) -> Report:
    """`reference`: the reference stage's info, when rows carry agreement with the teacher;
    `search`: the student search's record (edgekd.search.student.record)."""
    report = Report(
        edgekd_version=edgekd.__version__,
        pipeline=cfg.name,
        seed=cfg.seed,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        dataset=cfg.data.dataset,
        accuracy_gate=cfg.accuracy_gate,
        profile=cfg.profile.model_dump(mode="json"),
        targets={t.name: target_summary(t) for t in targets},
        models={m.label: model_summary(m.role, m.stage.info) for m in models},
        **conclusions(rows, cfg.objective, data_summary(run_dir, models)),
        agreement_reference=agreement_reference(reference),
        student_search=StudentSearch.model_validate(search) if search else None,
    )
    write_outputs(Path(run_dir), report)
    return report


def conclusions(rows: list[ReportRow], objective: Objective, data: DataSummary | None) -> dict:
    """What the rows mean together: speed-ups, intervals, the Pareto flags (set on the rows),
    then the pick and decision per target, the KD verdicts and the warnings (Report fields)."""
    add_speedups(rows)
    add_intervals(rows, data)
    mark_frontier(rows)
    picks, decisions = recommendations(rows, objective)
    return {
        "rows": rows,
        "recommended": picks,
        "objective": objective,
        "decisions": decisions,
        "data": data,
        "kd": kd_effects(rows, data.test_samples if data else None),
        "findings": findings(rows, data),
    }


def write_outputs(run_dir: Path, report: Report) -> None:
    """All three files, or none: each is rendered, then staged whole, before any is renamed
    into place, with report.json (what `edgekd report` reads) last."""
    import json

    from edgekd.report.html import render_html
    from edgekd.report.markdown import render_markdown

    files = {
        "report.md": render_markdown(report).encode(),
        "report.html": render_html(report).encode(),
        "report.json": (json.dumps(report.to_json(), indent=2) + "\n").encode(),
    }
    write_set_atomic(run_dir, files, last="report.json")


def agreement_reference(info: dict | None) -> AgreementReference | None:
    if info is None:
        return None
    keys = AgreementReference.model_fields
    return AgreementReference(**{k: v for k, v in info.items() if k in keys})


def target_summary(t) -> TargetSummary:
    return TargetSummary(
        runtime=t.runtime,
        host=t.host,
        threads=t.threads,
        description=t.description,
        device=t.device.model_dump(mode="json", exclude_none=True),
    )


def model_summary(role: Role, info: dict) -> ModelSummary:
    return ModelSummary(role=role, **{k: info[k] for k in MODEL_KEYS if k in info})


def add_speedups(rows: list[ReportRow]) -> None:
    """p50 of the teacher (fp32, same target, same kind of figure) over each row's p50."""
    base = {
        (r.target, r.latency_source): r.p50_ms
        for r in rows
        if r.role is Role.TEACHER and r.precision == "fp32" and r.p50_ms
    }
    for r in rows:
        b = base.get((r.target, r.latency_source))
        r.speedup_vs_teacher = b / r.p50_ms if b and r.p50_ms else None


def add_intervals(rows: list[ReportRow], data: DataSummary | None) -> None:
    """The 95% Wilson interval of each row's accuracy over the test split."""
    n = data.test_samples if data else None
    for r in rows:
        r.accuracy_ci = wilson(r.accuracy, n) if n and finite(r.accuracy) else None
