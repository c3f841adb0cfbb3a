"""Questions asked of a report: the best artifact within a latency budget; two runs compared."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from edgekd.errors import ConfigError
from edgekd.report.columns import fmt_ms
from edgekd.report.table import SHORT_SOURCE


def candidates(report: dict, target: str) -> list[dict]:
    rows = [r for r in report["rows"] if r["target"] == target]
    if not rows:
        known = sorted({r["target"] for r in report["rows"]})
        raise ConfigError(
            f"the report has no rows for target '{target}'; its targets are: {', '.join(known)}."
        )
    return [r for r in rows if r.get("p90_ms") is not None and r.get("accuracy") is not None]


def within_budget(report: dict, target: str, budget_ms: float) -> dict | None:
    """The most accurate artifact on `target` with p90 <= budget that passes its accuracy gate
    (estimated rows have no gate: they are eligible and marked); ties go to the faster one."""
    ok = [
        r
        for r in candidates(report, target)
        if r["p90_ms"] <= budget_ms and r.get("gate") in ("pass", "n/a")
    ]
    return max(ok, key=lambda r: (r["accuracy"], -r["p90_ms"])) if ok else None


def budget_message(report: dict, target: str, budget_ms: float) -> tuple[str, bool]:
    best = within_budget(report, target, budget_ms)
    if best is None:
        return f"no artifact on {target} meets p90 <= {budget_ms:g} ms.", False
    est = best.get("latency_source") == "estimated"
    note = " — ESTIMATED latency (roofline), not measured" if est else ""
    acc = f"{best['accuracy']:.2%}" + (
        " (PyTorch)" if best.get("accuracy_source") == "torch" else ""
    )
    return (
        f"best within p90 <= {budget_ms:g} ms on {target}: {best['model']} "
        f"({best.get('method') or best['role']}, {best['precision']}): accuracy {acc}, p90 "
        f"{fmt_ms(best['p90_ms'])} ms [{best['latency_source']}]{note}; bundle: "
        f"{best.get('bundle', '-')}",
        True,
    )


def key(r: dict) -> tuple:
    return (r["model"], r["target"], r["precision"])


def compare_rows(a: dict, b: dict) -> list[dict]:
    """Rows present in either run, matched on (model, target, precision)."""
    left, right = {key(r): r for r in a["rows"]}, {key(r): r for r in b["rows"]}
    out = []
    for k in list(left) + [k for k in right if k not in left]:
        ra, rb = left.get(k, {}), right.get(k, {})
        out.append({"key": k, "a": ra, "b": rb})
    return out


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_compare(a: dict, b: dict, names: tuple[str, str], console: Console | None = None):
    console = console or Console()
    table = Table(title=f"{names[0]} (A) vs {names[1]} (B)")
    for h in ("model", "target", "prec", "acc A", "acc B", "p90 A", "p90 B", "B/A", "src"):
        wide = h in ("model", "target")
        table.add_column(h, no_wrap=not wide, overflow="fold", min_width=7 if wide else None)
    for c in compare_rows(a, b):
        ra, rb = c["a"], c["b"]
        pa, pb = ra.get("p90_ms"), rb.get("p90_ms")
        ratio = f"{pb / pa:.2f}x" if pa and pb else "-"
        srcs = {s for s in (ra.get("latency_source"), rb.get("latency_source")) if s}
        table.add_row(
            *c["key"],
            _fmt(ra.get("accuracy"), ".2%"),
            _fmt(rb.get("accuracy"), ".2%"),
            "-" if pa is None else fmt_ms(pa),
            "-" if pb is None else fmt_ms(pb),
            ratio,
            "/".join(sorted(SHORT_SOURCE.get(x, x) for x in srcs)) or "-",
            style="italic yellow" if "estimated" in srcs else None,
        )
    console.print(table)
