"""The artifact edgekd recommends per target: the fastest student artifact that keeps the
accuracy of the best one.

Among measured, gate-passing artifacts of the students (never the teacher) on a target, take
the best accuracy A*; every artifact with accuracy >= accuracy_gate x A* is a candidate; the
one with the lowest p90 wins (ties: the more accurate). Estimated rows are never recommended:
a recommendation rests on a measurement.
"""

from __future__ import annotations

from edgekd.records import Gate, Role, RowStatus
from edgekd.report.model import Recommendation, ReportRow


def recommend(rows: list[ReportRow], target: str, gate: float) -> ReportRow | None:
    pool = [
        r
        for r in rows
        if r.target == target
        and r.role is not Role.TEACHER
        and r.status is RowStatus.OK
        and r.gate is Gate.PASS
        and r.p90_ms is not None
    ]
    if not pool:
        return None
    best = max(r.accuracy for r in pool)
    keep = [r for r in pool if r.accuracy >= gate * best]
    return min(keep, key=lambda r: (r.p90_ms, -r.accuracy))


def recommendations(rows: list[ReportRow], gate: float) -> dict[str, Recommendation]:
    out = {}
    for target in sorted({r.target for r in rows}):
        pick = recommend(rows, target, gate)
        if pick is not None:
            out[target] = Recommendation(
                model=pick.model,
                method=pick.method,
                precision=pick.precision,
                accuracy=pick.accuracy,
                p90_ms=pick.p90_ms,
                bundle=pick.bundle,
            )
    return out
