"""Build report.json, report.md and report.html from the rows of one run.

The rows come from `edgekd.report.rows`; here they get what depends on the other rows (the
speed-up over the teacher, the Pareto flag) and the run's context, and are written as a
`Report` (schema edgekd.report/3) beside its markdown and HTML renderings.
"""

from __future__ import annotations

import time
from pathlib import Path

import edgekd
from edgekd.fsutil import write_set_atomic
from edgekd.records import Role
from edgekd.report.model import ModelSummary, Report, ReportRow, TargetSummary
from edgekd.report.pareto import mark_frontier
from edgekd.report.recommend import recommendations

MODEL_KEYS = ("model", "options", "method", "scheme", "params", "flops", "acc_test")
MODEL_KEYS += ("synthetic_samples", "synthesis", "training_samples_read", "peers", "teachers")


def write_report(run_dir: Path, cfg, models, targets, rows: list[ReportRow]) -> Report:
    add_speedups(rows)
    mark_frontier(rows)
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
        rows=rows,
        recommended=recommendations(rows, cfg.accuracy_gate),
    )
    write_outputs(Path(run_dir), report)
    return report


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
