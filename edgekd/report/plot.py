"""The Pareto plot of one target as inline SVG (matplotlib), for a report.html with no network.

Latency is in milliseconds, like every table; the recommended artifact is a distinct marker
with its own bold label; every marker carries its own label (`plot_labels`). Text stays text
in the SVG (searchable, crisp at any width), and report.html scales the plot to the page.
"""

from __future__ import annotations

import io
import re

from edgekd.records import LatencySource, Role
from edgekd.report.columns import plain_number
from edgekd.report.model import ReportRow
from edgekd.report.plot_labels import MARKER_PX, Label, place_labels

ROLE_COLOURS = {Role.TEACHER: "#d62728", Role.BASELINE: "#7f7f7f", Role.DISTILLED: "#1f77b4"}
SOURCE_MARKERS = {
    LatencySource.MEASURED_LOCAL: "o",
    LatencySource.MEASURED_REMOTE: "s",
    LatencySource.ESTIMATED: "D",
}
PICK_GID = "recommended-{target}"  # the recommended marker's id in the SVG
PICK_PX = 16.0  # half the recommended star's size, px
FIGSIZE = (10.0, 4.6)  # inches at 100 dpi: about the width of report.html's content


def point_label(r: ReportRow, picked: bool = False) -> str:
    return f"{r.model}-{r.precision}" + (" (recommended)" if picked else "")


def pareto_figure(rows: list[ReportRow], target: str, pick: tuple[str, str] | None = None):
    """The figure (caller closes it): accuracy vs p90 in ms, frontier as a step line,
    estimates hollow, the pick (model, precision) starred and labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = sorted(
        (r for r in rows if r.p90_ms is not None and r.accuracy is not None),
        key=lambda r: r.p90_ms,
    )
    chosen = next((r for r in pts if (r.model, r.precision) == pick), None)
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=100)
    _points(ax, pts)
    _frontier(ax, pts)
    if chosen is not None:
        _pick(ax, chosen, PICK_GID.format(target=target))
    _legend(ax, pts)
    _x_axis(ax, [r.p90_ms for r in pts])
    ax.set_xlabel("p90 latency, batch 1 (ms)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{target}: accuracy vs p90 latency")
    ax.grid(True, alpha=0.3)
    ax.margins(x=0.12, y=0.15)
    ax.autoscale_view()
    ax.set_xlim(ax.get_xlim())  # freeze the layout: labels are placed in pixels
    ax.set_ylim(ax.get_ylim())
    fig.tight_layout()
    labels = [chosen] + [r for r in pts if r is not chosen] if chosen else pts
    marks = [
        Label(r.p90_ms, r.accuracy * 100, point_label(r, r is chosen), r is chosen,
              PICK_PX if r is chosen else MARKER_PX)
        for r in labels
    ]  # fmt: skip
    place_labels(ax, marks, fontsize=9)
    return fig


def pareto_svg(rows: list[ReportRow], target: str, pick: tuple[str, str] | None = None) -> str:
    """SVG markup of `pareto_figure`."""
    return svg_of(pareto_figure(rows, target, pick))


def svg_of(fig) -> str:
    """A figure's SVG markup, without the XML prolog and licence metadata; closes it."""
    import matplotlib.pyplot as plt

    try:
        buf = io.StringIO()
        with plt.rc_context({"svg.fonttype": "none"}):
            fig.savefig(buf, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    svg = re.sub(r"<metadata>.*?</metadata>", "", buf.getvalue(), flags=re.S)
    return svg[svg.index("<svg") :]


def _points(ax, pts: list[ReportRow]) -> None:
    """One marker per artifact: colour by role, shape by latency source, estimates hollow."""
    for r in pts:
        colour = ROLE_COLOURS.get(r.role, "#2ca02c")
        ax.scatter(
            r.p90_ms,
            r.accuracy * 100,
            marker=SOURCE_MARKERS.get(r.latency_source, "o"),
            s=60,
            facecolors="none" if r.estimated else colour,
            edgecolors=colour,
            linewidths=1.5,
            zorder=3,
        )


def _pick(ax, r: ReportRow, gid: str) -> None:
    ring = ax.scatter(
        r.p90_ms,
        r.accuracy * 100,
        marker="*",
        s=380,
        facecolors="#ffd700",
        edgecolors="black",
        linewidths=1.0,
        zorder=2.5,  # under the markers: the pick's own marker shows in its centre
    )
    ring.set_gid(gid)


def _frontier(ax, pts: list[ReportRow]) -> None:
    front = [r for r in pts if r.pareto]
    if front:
        ax.step(
            [r.p90_ms for r in front],
            [r.accuracy * 100 for r in front],
            where="post",
            color="#2ca02c",
            linewidth=1.2,
            label="Pareto frontier",
            zorder=2,
        )


def _legend(ax, pts: list[ReportRow]) -> None:
    """Outside the axes, on the right: it never hides a point or a label."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", linestyle="", color=c, label=str(role))
        for role, c in ROLE_COLOURS.items()
        if any(r.role is role for r in pts)
    ]
    for source, m in SOURCE_MARKERS.items():
        if any(r.latency_source is source for r in pts):
            hollow = source is LatencySource.ESTIMATED
            face = "none" if hollow else "black"
            handles.append(
                Line2D(
                    [],
                    [],
                    marker=m,
                    linestyle="",
                    color="black",
                    label=str(source),
                    markerfacecolor=face,
                )  # fmt: skip
            )
    handles += ax.get_legend_handles_labels()[0]
    if any((c.get_gid() or "").startswith("recommended-") for c in ax.collections):
        handles.append(
            Line2D(
                [],
                [],
                marker="*",
                linestyle="",
                markersize=13,
                markerfacecolor="#ffd700",
                markeredgecolor="black",
                label="recommended",
            )  # fmt: skip
        )
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _x_axis(ax, xs: list[float]) -> None:
    """Linear, or log when the points span more than 20x; plain tick labels either way."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    if xs and min(xs) > 0 and max(xs) > 20 * min(xs):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: plain_number(v)))
