"""The Pareto plot of one target as inline SVG (matplotlib), for a report.html with no network."""

from __future__ import annotations

import io
import re

ROLE_COLOURS = {"teacher": "#d62728", "baseline": "#7f7f7f", "distilled": "#1f77b4"}
SOURCE_MARKERS = {"measured-local": "o", "measured-remote": "s", "estimated": "D"}


def pareto_svg(rows: list[dict], target: str) -> str:
    """SVG markup: accuracy vs p90 latency, frontier as a step line, estimates hollow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    pts = [r for r in rows if r.get("p90_ms") is not None and r.get("accuracy") is not None]
    # microseconds when every point is below 1 ms, so tick labels stay short
    scale, unit = (1e3, "us") if pts and max(r["p90_ms"] for r in pts) < 1 else (1.0, "ms")
    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=100)
    try:
        for r in pts:
            colour = ROLE_COLOURS.get(r["role"], "#2ca02c")
            hollow = r.get("latency_source") == "estimated"
            ax.scatter(
                r["p90_ms"] * scale,
                r["accuracy"] * 100,
                marker=SOURCE_MARKERS.get(r.get("latency_source"), "o"),
                s=60,
                facecolors="none" if hollow else colour,
                edgecolors=colour,
                linewidths=1.5,
                zorder=3,
            )
            ax.annotate(
                f"{r['model']}-{r['precision']}",
                (r["p90_ms"] * scale, r["accuracy"] * 100),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=8,
            )
        front = sorted((r for r in pts if r.get("pareto")), key=lambda r: r["p90_ms"])
        if front:
            ax.step(
                [r["p90_ms"] * scale for r in front],
                [r["accuracy"] * 100 for r in front],
                where="post",
                color="#2ca02c",
                linewidth=1.2,
                label="Pareto frontier",
                zorder=2,
            )
        _legend(ax, pts)
        if pts and max(r["p90_ms"] for r in pts) > 20 * min(r["p90_ms"] for r in pts):
            ax.set_xscale("log")
        ax.set_xlabel(f"p90 latency, batch 1 ({unit})")
        ax.xaxis.set_major_locator(MaxNLocator(6))
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


def _legend(ax, pts: list[dict]) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", linestyle="", color=c, label=role)
        for role, c in ROLE_COLOURS.items()
        if any(r["role"] == role for r in pts)
    ]
    for source, m in SOURCE_MARKERS.items():
        if any(r.get("latency_source") == source for r in pts):
            hollow = source == "estimated"
            handles.append(
                Line2D(
                    [],
                    [],
                    marker=m,
                    linestyle="",
                    color="black",
                    label=source,
                    markerfacecolor="none" if hollow else "black",
                )
            )
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], fontsize=8, loc="best")
