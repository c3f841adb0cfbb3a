"""The report's intervals against published values: Wilson (Newcombe 1998a, table I) and
Newcombe's hybrid score interval for a difference (Newcombe 1998b, method 10, table II)."""

from __future__ import annotations

import pytest

from edgekd.report.stats import diff_interval, finite, half_width, wilson


@pytest.mark.parametrize(
    "k, n, low, high",
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
     (1, 29, 0.0061, 0.1718)],
)  # fmt: skip
def test_wilson_matches_published_values(k, n, low, high):
    lo, hi = wilson(k / n, n)
    assert (lo, hi) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(
    "a, m, b, n, low, high",
    [(56, 70, 48, 80, 0.0524, 0.3339), (9, 10, 3, 10, 0.1705, 0.8090),
     (6, 7, 2, 7, 0.0582, 0.8062), (5, 56, 0, 29, -0.0381, 0.1926)],
)  # fmt: skip
def test_difference_matches_newcombe_method_10(a, m, b, n, low, high):
    d, lo, hi = diff_interval(a / m, m, b / n, n)
    assert d == pytest.approx(a / m - b / n)
    assert (lo, hi) == pytest.approx((low, high), abs=5e-4)


def test_half_width_and_edges():
    assert half_width(0.95, 1000) == pytest.approx(0.0135, abs=2e-4)  # ±1.35 points
    assert half_width(0.5, 100) > half_width(0.5, 10_000)
    assert wilson(0.5, 0) == (0.0, 1.0)
    assert not finite(float("nan")) and not finite(None) and finite(0.0)
