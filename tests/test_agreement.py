"""Agreement with the teacher: top-1 agreement and mean KL(teacher || artifact) of every
measured artifact, against the teacher's own test logits from the reference stage.

The measure is checked against an independent float64 computation; the worker's logits
travel back intact (and a cut-short payload is refused); in a tiny run the teacher's fp32
artifact agrees with its PyTorch self exactly, a student's figures match the ones its
PyTorch model gives, and the profile stage's key holds nothing of the teacher.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgekd.errors import ArtifactError
from edgekd.profile import accuracy
from edgekd.profile.accuracy import (
    artifact_evaluation,
    decode_array,
    encode_array,
    fidelity,
)


def _kl_reference(p_logits, q_logits) -> float:
    """KL(softmax(p) || softmax(q)) per row, averaged: plain Python floats, no numpy."""
    total = 0.0
    for p_row, q_row in zip(p_logits.tolist(), q_logits.tolist()):
        zp = sum(math.exp(v) for v in p_row)
        zq = sum(math.exp(v) for v in q_row)
        p = [math.exp(v) / zp for v in p_row]
        q = [math.exp(v) / zq for v in q_row]
        total += sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0)
    return total / len(p_logits)


def test_fidelity_matches_an_independent_computation():
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(50, 7)) * 3
    student = teacher + rng.normal(size=(50, 7))
    got = fidelity(teacher, student)
    assert got["kl"] == pytest.approx(_kl_reference(teacher, student), rel=1e-9)
    assert got["agreement"] == np.mean(teacher.argmax(1) == student.argmax(1))
    assert 0 < got["agreement"] < 1  # the noise flips some decisions, not all


def test_identical_outputs_agree_fully_and_a_shift_changes_nothing():
    z = np.random.default_rng(1).normal(size=(20, 4)).astype(np.float32)
    assert fidelity(z, z) == {"agreement": 1.0, "kl": 0.0}
    shifted = fidelity(z, z + 5.0)  # softmax ignores a constant per row
    assert shifted["agreement"] == 1.0 and shifted["kl"] == pytest.approx(0.0, abs=1e-12)
    huge = fidelity(z * 1000, z * 1000)  # no overflow in the exponentials
    assert huge["kl"] == pytest.approx(0.0, abs=1e-9)


def test_mismatched_or_broken_outputs():
    z = np.zeros((4, 3))
    assert fidelity(z, np.zeros((5, 3))) is None and fidelity(z, np.zeros((4, 2))) is None
    assert fidelity(np.zeros((0, 3)), np.zeros((0, 3))) is None
    bad = z.copy()
    bad[0, 0] = np.nan
    assert fidelity(z, bad)["kl"] is None


def test_logits_travel_as_json_and_a_short_payload_is_refused():
    a = np.random.default_rng(2).normal(size=(9, 5)).astype(np.float32)
    doc = json.loads(json.dumps(encode_array(a)))
    assert np.array_equal(decode_array(doc), a)
    import base64

    cut = doc | {"base64": base64.b64encode(base64.b64decode(doc["base64"])[:-4]).decode()}
    with pytest.raises(ArtifactError, match="cut short"):
        decode_array(cut)


def test_artifact_evaluation_hands_back_the_outputs_in_order(monkeypatch):
    w = np.random.default_rng(3).normal(size=(6, 4)).astype(np.float32)
    x = np.random.default_rng(4).normal(size=(700, 6)).astype(np.float32)
    y = np.arange(700) % 4
    out = artifact_evaluation(lambda xb: xb @ w, x, y, batch=256)
    assert np.allclose(decode_array(out["test_logits"]), x @ w, atol=1e-6)
    assert out["acc_artifact"] == pytest.approx(np.mean((x @ w).argmax(1) == y))
    monkeypatch.setattr(accuracy, "MAX_LOGIT_VALUES", 100)  # too many to send back
    assert "test_logits" not in artifact_evaluation(lambda xb: xb @ w, x, y)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    import copy

    import yaml
    from conftest import TINY

    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline
    from edgekd.progress import Reporter

    cfg = copy.deepcopy(TINY)
    cfg["targets"] = ["cpu-onnxruntime"]
    root = tmp_path_factory.mktemp("agreement")
    (root / "p.yaml").write_text(yaml.safe_dump(cfg))
    run = root / "run"
    run_pipeline(load_pipeline(root / "p.yaml"), root / "p.yaml", out=run, reporter=Reporter(True))
    return run


def _stage(run, label: str):
    (folder,) = [p for p in (run / "stages").iterdir() if p.name.rsplit("-", 1)[0] == label]
    return folder, json.loads((folder / "stage.json").read_text())


def test_every_measured_row_carries_agreement_against_the_stated_reference(tiny_run):
    report = json.loads((tiny_run / "report.json").read_text())
    ref = report["agreement_reference"]
    assert ref == {
        "teacher": "teacher",
        "model": "cnn1d",
        "runtime": "pytorch",
        "split": "test",
        "samples": 120,
    }
    rows = {(r["model"], r["precision"]): r for r in report["rows"]}
    assert all(0 <= r["agreement"] <= 1 and r["kl_to_teacher"] >= 0 for r in rows.values())
    teacher = rows["teacher", "fp32"]  # the teacher's fp32 artifact is the teacher
    assert teacher["agreement"] == 1.0 and teacher["kl_to_teacher"] < 1e-6
    md = (tiny_run / "report.md").read_text()
    assert "## Agreement with the teacher" in md and "teacher 'teacher' (cnn1d)" in md
    assert '<table id="agreement">' in (tiny_run / "report.html").read_text()


def test_a_students_agreement_is_its_pytorch_models(tiny_run):
    """The fp32 artifact's figures equal those of the student's PyTorch model against the
    teacher's PyTorch model, both recomputed here from the trained stages."""
    from edgekd.data import Splits
    from edgekd.distill.trainer import predict_logits
    from edgekd.stages.models import load_trained
    from edgekd.store import StageResult

    data, data_rec = _stage(tiny_run, "data")
    splits = Splits.load(data, data_rec["info"])

    def logits(label: str) -> np.ndarray:
        folder, rec = _stage(tiny_run, label)
        res = StageResult(label, folder, rec["content_hash"], rec, True)
        return predict_logits(load_trained(res, splits), splits.x["test"]).numpy()

    want = fidelity(logits("teacher"), logits("mlp-t"))
    report = json.loads((tiny_run / "report.json").read_text())
    row = next(r for r in report["rows"] if (r["model"], r["precision"]) == ("mlp-t", "fp32"))
    assert row["agreement"] == pytest.approx(want["agreement"], abs=1 / 120)
    assert row["kl_to_teacher"] == pytest.approx(want["kl"], rel=1e-3, abs=1e-5)
    ref_folder, _ = _stage(tiny_run, "teacher-logits")
    assert np.allclose(np.load(ref_folder / "teacher_logits.npy"), logits("teacher"), atol=1e-5)


def test_the_profile_stage_keeps_the_logits_and_no_teacher_in_its_key(tiny_run):
    folder, rec = _stage(tiny_run, "profile-mlp-t-cpu-onnxruntime-fp32")
    assert set(rec["inputs"]) == {"artifact", "data"}  # the worker reads no teacher file
    assert rec["info"]["test_logits"] == "test_logits.npy"
    assert np.load(folder / "test_logits.npy").shape == (120, 10)
    assert "base64" not in (folder / "stage.json").read_text()
    _, ref = _stage(tiny_run, "teacher-logits")
    _, teacher = _stage(tiny_run, "teacher")
    assert ref["inputs"]["teacher"] == teacher["content_hash"]  # a new teacher: a new reference


def test_a_rerun_reuses_the_reference_and_reports_the_same(tiny_run):
    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline
    from edgekd.progress import Reporter

    before = json.loads((tiny_run / "report.json").read_text())
    lines = []
    reporter = Reporter(quiet=False)
    reporter.line = lines.append
    pipeline = tiny_run.parent / "p.yaml"
    run_pipeline(load_pipeline(pipeline), pipeline, out=tiny_run, reporter=reporter)
    after = json.loads((tiny_run / "report.json").read_text())
    assert "[cached] teacher-logits" in lines and not any("[done]" in x for x in lines)

    def figures(report: dict) -> list:
        return [
            (r["model"], r["precision"], r["agreement"], r["kl_to_teacher"]) for r in report["rows"]
        ]

    assert figures(before) == figures(after)
