"""Accuracy of a compiled artifact itself, over the whole test split."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def artifact_accuracy(
    run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray, batch: int = 256
) -> float:
    return artifact_evaluation(run, x, y, batch)["acc_artifact"]


def artifact_evaluation(
    run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray, batch: int = 256
) -> dict:
    """`acc_artifact` and the `confusion` matrix (rows: true class, columns: predicted class;
    as many classes as the artifact has outputs): the report's per-class accuracy comes from
    the artifact a user ships, not from its PyTorch model. Keys match the worker's result."""
    confusion = None
    for i in range(0, len(x), batch):
        logits = np.asarray(run(np.ascontiguousarray(x[i : i + batch])))
        if confusion is None:
            k = max(logits.shape[1], int(y.max()) + 1 if len(y) else 0)
            confusion = np.zeros((k, k), dtype=np.int64)
        np.add.at(confusion, (y[i : i + batch], logits.argmax(1)), 1)
    correct = int(np.trace(confusion)) if confusion is not None else 0
    return {"acc_artifact": correct / len(x), "confusion": confusion.tolist()}
