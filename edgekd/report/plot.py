"""The Pareto plot of one target as inline SVG (matplotlib), for a report.html with no network."""

from __future__ import annotations

import io
import re

from edgekd.records import LatencySource, Role
from edgekd.report.model import ReportRow

ROLE_COLOURS = {Role.TEACHER: "#d62728", Role.BASELINE: "#7f7f7f", Role.DISTILLED: "#1f77b4"}
SOURCE_MARKERS = {
    LatencySource.MEASURED_LOCAL: "o",
    LatencySource.MEASURED_REMOTE: "s",
    LatencySource.ESTIMATED: "D",
}


def pareto_svg(rows: list[ReportRow], target: str) -> str:
    """SVG markup: accuracy vs p90 latency, frontier as a step line, estimates hollow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [r for r in rows if r.p90_ms is not None and r.accuracy is not None]
    # microseconds when every point is below 1 ms, so tick labels stay short
    scale, unit = (1e3, "us") if pts and max(r.p90_ms for r in pts) < 1 else (1.0, "ms")
    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=100)
    try:
        _points(ax, pts, scale)
        _frontier(ax, pts, scale)
        _legend(ax, pts)
        _x_axis(ax, [r.p90_ms * scale for r in pts])
        ax.set_xlabel(f"p90 latency, batch 1 ({unit})")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{target}: accuracy vs p90 latency")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    svg = buf.getvalue()
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)  # RDF licence boilerplate
    return svg[svg.index("<svg") :]


def _points(ax, pts: list[ReportRow], scale: float) -> None:
    """One marker per artifact: colour by role, shape by latency source, estimates hollow."""
    for i, r in enumerate(sorted(pts, key=lambda r: r.p90_ms)):
        colour = ROLE_COLOURS.get(r.role, "#2ca02c")
        ax.scatter(
            r.p90_ms * scale,
            r.accuracy * 100,
            marker=SOURCE_MARKERS.get(r.latency_source, "o"),
            s=60,
            facecolors="none" if r.estimated else colour,
            edgecolors=colour,
            linewidths=1.5,
            zorder=3,
        )
        ax.annotate(
            f"{r.model}-{r.precision}",
            (r.p90_ms * scale, r.accuracy * 100),
            textcoords="offset points",
            xytext=(5, 4 if i % 2 == 0 else -11),  # alternate: neighbours overlap less
            fontsize=8,
        )


def _frontier(ax, pts: list[ReportRow], scale: float) -> None:
    front = sorted((r for r in pts if r.pareto), key=lambda r: r.p90_ms)
    if front:
        ax.step(
            [r.p90_ms * scale for r in front],
            [r.accuracy * 100 for r in front],
            where="post",
            color="#2ca02c",
            linewidth=1.2,
            label="Pareto frontier",
            zorder=2,
        )


def _legend(ax, pts: list[ReportRow]) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", linestyle="", color=c, label=str(role))
        for role, c in ROLE_COLOURS.items()
        if any(r.role is role for r in pts)
    ]
    for source, m in SOURCE_MARKERS.items():
        if any(r.latency_source is source for r in pts):
            hollow = source is LatencySource.ESTIMATED
            handles.append(
                Line2D(
                    [],
                    [],
                    marker=m,
                    linestyle="",
                    color="black",
                    label=str(source),
                    markerfacecolor="none" if hollow else "black",
                )
            )
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], fontsize=8, loc="best")


def _x_axis(ax, xs: list[float]) -> None:
    """Linear, or log when the points span more than 20x; plain tick labels either way."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    if xs and min(xs) > 0 and max(xs) > 20 * min(xs):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.xaxis.set_major_formatter(plain)
