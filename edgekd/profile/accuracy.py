"""Accuracy of a compiled artifact itself, over the whole test split."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def artifact_accuracy(
    run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray, batch: int = 256
) -> float:
    correct = 0
    for i in range(0, len(x), batch):
        logits = run(np.ascontiguousarray(x[i : i + batch]))
        correct += int((np.asarray(logits).argmax(1) == y[i : i + batch]).sum())
    return correct / len(x)
