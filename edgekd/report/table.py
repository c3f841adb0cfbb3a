"""The report as a rich table in the terminal: the columns a reader compares; the rest is in
report.md and report.json."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from edgekd.report.build import COLUMNS, cell

TERMINAL = [
    "model",
    "role",
    "target",
    "precision",
    "acc_torch",
    "acc_artifact",
    "gate",
    "params",
    "p50_ms",
    "p90_ms",
    "speedup_vs_teacher",
]
SHORT = {
    "acc_torch": "acc torch",
    "acc_artifact": "acc artifact",
    "speedup_vs_teacher": "speed-up",
    "precision": "prec",
}


def print_table(report: dict, console: Console | None = None) -> None:
    console = console or Console()
    if not console.is_terminal:
        console.width = max(console.width, 140)
    table = Table(title=f"edgekd report: {report['pipeline']} (seed {report['seed']})")
    columns = [(k, SHORT.get(k, h), f) for k, h, f in COLUMNS if k in TERMINAL]
    for key, header, _ in columns:
        table.add_column(header, no_wrap=key in ("model", "target"))
    for row in report["rows"]:
        table.add_row(*(cell(row, k, f) for k, _, f in columns))
    console.print(table)
