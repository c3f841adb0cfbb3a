"""The Pareto frontier of accuracy (higher is better) against p90 latency (lower is better)."""

from __future__ import annotations

from collections.abc import Sequence

from edgekd.report.model import ReportRow


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates, fastest first.

    A point dominates another when it is at least as fast and at least as accurate and
    strictly better in one of the two. Exact duplicates are all kept.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best_acc = float("-inf")
    last: tuple[float, float] | None = None
    for i in order:
        lat, acc = points[i]
        if acc > best_acc or (last is not None and (lat, acc) == last):
            front.append(i)
            best_acc = max(best_acc, acc)
            last = (lat, acc)
    return front


def mark_frontier(rows: list[ReportRow]) -> None:
    """Set `pareto` per target over the rows that have a latency and an accuracy."""
    by_target: dict[str, list[ReportRow]] = {}
    for r in rows:
        r.pareto = False
        if r.p90_ms is not None and r.accuracy is not None:
            by_target.setdefault(r.target, []).append(r)
    for group in by_target.values():
        for i in pareto_front([(r.p90_ms, r.accuracy) for r in group]):
            group[i].pareto = True
