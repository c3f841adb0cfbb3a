"""Labels on a scatter plot that a reader cannot attribute to the wrong marker.

Each marker gets one annotation whose `xy` is that marker's own point. Its text goes to the
first nearby spot (right, left, above or below) that overlaps no other label or marker, stays
inside the axes and lies closer to its own marker than to any other; where no nearby spot
works the label moves further out and a leader line ties it to its point. Fixed alternating
offsets (the old way) put a label next to the neighbouring marker when two points were close.
"""

from __future__ import annotations

from dataclasses import dataclass

PAD = 2.0  # px kept free around labels
MARKER_PX = 7.0  # half the size of a marker's box, px
# (dx, dy) in points and the text's horizontal alignment; nearest first
NEAR = [(6, 4, "left"), (6, -11, "left"), (-6, 4, "right"), (-6, -11, "right"),
        (0, 9, "center"), (0, -17, "center")]  # fmt: skip
FAR = [(dx * k, dy * k, ha) for k in (2.5, 4.0, 6.0) for dx, dy, ha in NEAR]


@dataclass(frozen=True)
class Label:
    x: float  # data coordinates of the marker
    y: float
    text: str
    bold: bool = False  # the recommended point
    radius: float = MARKER_PX  # half its marker's size in px: no label may cover it


def place_labels(ax, labels: list[Label], fontsize: float = 8.0) -> list:
    """Annotate every label's point; returns the annotations in the order given. The figure's
    layout (size, axes position, limits) must be final: placement works in display pixels."""
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    markers = [(*ax.transData.transform((lb.x, lb.y)), lb.radius) for lb in labels]
    taken: list = []
    out = []
    for i, lb in enumerate(labels):
        ann = _place(ax, renderer, frame, lb, i, markers, taken, fontsize)
        taken.append(_text_box(ann, renderer))
        out.append(ann)
    return out


def _place(ax, renderer, frame, lb: Label, i: int, markers, taken, fontsize: float):
    best, best_cost = None, None
    for far, (dx, dy, ha) in [(False, c) for c in NEAR] + [(True, c) for c in FAR]:
        ann = _annotate(ax, lb, (dx, dy), ha, far, fontsize)
        cost = _cost(_text_box(ann, renderer), frame, i, markers, taken, far)
        if cost == 0:
            if best is not None:
                best.remove()
            return ann
        if best_cost is None or cost < best_cost:
            if best is not None:
                best.remove()
            best, best_cost = ann, cost
        else:
            ann.remove()
    return best  # crowded: the least bad spot, still tied to its point by a leader line


def _text_box(ann, renderer):
    """The label's text alone (an Annotation's own extent includes its leader line)."""
    from matplotlib.text import Text

    ann.update_positions(renderer)
    return Text.get_window_extent(ann, renderer)


def _annotate(ax, lb: Label, offset, ha: str, leader: bool, fontsize: float):
    arrow = {"arrowstyle": "-", "color": "#555", "linewidth": 0.7} if leader else None
    return ax.annotate(
        lb.text,
        (lb.x, lb.y),
        xytext=offset,
        textcoords="offset points",
        ha=ha,
        fontsize=fontsize,
        fontweight="bold" if lb.bold else "normal",
        arrowprops=arrow,
        zorder=5,
    )


def _cost(box, frame, i: int, markers, taken, leader: bool) -> float:
    """0 for a clean spot; otherwise how much it overlaps or how ambiguous it is."""
    box = box.padded(PAD)
    cost = 0.0
    outside = max(frame.x0 - box.x0, box.x1 - frame.x1, frame.y0 - box.y0, box.y1 - frame.y1)
    cost += max(outside, 0.0) * 10
    cost += sum(_overlap(box, t) for t in taken)
    for j, (mx, my, r) in enumerate(markers):
        cost += _overlap_xy(box, mx, my, r) if j != i else 0.0
    if not leader:  # without a leader line, the nearest marker must be its own
        own = _distance(box, *markers[i][:2])
        if any(_distance(box, m[0], m[1]) <= own for j, m in enumerate(markers) if j != i):
            cost += 1.0
    return cost


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _overlap_xy(box, x: float, y: float, r: float) -> float:
    w = min(box.x1, x + r) - max(box.x0, x - r)
    h = min(box.y1, y + r) - max(box.y0, y - r)
    return w * h if w > 0 and h > 0 else 0.0


def _distance(box, x: float, y: float) -> float:
    dx = max(box.x0 - x, 0.0, x - box.x1)
    dy = max(box.y0 - y, 0.0, y - box.y1)
    return (dx * dx + dy * dy) ** 0.5
