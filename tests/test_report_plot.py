"""The Pareto plot read back from matplotlib's own objects (not pixels): every marker carries
its own label, latency is in milliseconds, the recommended point is a distinct marker with
its own bold label."""

from __future__ import annotations

import re

import pytest
from matplotlib.text import Annotation, Text

from edgekd.report.model import ReportRow
from edgekd.report.pareto import mark_frontier
from edgekd.report.plot import pareto_figure, pareto_svg, point_label


def row(model, prec, acc, p90, role="distilled", source="measured-local"):
    est = source == "estimated"
    return ReportRow(
        model=model, precision=prec, accuracy=acc, p90_ms=p90, role=role, target="cpu",
        status="estimated" if est else "ok", runtime="onnxruntime", method="kd",
        latency_source=source,
    )  # fmt: skip


# distilled students next to their scratch twins: the layout that swapped labels before
CROWDED = [
    row("teacher", "fp32", 0.970, 0.0156, role="teacher"),
    row("teacher", "int8", 0.968, 0.0131, role="teacher"),
    row("mlp-s", "fp32", 0.945, 0.0066),
    row("mlp-s", "int8", 0.944, 0.0068),
    row("mlp-s-scratch", "fp32", 0.944, 0.0065, role="baseline"),
    row("mlp-s-scratch", "int8", 0.943, 0.0067, role="baseline"),
    row("mlp-m", "fp32", 0.955, 0.0090),
    row("mlp-m-scratch", "fp32", 0.952, 0.0091, role="baseline"),
    row("mlp-s", "fp16", 0.945, 0.0001, source="estimated"),
]
PICK = ("mlp-s", "fp32")


@pytest.fixture
def figure():
    import matplotlib.pyplot as plt

    rows = [r.model_copy() for r in CROWDED]
    mark_frontier(rows)
    fig = pareto_figure(rows, "cpu", PICK)
    yield fig, rows
    plt.close(fig)


def annotations(fig) -> list[Annotation]:
    return [t for t in fig.axes[0].texts if isinstance(t, Annotation)]


def test_every_marker_carries_its_own_label(figure):
    fig, rows = figure
    anns = {a.get_text(): a for a in annotations(fig)}
    assert len(anns) == len(rows)
    for r in rows:
        a = anns[point_label(r, (r.model, r.precision) == PICK)]
        assert a.xy == pytest.approx((r.p90_ms, r.accuracy * 100))  # ms, as in every table


def test_labels_sit_closest_to_their_own_marker_or_are_tied_to_it(figure):
    fig, rows = figure
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    boxes = []
    for a in annotations(fig):
        box = Text.get_window_extent(a, renderer)  # the text, without its leader line
        boxes.append(box)
        own = ax.transData.transform(a.xy)
        others = [ax.transData.transform((r.p90_ms, r.accuracy * 100)) for r in rows]
        others = [p for p in others if tuple(p) != tuple(own)]
        if a.arrow_patch is None:  # no leader line: proximity alone must say whose it is
            assert all(dist(box, own) < dist(box, p) for p in others), a.get_text()
    for i, b in enumerate(boxes):
        assert not any(b.overlaps(c) for c in boxes[i + 1 :]), "labels overlap"


def dist(box, p) -> float:
    dx = max(box.x0 - p[0], 0.0, p[0] - box.x1)
    dy = max(box.y0 - p[1], 0.0, p[1] - box.y1)
    return (dx * dx + dy * dy) ** 0.5


def test_the_recommended_point_is_starred_and_labelled(figure):
    fig, _ = figure
    ax = fig.axes[0]
    star = [c for c in ax.collections if c.get_gid() == "recommended-cpu"]
    assert len(star) == 1 and star[0].get_offsets().tolist() == [[0.0066, 94.5]]
    label = next(a for a in annotations(fig) if "(recommended)" in a.get_text())
    assert label.get_text() == "mlp-s-fp32 (recommended)" and label.get_fontweight() == "bold"
    assert "recommended" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_axis_is_in_milliseconds_with_plain_ticks(figure):
    fig, _ = figure
    ax = fig.axes[0]
    assert ax.get_xlabel() == "p90 latency, batch 1 (ms)"
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "0.001" in ticks and not any("e" in t or "$" in t for t in ticks)


def test_svg_keeps_text_and_the_pick_id():
    svg = pareto_svg([r.model_copy() for r in CROWDED], "cpu", PICK)
    assert svg.startswith("<svg") and 'id="recommended-cpu"' in svg
    assert re.search(r"<text[^>]*>mlp-s-fp32 \(recommended\)</text>", svg)
    assert "(us)" not in svg and "(ms)" in svg
    no_pick = pareto_svg([r.model_copy() for r in CROWDED], "cpu", None)
    assert "recommended" not in no_pick
