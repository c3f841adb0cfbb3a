"""Two runs side by side: per-artifact accuracy and latency deltas, and warnings when the
runs are not comparable (different data, different targets)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from edgekd.report.columns import band_text, fmt_ms
from edgekd.report.model import Report, ReportRow
from edgekd.report.stats import diff_interval, finite
from edgekd.report.table import log_width

TARGET_KEYS = ("runtime", "host", "threads", "device")


def key(r: ReportRow) -> tuple[str, str, str]:
    return (r.model, r.target, r.precision)


def compare_rows(a: Report, b: Report) -> list[tuple[tuple, ReportRow | None, ReportRow | None]]:
    """Rows present in either run, matched on (model, target, precision)."""
    left, right = {key(r): r for r in a.rows}, {key(r): r for r in b.rows}
    keys = list(left) + [k for k in right if k not in left]
    return [(k, left.get(k), right.get(k)) for k in keys]


def compare_warnings(a: Report, b: Report, names: tuple[str, str]) -> list[str]:
    return data_warnings(a, b, names) + target_warnings(a, b, names)


def data_warnings(a: Report, b: Report, names: tuple[str, str]) -> list[str]:
    hashes = [r.data.content_hash if r.data else None for r in (a, b)]
    for name, h in zip(names, hashes):
        if h is None:
            return [
                f"cannot tell whether the runs used the same data: {name}'s report records no "
                "data hash (written by an older edgekd); rerun it to compare safely."
            ]
    if hashes[0] != hashes[1]:
        return [
            f"the runs used different data (data stage {hashes[0][:12]} vs {hashes[1][:12]}): "
            "their accuracies come from different test sets and differences are not a "
            "like-for-like comparison."
        ]
    return []


def target_warnings(a: Report, b: Report, names: tuple[str, str]) -> list[str]:
    out = []
    ta, tb = set(a.target_names()), set(b.target_names())
    for only, name in ((ta - tb, names[0]), (tb - ta, names[1])):
        if only:
            out.append(f"targets only in {name}: {', '.join(sorted(only))}.")
    for t in sorted(ta & tb):
        sa, sb = a.targets.get(t), b.targets.get(t)
        if sa is None or sb is None:
            continue
        diffs = [
            f"{k} {getattr(sa, k)!r} vs {getattr(sb, k)!r}"
            for k in TARGET_KEYS
            if getattr(sa, k) != getattr(sb, k)
        ]
        if diffs:
            out.append(f"target {t} differs between the runs: {'; '.join(diffs)}.")
    return out


def accuracy_delta(a: Report, ra: ReportRow | None, rb: ReportRow | None):
    """B - A in accuracy with its 95% interval (None where either is missing)."""
    if ra is None or rb is None or not (finite(ra.accuracy) and finite(rb.accuracy)):
        return None
    n = a.data.test_samples if a.data else None
    if not n:
        return (rb.accuracy - ra.accuracy, None, None)
    return diff_interval(rb.accuracy, n, ra.accuracy, n)


def compare_doc(a: Report, b: Report, names: tuple[str, str]) -> dict:
    """The comparison as JSON: `edgekd report A --compare B --json`."""
    rows = []
    for k, ra, rb in compare_rows(a, b):
        delta = accuracy_delta(a, ra, rb)
        pa, pb = (ra.p90_ms if ra else None), (rb.p90_ms if rb else None)
        rows.append(
            {
                "model": k[0],
                "target": k[1],
                "precision": k[2],
                "a": _side(ra),
                "b": _side(rb),
                "delta_accuracy": None if delta is None else delta[0],
                "delta_accuracy_ci": None if delta is None or delta[1] is None else delta[1:],
                "delta_p90_ms": pb - pa if pa is not None and pb is not None else None,
                "p90_ratio": pb / pa if pa and pb else None,
            }  # fmt: skip
        )
    return {"a": names[0], "b": names[1], "warnings": compare_warnings(a, b, names), "rows": rows}


def _side(r: ReportRow | None) -> dict | None:
    if r is None:
        return None
    return {
        "accuracy": r.accuracy,
        "p50_ms": r.p50_ms,
        "p90_ms": r.p90_ms,
        "latency_source": None if r.latency_source is None else str(r.latency_source),
    }


def _delta_cell(delta) -> str:
    if delta is None:
        return "-"
    d, low, high = delta
    noise = low is not None and low <= 0 <= high
    return f"{d * 100:+.2f}" + ("?" if noise else "")


HEADS = ("model", "prec", "acc A", "acc B", "Δacc", "p90 A", "p90 B", "B/A")
NOTE = (
    "Δacc = B - A in points; ? = within noise (its 95% interval covers 0); "
    "~ = estimated latency (roofline), not measured."
)


def print_compare(a: Report, b: Report, names: tuple[str, str], console: Console | None = None):
    """One table per target (fits 80 columns), then the notes and the warnings."""
    console = log_width(console or Console())
    console.print(f"A = {names[0]}\nB = {names[1]}", highlight=False)
    rows = compare_rows(a, b)
    for target in dict.fromkeys(k[1] for k, _, _ in rows):
        console.print(target_table(a, target, [x for x in rows if x[0][1] == target]))
    console.print(NOTE, style="dim")
    for w in compare_warnings(a, b, names):
        console.print(f"warning: {w}", style="bold red", highlight=False)


def target_table(a: Report, target: str, rows) -> Table:
    table = Table(title=f"{target}: B vs A")
    for h in HEADS:
        table.add_column(
            h, no_wrap=h != "model", overflow="fold", min_width=7 if h == "model" else None
        )
    for k, ra, rb in rows:
        pa, pb = (ra.p90_ms if ra else None), (rb.p90_ms if rb else None)
        table.add_row(
            k[0],
            k[2],
            _fmt(ra.accuracy if ra else None, ".2%"),
            _fmt(rb.accuracy if rb else None, ".2%"),
            _delta_cell(accuracy_delta(a, ra, rb)),
            _p90_cell(ra),
            _p90_cell(rb),
            f"{pb / pa:.2f}x" if pa and pb else "-",
            style="italic yellow" if any(r is not None and r.estimated for r in (ra, rb)) else None,
        )
    return table


def _p90_cell(r: ReportRow | None) -> str:
    if r is None or r.p90_ms is None:
        return "-"
    return ("~" if r.estimated else "") + fmt_ms(r.p90_ms) + band_text(r.estimate)


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)
