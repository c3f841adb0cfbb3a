"""The Pareto frontier over a hand-made set of points."""

from __future__ import annotations

from edgekd.report.model import ReportRow
from edgekd.report.pareto import mark_frontier, pareto_front


def test_front_on_hand_made_points():
    pts = [
        (1.0, 0.50),  # 0: front (fastest with this accuracy)
        (2.0, 0.70),  # 1: front
        (1.5, 0.40),  # 2: dominated by 0
        (3.0, 0.70),  # 3: dominated by 1 (slower, same accuracy)
        (0.5, 0.10),  # 4: front (fastest)
        (4.0, 0.90),  # 5: front (most accurate)
        (2.0, 0.60),  # 6: dominated by 1 (same speed, less accurate)
    ]
    assert pareto_front(pts) == [4, 0, 1, 5]


def test_duplicates_are_kept_and_empty_is_empty():
    assert sorted(pareto_front([(1.0, 0.5), (1.0, 0.5)])) == [0, 1]
    assert pareto_front([]) == []


def test_mark_frontier_is_per_target_and_skips_rows_without_figures():
    def row(target, p90_ms, accuracy):
        fixed = {"model": "m", "role": "distilled", "runtime": "r", "precision": "fp32"}
        return ReportRow(**fixed, status="ok", target=target, p90_ms=p90_ms, accuracy=accuracy)

    rows = [row("a", 1.0, 0.9), row("a", 2.0, 0.8), row("b", 5.0, 0.5), row("b", None, 0.99)]
    mark_frontier(rows)
    assert [r.pareto for r in rows] == [True, False, True, False]
