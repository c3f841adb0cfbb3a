"""Progress output: rich bars on a terminal, plain lines otherwise (CI logs, pipes)."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from rich.console import Console


class Reporter:
    def __init__(self, quiet: bool = False):
        self.console = Console(stderr=True)
        self.quiet = quiet
        self.live = self.console.is_terminal and not quiet

    def line(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, highlight=False) if self.live else print(
                text, file=sys.stderr, flush=True
            )

    @contextmanager
    def task(self, description: str, total: int):
        """Yields `advance(**metrics)`; draws a bar live or prints a line per step."""
        if not self.live:
            step = {"n": 0}

            def advance(**metrics):
                step["n"] += 1
                if not self.quiet and (step["n"] == total or step["n"] % max(1, total // 5) == 0):
                    shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
                    self.line(f"  {description}: {step['n']}/{total} {shown}")

            yield advance
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = (
            TextColumn("  {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=False) as bar:
            tid = bar.add_task(description, total=total, info="")

            def advance(**metrics):
                info = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
                bar.update(tid, advance=1, info=info)

            yield advance
