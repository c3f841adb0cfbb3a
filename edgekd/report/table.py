"""The report as a rich table in the terminal: compact columns; md/html have them all."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table

from edgekd.records import AccuracySource, LatencySource
from edgekd.report.columns import band_text, fmt_ms
from edgekd.report.model import Report, ReportRow

SHORT_SOURCE = {
    LatencySource.MEASURED_LOCAL: "local",
    LatencySource.MEASURED_REMOTE: "remote",
    LatencySource.ESTIMATED: "est.",
}
NOTES = (
    "~ = estimate (roofline + fixed costs) with its error band, not a measurement; "
    "* = PyTorch accuracy (artifact not run). "
    "All columns: report.md / report.html."
)


def compact_cells(row: ReportRow) -> list[str]:
    acc, p90, size, est = row.accuracy, row.p90_ms, row.size_bytes, row.estimate
    torch_acc = row.accuracy_source is AccuracySource.TORCH
    return [
        row.model,
        row.target,
        row.precision,
        "-" if acc is None else f"{acc:.2%}" + ("*" if torch_acc else ""),
        str(row.gate or row.status),
        "-" if p90 is None else ("~" if row.estimated else "") + fmt_ms(p90) + band_text(est),
        "-" if size is None else f"{size / 1024:.1f}",
        SHORT_SOURCE.get(row.latency_source, str(row.status)),
        "yes" if row.pareto else "",
    ]


def log_width(console: Console) -> Console:
    """Piped into a log (no terminal, no COLUMNS): at least 120 columns, no need to wrap."""
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = max(console.width, 120)
    return console


HEADERS = ["model", "target", "prec", "acc", "gate", "p90 ms", "KB", "source", "front"]


def print_table(report: Report, console: Console | None = None, picks: bool = True) -> None:
    """The compact table, then (unless `picks` is False) what to deploy on each target."""
    console = log_width(console or Console())
    table = Table(title=f"edgekd report: {report.pipeline} (seed {report.seed})")
    for h in HEADERS:
        table.add_column(h, no_wrap=h not in ("model", "target"), overflow="fold")
    for row in report.rows:
        style = "italic yellow" if row.estimated else None
        table.add_row(*compact_cells(row), style=style)
    console.print(table)
    console.print(NOTES, style="dim")
    if picks:
        for line in pick_lines(report):
            console.print(line, highlight=False, markup=False)


def pick_lines(report: Report) -> list[str]:
    """Per target: the pick, or in plain words why there is none or why it is the teacher."""
    from edgekd.report.narrative import pick_text

    out = []
    for target in report.target_names():
        rec, decision = report.recommended.get(target), report.decisions.get(target)
        if rec is not None and (decision is None or not decision.teacher_wins):
            out.append(f"recommended on {target}: {pick_text(report, target, rec)}")
        elif decision is not None:
            out.append(decision.summary)
            out += [f"  try {a}" for a in decision.advice]
    return out
