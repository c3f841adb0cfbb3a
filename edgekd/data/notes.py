"""Warnings about the data a user would want before trusting any figure: a class with no
test samples (its accuracy is never measured) and a test split so small that accuracy
differences are noise (the width of the 95% Wilson interval says how much)."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054
TINY_HALF_WIDTH = 0.05  # warn when an accuracy near 50% is known only to ±5 points


def wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion p observed over n trials."""
    if n <= 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def data_warnings(splits) -> list[str]:
    """What the data stage warns about (also shown as progress lines and in the report)."""
    out = []
    counts = np.bincount(splits.y["test"], minlength=splits.num_classes)
    empty = [splits.labels[i] for i, c in enumerate(counts) if c == 0]
    if empty:
        names = ", ".join(f"'{n}'" for n in empty[:10]) + (" ..." if len(empty) > 10 else "")
        what = "class has" if len(empty) == 1 else f"{len(empty)} classes have"
        out.append(
            f"{what} no test samples ({names}): accuracy on them is never measured. Add test "
            "samples of every class."
        )
    n = len(splits.y["test"])
    low, high = wilson(0.5, n)
    if n and (high - low) / 2 > TINY_HALF_WIDTH:
        out.append(
            f"the test split has only {n} samples: an accuracy near 50% is known only to "
            f"{low:.1%}..{high:.1%} (95% Wilson interval, ±{(high - low) * 50:.1f} points), so "
            "smaller accuracy differences between models are noise. Test on more samples."
        )
    return out
