"""The reference stage: the teacher's own logits on the test split, computed once.

Every compiled artifact's agreement with the teacher (top-1 agreement, mean KL) is measured
against these, so the reference is the teacher as trained (its PyTorch model, or the user's
black-box ONNX file run in ONNX Runtime), not one of its compiled artifacts. The stage's key
holds the teacher's and the data's content hashes: a retrained teacher makes a new reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.data import Splits
from edgekd.distill.trainer import predict_logits
from edgekd.stages.models import load_trained
from edgekd.store import StageResult

TEACHER_LOGITS = "teacher_logits.npy"


def run_reference(teacher: StageResult, splits: Splits, folder: Path) -> dict:
    """`splits` as the teacher sees them (a cross-modal teacher reads its own view of the
    same test samples, in the same order)."""
    model = load_trained(teacher, splits)
    logits = predict_logits(model, splits.x["test"], workers=splits.workers).numpy()
    np.save(folder / TEACHER_LOGITS, logits.astype(np.float32))
    onnx = bool(teacher.info.get("onnx"))
    return {
        "teacher": teacher.label,
        "model": teacher.info.get("model"),
        "runtime": "onnxruntime (the black-box ONNX teacher)" if onnx else "pytorch",
        "split": "test",
        "samples": int(logits.shape[0]),
        "classes": int(logits.shape[1]),
        "file": TEACHER_LOGITS,
    }


def agreement_with(reference: StageResult, profile: StageResult) -> dict | None:
    """{"agreement", "kl"} of the artifact a profile stage measured, against the reference;
    None where that stage kept no test logits (its artifact was too large to send them)."""
    from edgekd.profile.accuracy import fidelity

    name = profile.info.get("test_logits")
    if not name or not (profile.path / name).is_file():
        return None
    ref = np.load(reference.path / reference.info["file"], allow_pickle=False)
    return fidelity(ref, np.load(profile.path / name, allow_pickle=False))
