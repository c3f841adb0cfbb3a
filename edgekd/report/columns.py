"""Report columns and cell formatting shared by the markdown, HTML and terminal tables."""

from __future__ import annotations

from edgekd.records import AccuracySource
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
    ("gate", "gate", "{}"),
    ("params", "params", "{:,}"),
    ("flops", "FLOPs", "{:,}"),
    ("p50_ms", "p50 ms", "{:.4g}"),
    ("p90_ms", "p90 ms", "{:.4g}"),
    ("p99_ms", "p99 ms", "{:.4g}"),
    ("throughput", "samples/s", "{:,.0f}"),
    ("peak_rss_bytes", "peak RSS MB", "{}"),
    ("size_bytes", "size KB", "{}"),
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


def fmt_ms(v: float) -> str:
    """Milliseconds with 4 decimals below 1 ms (edge models are often tens of microseconds)."""
    return f"{v:.4f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


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
    text = fmt_ms(v) if key.endswith("_ms") else fmt.format(v)
    if key.endswith("_ms") and row.estimated:
        return f"~{text} (est.)"
    if key == "accuracy" and row.accuracy_source is AccuracySource.TORCH:
        return f"{text} (torch)"
    return text
