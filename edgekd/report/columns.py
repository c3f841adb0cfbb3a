"""Report columns and cell formatting shared by the markdown, HTML and terminal tables."""

from __future__ import annotations

import math

from edgekd.records import AccuracySource, Estimate, LayerProfile
from edgekd.report.model import ReportRow

# (key, header, format). FULL goes to report.md/html; COMPACT fits an 80-120 column terminal.
FULL = [
    ("model", "model", "{}"),
    ("role", "role", "{}"),
    ("method", "method", "{}"),
    ("target", "target", "{}"),
    ("precision", "prec", "{}"),
    ("acc_torch", "acc (torch)", "{:.2%}"),
    ("acc_artifact", "acc (artifact)", "{:.2%}"),
    ("accuracy_ci", "acc 95% CI", "{}"),
    ("gate", "gate", "{}"),
    ("params", "params", "{:,}"),
    ("flops", "FLOPs", "{:,}"),
    ("p50_ms", "p50 ms", "{:.4g}"),
    ("p90_ms", "p90 ms", "{:.4g}"),
    ("p90_spread_ms", "p90 rounds min–max", "{}"),
    ("p99_ms", "p99 ms", "{:.4g}"),
    ("load_ms", "load ms", "{}"),
    ("first_inference_ms", "1st inference ms", "{}"),
    ("throughput", "samples/s", "{:,.0f}"),
    ("size_bytes", "size KB", "{}"),
    ("peak_rss_bytes", "peak RSS MB", "{}"),
    ("speedup_vs_teacher", "speed-up vs teacher", "{:.2f}x"),
    ("latency_source", "latency source", "{}"),
    ("pareto", "Pareto", "{}"),
    ("placement", "placement", "{}"),
]
COMPACT = [
    ("model", "model", "{}"),
    ("target", "target", "{}"),
    ("precision", "prec", "{}"),
    ("accuracy", "acc", "{:.2%}"),
    ("gate", "gate", "{}"),
    ("p90_ms", "p90 ms", "{:.4g}"),
    ("size_bytes", "KB", "{}"),
    ("latency_source", "source", "{}"),
    ("pareto", "front", "{}"),
]
MIB = 1024 * 1024
OPTIONAL = ("p90_spread_ms",)  # shown only where some row has it (reports before rounds)


def columns_for(rows: list[ReportRow], columns=FULL) -> list:
    """`columns` without the optional ones no row fills: an older report renders as it did."""
    return [c for c in columns if c[0] not in OPTIONAL or any(getattr(r, c[0]) for r in rows)]


def fmt_ms(v: float) -> str:
    """Milliseconds, never in scientific notation: below 1 ms at least 4 decimals and 3
    significant digits (edge models often take a few microseconds: 0.00652 ms)."""
    if not math.isfinite(v):
        return str(v)
    if v <= 0 or v >= 1:
        return f"{v:.2f}" if v < 100 else f"{v:.0f}"
    return f"{v:.{max(4, 2 - math.floor(math.log10(v)))}f}"


def plain_number(v: float) -> str:
    """Plain decimals, never 1e-05 (plot ticks, budgets as typed): 0.005, 0.25, 2."""
    text = f"{float(f'{v:.6g}'):.10f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def cell(row: ReportRow, key: str, fmt: str) -> str:
    """A column's cell; column keys are ReportRow field names (tests/test_report_model.py)."""
    v = getattr(row, key)
    if key == "pareto":
        return "yes" if v else ""
    if v is None:
        return "-"
    if key == "size_bytes":
        return f"{v / 1024:.1f}"
    if key == "peak_rss_bytes":
        return f"{v / MIB:.0f}"
    if key == "accuracy_ci":
        return f"{v[0]:.1%}–{v[1]:.1%}"
    if key == "p90_spread_ms":
        return spread_text(row)
    text = fmt_ms(v) if key.endswith("_ms") else fmt.format(v)
    if key.endswith("_ms") and row.estimated:
        return f"~{text} (est.){band_text(row.estimate)}"
    if key == "accuracy" and row.accuracy_source is AccuracySource.TORCH:
        return f"{text} (torch)"
    return text


def spread_text(row: ReportRow) -> str:
    """`0.0067–0.0600 (5 rounds) UNSTABLE`: the round p90s' range, flagged where they
    disagree (see edgekd.profile.rounds)."""
    if row.p90_spread_ms is None:
        return "-"
    lo, hi = row.p90_spread_ms
    text = f"{fmt_ms(lo)}–{fmt_ms(hi)} ({row.rounds} rounds)"
    return text + (" UNSTABLE" if row.unstable else "")


def split_text(layers: LayerProfile) -> str:
    """Where the time went, for runtimes that say (ExecuTorch: delegated / not delegated)."""
    total = sum(layers.split_us.values())
    if not total:
        return ""
    parts = [f"{k} {us:.1f} us ({us / total:.0%})" for k, us in sorted(layers.split_us.items())]
    return "; " + ", ".join(parts)


def band_text(estimate: Estimate | None) -> str:
    """' [0.05–0.45]' (the estimate's error band in ms), '' where none was recorded."""
    if estimate is None or estimate.low_ms is None or estimate.high_ms is None:
        return ""
    return f" [{fmt_ms(estimate.low_ms)}–{fmt_ms(estimate.high_ms)}]"
