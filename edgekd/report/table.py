"""The report as a rich table in the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from edgekd.report.build import COLUMNS, cell


def print_table(report: dict, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"edgekd report: {report['pipeline']} (seed {report['seed']})")
    for _, header, _ in COLUMNS:
        table.add_column(header, overflow="fold")
    for row in report["rows"]:
        table.add_row(*(cell(row, k, f) for k, _, f in COLUMNS))
    console.print(table)
