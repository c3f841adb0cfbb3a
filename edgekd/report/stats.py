"""How far a test-set accuracy can be trusted: 95% intervals for one accuracy and for the
difference of two.

One accuracy of k correct out of n uses the Wilson score interval (good coverage even near
0% or 100% and for small n, where the plain Wald interval fails). The difference of two
accuracies uses Newcombe's hybrid score interval (Newcombe 1998, method 10), built from the
two Wilson intervals. It treats the two accuracies as independent; two models scored on the
same test samples make correlated errors, so a paired interval would be narrower: this one is
conservative — it may call a real gain "within noise", never noise a gain. The report keeps
no per-sample predictions, which a paired (McNemar-style) interval would need.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # two-sided 95%


def wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of an accuracy `p` measured on `n` samples."""
    if n <= 0:
        return (0.0, 1.0)
    p = min(max(p, 0.0), 1.0)
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def half_width(p: float, n: int) -> float:
    """Half the width of the 95% Wilson interval: the '±' a reader can quote."""
    lo, hi = wilson(p, n)
    return (hi - lo) / 2


def diff_interval(p1: float, n1: int, p2: float, n2: int) -> tuple[float, float, float]:
    """p1 - p2 and its 95% interval (Newcombe's hybrid score method; see the module doc)."""
    l1, u1 = wilson(p1, n1)
    l2, u2 = wilson(p2, n2)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)
