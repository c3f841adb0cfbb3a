"""Progress output: rich bars on a terminal, plain lines otherwise (CI logs, pipes).

Every line is printed as text, never as rich markup, so `[done]` and `[cached]` survive on a
terminal too. `quiet_third_party` keeps known, harmless third-party notices out of it.
"""

from __future__ import annotations

import logging
import sys
import warnings
from contextlib import contextmanager

from rich.console import Console

# (logger, start of its message): notices from libraries edgekd calls that a user cannot act on
QUIET_LOGS = (
    ("torch.utils._pytree", "%s is an Enum subclass and is now natively supported"),
    ("torchao", "Failed to load "),  # its optional CUDA kernel libraries, on a CPU machine
)
# (category, message regex, module regex): narrow, each names the one notice it hides
QUIET_WARNINGS = (
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated", ""),
    (DeprecationWarning, "", r"onnxscript(\.|$)"),
    (FutureWarning, "", r"onnxscript(\.|$)"),
    (DeprecationWarning, "", r"onnx(\.|$)"),
)


class _DropMessages(logging.Filter):
    def __init__(self, starts: tuple[str, ...]):
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


def quiet_third_party() -> None:
    """Hide the notices in QUIET_LOGS and QUIET_WARNINGS (and nothing else): a torch
    deprecation logged while torchao registers its types, torchao's note that its CUDA
    kernels do not load on a CPU machine, onnxscript/onnx deprecations."""
    for name, start in QUIET_LOGS:
        logging.getLogger(name).addFilter(_DropMessages((start,)))
    for category, message, module in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


class Reporter:
    def __init__(self, quiet: bool = False):
        self.console = Console(stderr=True)
        self.quiet = quiet
        self.live = self.console.is_terminal and not quiet

    def line(self, text: str) -> None:
        if self.quiet:
            return
        if self.live:
            self.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=sys.stderr, flush=True)

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
        with self._bar() as bar:
            tid = bar.add_task(description, total=total, info="")

            def advance(**metrics):
                info = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
                bar.update(tid, advance=1, info=info)

            yield advance

    def _bar(self):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = (
            TextColumn("  {task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}", markup=False),
            TimeElapsedColumn(),
        )
        return Progress(*columns, console=self.console, transient=False)
