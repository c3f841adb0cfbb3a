"""Listings that read at any terminal width: a table where every word fits its column, one
block per entry where it would not (a table squeezed into 80 columns breaks words mid-way).

Cells are plain text (`rich.text.Text`), never markup: `list[int]` or `[done]` print as
written.
"""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.table import Table
from rich.text import Text

INDENT = "  "


def show(title: str, columns: list[str], rows: list[list[str]], console: Console | None = None):
    """Print `rows` under `columns`: a table if no word must be broken, else blocks."""
    console = console or Console()
    widths = column_widths(columns, rows, console.width - 3 * len(columns) - 1)
    if widths is None:
        print(blocks(title, columns, rows, console.width))
        return
    table = Table(title=title)
    for col, width in zip(columns, widths):
        table.add_column(col, width=width, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)


def column_widths(columns: list[str], rows: list[list[str]], room: int) -> list[int] | None:
    """Widths that hold every word of a column whole and share what is left of `room` (the
    width less borders and padding) by how much each column could use; None if the words
    alone do not fit."""
    cells = [[col, *(row[i] for row in rows)] for i, col in enumerate(columns)]
    least = [max(len(w) for c in cs for w in c.split() or [""]) for cs in cells]
    most = [max(len(line) for c in cs for line in c.splitlines() or [""]) for cs in cells]
    if sum(least) > room:
        return None
    spare, wants = room - sum(least), [m - n for m, n in zip(most, least)]
    if sum(wants) <= spare:
        return most
    return [n + want * spare // sum(wants) for n, want in zip(least, wants)]


def blocks(title: str, columns: list[str], rows: list[list[str]], width: int) -> str:
    """The first column as a heading, then each other column as `name: value`, wrapped at
    `width` between words (a word longer than the line stays whole)."""
    out = [title, ""]
    for row in rows:
        out.append(row[0])
        for col, cell in zip(columns[1:], row[1:]):
            lines = [line for line in cell.splitlines() if line.strip()] or ["-"]
            if len(lines) == 1:
                out += wrap(f"{col}: {lines[0]}", width, INDENT, INDENT * 3)
                continue
            out.append(f"{INDENT}{col}:")
            for line in lines:
                out += wrap(line, width, INDENT * 2, INDENT * 4)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    return textwrap.wrap(
        text,
        width=max(width, 20),
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]
