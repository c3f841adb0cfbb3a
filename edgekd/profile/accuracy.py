"""Accuracy of a compiled artifact itself, over the whole test split, and its fidelity to the
teacher.

The worker runs `artifact_evaluation` and merges its dict into its result; besides accuracy
and the confusion matrix it hands back the artifact's test logits (`test_logits`, float32
base64, encoded here), so that agreement with the teacher is computed beside the run, from the
teacher's stored logits, and the worker reads no teacher file (its stage key stays its own).
numpy only: the worker also runs on devices without torch.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable

import numpy as np

# values (64 MiB of float32) above which the logits stay on the device: agreement is then
# not computed for that artifact, rather than sending a huge result back
MAX_LOGIT_VALUES = 1 << 24


def artifact_accuracy(
    run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray, batch: int = 256
) -> float:
    return artifact_evaluation(run, x, y, batch)["acc_artifact"]


def artifact_evaluation(
    run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray, batch: int = 256
) -> dict:
    """`acc_artifact` and the `confusion` matrix (rows: true class, columns: predicted class;
    as many classes as the artifact has outputs): the report's per-class accuracy comes from
    the artifact a user ships, not from its PyTorch model. Keys match the worker's result.
    `test_logits` (encoded, see `decode_array`) are the artifact's outputs, in test order."""
    confusion, chunks = None, []
    for i in range(0, len(x), batch):
        logits = np.asarray(run(np.ascontiguousarray(x[i : i + batch])))
        if confusion is None:
            k = max(logits.shape[1], int(y.max()) + 1 if len(y) else 0)
            confusion = np.zeros((k, k), dtype=np.int64)
        np.add.at(confusion, (y[i : i + batch], logits.argmax(1)), 1)
        if len(x) * logits.shape[1] <= MAX_LOGIT_VALUES:
            chunks.append(logits.astype(np.float32, copy=False))
    correct = int(np.trace(confusion)) if confusion is not None else 0
    out = {"acc_artifact": correct / len(x), "confusion": confusion.tolist()}
    if chunks:
        out["test_logits"] = encode_array(np.concatenate(chunks))
    return out


def encode_array(a: np.ndarray) -> dict:
    """A float32 array as JSON: shape and little-endian bytes in base64."""
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"dtype": "float32", "shape": list(a.shape), "base64": base64.b64encode(a).decode()}


def decode_array(doc: dict) -> np.ndarray:
    """The array `encode_array` wrote; a document whose bytes do not fill its shape is
    refused (a truncated result from a remote worker)."""
    from edgekd.errors import ArtifactError

    raw = base64.b64decode(str(doc.get("base64", "")), validate=True)
    shape = [int(d) for d in doc.get("shape", [])]
    if doc.get("dtype") != "float32" or len(raw) != 4 * math.prod(shape):
        raise ArtifactError(
            f"the worker's test logits do not fill their shape {shape}: the result was cut "
            "short. Run the pipeline again."
        )
    return np.frombuffer(raw, dtype="<f4").reshape(shape)


def fidelity(reference: np.ndarray, logits: np.ndarray) -> dict | None:
    """Top-1 agreement with the reference and mean KL(reference || artifact) in nats, both
    over the samples (Stanton et al. 2021's fidelity measures; softmax at temperature 1).
    None when the two do not cover the same samples and classes. `kl` is None where the
    artifact output a NaN or inf (agreement still counts its argmax)."""
    ref, out = np.asarray(reference, np.float64), np.asarray(logits, np.float64)
    if ref.ndim != 2 or ref.shape != out.shape or not len(ref):
        return None
    agreement = float((ref.argmax(1) == out.argmax(1)).mean())
    log_p, log_q = log_softmax(ref), log_softmax(out)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(1).mean()
    return {"agreement": agreement, "kl": float(kl) if np.isfinite(kl) else None}


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))
