"""Questions asked of a report: the best artifact within a latency budget; two runs compared."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from edgekd.errors import ConfigError
from edgekd.records import AccuracySource, Gate, LatencySource
from edgekd.report.columns import fmt_ms
from edgekd.report.model import Report, ReportRow
from edgekd.report.table import SHORT_SOURCE


def candidates(report: Report, target: str) -> list[ReportRow]:
    rows = report.rows_on(target)
    if not rows:
        raise ConfigError(
            f"the report has no rows for target '{target}'; its targets are: "
            f"{', '.join(report.target_names())}."
        )
    return [r for r in rows if r.p90_ms is not None and r.accuracy is not None]


def within_budget(report: Report, target: str, budget_ms: float) -> ReportRow | None:
    """The most accurate artifact on `target` with p90 <= budget that passes its accuracy gate
    (estimated rows have no gate: they are eligible and marked); ties go to the faster one."""
    ok = [
        r
        for r in candidates(report, target)
        if r.p90_ms <= budget_ms and r.gate in (Gate.PASS, Gate.NOT_APPLICABLE)
    ]
    return max(ok, key=lambda r: (r.accuracy, -r.p90_ms)) if ok else None


def budget_message(report: Report, target: str, budget_ms: float) -> tuple[str, bool]:
    best = within_budget(report, target, budget_ms)
    if best is None:
        return f"no artifact on {target} meets p90 <= {budget_ms:g} ms.", False
    note = " — ESTIMATED latency (roofline), not measured" if best.estimated else ""
    torch_acc = best.accuracy_source is AccuracySource.TORCH
    acc = f"{best.accuracy:.2%}" + (" (PyTorch)" if torch_acc else "")
    return (
        f"best within p90 <= {budget_ms:g} ms on {target}: {best.label}: accuracy {acc}, p90 "
        f"{fmt_ms(best.p90_ms)} ms [{best.latency_source}]{note}; bundle: "
        f"{best.bundle or '-'}",
        True,
    )


def key(r: ReportRow) -> tuple[str, str, str]:
    return (r.model, r.target, r.precision)


def compare_rows(a: Report, b: Report) -> list[tuple[tuple, ReportRow | None, ReportRow | None]]:
    """Rows present in either run, matched on (model, target, precision)."""
    left, right = {key(r): r for r in a.rows}, {key(r): r for r in b.rows}
    keys = list(left) + [k for k in right if k not in left]
    return [(k, left.get(k), right.get(k)) for k in keys]


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_compare(a: Report, b: Report, names: tuple[str, str], console: Console | None = None):
    console = console or Console()
    table = Table(title=f"{names[0]} (A) vs {names[1]} (B)")
    for h in ("model", "target", "prec", "acc A", "acc B", "p90 A", "p90 B", "B/A", "src"):
        wide = h in ("model", "target")
        table.add_column(h, no_wrap=not wide, overflow="fold", min_width=7 if wide else None)
    for k, ra, rb in compare_rows(a, b):
        pa, pb = (ra.p90_ms if ra else None), (rb.p90_ms if rb else None)
        ratio = f"{pb / pa:.2f}x" if pa and pb else "-"
        srcs = {r.latency_source for r in (ra, rb) if r is not None and r.latency_source}
        table.add_row(
            *k,
            _fmt(ra.accuracy if ra else None, ".2%"),
            _fmt(rb.accuracy if rb else None, ".2%"),
            "-" if pa is None else fmt_ms(pa),
            "-" if pb is None else fmt_ms(pb),
            ratio,
            "/".join(sorted(SHORT_SOURCE[x] for x in srcs)) or "-",
            style="italic yellow" if LatencySource.ESTIMATED in srcs else None,
        )
    console.print(table)
