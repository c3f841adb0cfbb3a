"""The student search's plot as inline SVG: the family's validation accuracy against p90 on
the search's target, the budget, the frontier and the pick.

Both accuracies plotted are on the validation split (what the search chooses on): hollow
after the short schedule, filled after the full recipe (finalists); candidates over the
budget were never trained and sit on the bottom edge. The frontier is drawn over the short
schedule's points, the one schedule every trained candidate shares.
"""

from __future__ import annotations

from edgekd.records import LatencySource
from edgekd.report.model import StudentSearch
from edgekd.report.pareto import pareto_front
from edgekd.report.plot import FIGSIZE, PICK_PX, _x_axis, svg_of
from edgekd.report.plot_labels import MARKER_PX, Label, place_labels

SHORT, FULL, OVER = "#7f7f7f", "#1f77b4", "#bbbbbb"


def search_figure(s: StudentSearch):
    """The figure (caller closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = [c for c in s.candidates if c.short_val_acc is not None]
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=100)
    marks = []
    for c in trained:
        marker = "D" if c.latency_source is LatencySource.ESTIMATED else "o"
        y = c.short_val_acc * 100
        ax.scatter(c.p90_ms, y, marker=marker, s=50, facecolors="none", edgecolors=SHORT, zorder=3)
        marks.append(Label(c.p90_ms, y, c.variant))
        if c.val_acc is not None:
            ax.scatter(c.p90_ms, c.val_acc * 100, marker=marker, s=60, color=FULL, zorder=3)
            marks.append(Label(c.p90_ms, c.val_acc * 100, f"{c.variant} (full)", c.picked,
                               PICK_PX if c.picked else MARKER_PX))  # fmt: skip
        if c.picked:
            star = ax.scatter(c.p90_ms, c.val_acc * 100, marker="*", s=380, color="#ffd700",
                              edgecolors="black", zorder=2.5)  # fmt: skip
            star.set_gid("search-picked")
    _frontier(ax, trained)
    ax.axvline(s.budget_ms, color="#d62728", linestyle="--", linewidth=1, label="budget")
    _layout(ax, s, [c.p90_ms for c in s.candidates], fig)
    _over_budget(ax, s)
    place_labels(ax, [m for m in marks if m.bold] + [m for m in marks if not m.bold], 8)
    return fig


def _frontier(ax, trained) -> None:
    pts = [(c.p90_ms, c.short_val_acc) for c in trained]
    front = sorted((trained[i] for i in pareto_front(pts)), key=lambda c: c.p90_ms)
    if front:
        xs, ys = [c.p90_ms for c in front], [c.short_val_acc * 100 for c in front]
        ax.step(xs, ys, where="post", color="#2ca02c", linewidth=1.2, zorder=2,
                label="frontier (short schedule)")  # fmt: skip


def _layout(ax, s: StudentSearch, xs: list[float], fig) -> None:
    from matplotlib.lines import Line2D

    _x_axis(ax, xs + [s.budget_ms])
    ax.set_xlabel(f"p90 latency, batch 1, on {s.target} ({s.precision}) (ms)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(f"{s.student}: {s.model} width x depth variants")
    ax.grid(True, alpha=0.3)
    ax.margins(x=0.12, y=0.2)
    ax.autoscale_view()
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())
    handles = [
        Line2D([], [], marker="o", linestyle="", markerfacecolor="none", color=SHORT,
               label=f"short schedule ({s.short_schedule})"),
        Line2D([], [], marker="o", linestyle="", color=FULL, label="full recipe (finalists)"),
        Line2D([], [], marker="|", linestyle="", color=OVER, markersize=12,
               label="over budget (not trained)"),
    ]  # fmt: skip
    handles += ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()


def _over_budget(ax, s: StudentSearch) -> None:
    """Untrained candidates: a tick on the bottom edge at their latency."""
    low = ax.get_ylim()[0]
    xs = [c.p90_ms for c in s.candidates if not c.in_budget]
    if xs:
        ax.scatter(xs, [low] * len(xs), marker="|", s=150, color=OVER, zorder=3, clip_on=False)


def search_svg(s: StudentSearch) -> str:
    return svg_of(search_figure(s))
