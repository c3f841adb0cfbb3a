"""The report as a rich table in the terminal: compact columns; md/html have them all."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table

from edgekd.report.columns import fmt_ms

SHORT_SOURCE = {"measured-local": "local", "measured-remote": "remote", "estimated": "est."}
NOTES = (
    "~ = roofline estimate (est.), not a measurement; * = PyTorch accuracy (artifact not run). "
    "All columns: report.md / report.html."
)


def compact_cells(row: dict) -> list[str]:
    est = row.get("latency_source") == "estimated"
    acc = row.get("accuracy")
    p90, size = row.get("p90_ms"), row.get("size_bytes")
    return [
        row["model"],
        row["target"],
        row["precision"],
        "-"
        if acc is None
        else f"{acc:.2%}" + ("*" if row.get("accuracy_source") == "torch" else ""),
        row.get("gate") or row["status"],
        "-" if p90 is None else ("~" if est else "") + fmt_ms(p90),
        "-" if size is None else f"{size / 1024:.1f}",
        SHORT_SOURCE.get(row.get("latency_source"), row["status"]),
        "yes" if row.get("pareto") else "",
    ]


HEADERS = ["model", "target", "prec", "acc", "gate", "p90 ms", "KB", "source", "front"]


def print_table(report: dict, console: Console | None = None) -> None:
    console = console or Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = max(console.width, 120)  # piped into a log: no need to wrap
    table = Table(title=f"edgekd report: {report['pipeline']} (seed {report['seed']})")
    for h in HEADERS:
        table.add_column(h, no_wrap=h not in ("model", "target"), overflow="fold")
    for row in report["rows"]:
        style = "italic yellow" if row.get("latency_source") == "estimated" else None
        table.add_row(*compact_cells(row), style=style)
    console.print(table)
    console.print(NOTES, style="dim")
