"""report.json through the typed Report: round trips, /1 and /2 migrate, bad files are refused.

tests/fixtures/report_v2/ holds a report.json written by the last edgekd with schema
edgekd.report/2 for the tiny pipeline on cpu-onnxruntime, mobile-executorch and
jetson-orin-nano, with the report.md and report.html (plots stripped) this edgekd renders from
it: every /2 value must survive the migration, and the renderings must not drift unnoticed
(regenerate them with `python tests/test_report_model.py` when the report's layout changes on
purpose).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from edgekd.config.schema import Objective
from edgekd.errors import ArtifactError
from edgekd.records import Estimate, Gate, LatencySource, Role, RowStatus
from edgekd.report.build import conclusions, write_outputs
from edgekd.report.columns import COMPACT, FULL
from edgekd.report.html import render_html
from edgekd.report.load import load_report, parse_report
from edgekd.report.markdown import render_markdown
from edgekd.report.model import SCHEMA, DataSummary, Report, ReportRow
from edgekd.report.rows import Built, Subject, estimated_row, measured_row, skipped_row

V2 = Path(__file__).resolve().parent / "fixtures" / "report_v2"
SVG = re.compile(r"<svg.*?</svg>", re.S)


def _profile(p50: float, acc: float) -> dict:
    """A profile stage's info as the worker writes it (trimmed to what a row reads)."""
    lat = {f"{k}_ms": p50 * f for k, f in (("p50", 1), ("p90", 1.1), ("p95", 1.2), ("p99", 1.3),
           ("mean", 1.05), ("std", 0.1), ("min", 0.9), ("max", 2))}  # fmt: skip
    return {
        "acc_artifact": acc, "confusion": [[int(500 * acc), 500 - int(500 * acc)], [0, 500]],
        "latency": lat | {"queries": 64, "first_inference_ms": 3.0},
        "load_ms": 12.5, "throughput": {"samples_per_s": 9000.0, "batch": 8},
        "memory": {"peak_rss_bytes": 50_000_000}, "source": "measured-local",
        "environment": {"affinity": [0, 1], "hostname": "box", "cpu": "x86"},
        "placement": {"intra_op_threads": 2}, "versions": {"onnxruntime": "1.20"},
        "layers": {"tool": "counters", "runs": 5, "nodes": 2, "total_us": 3.0,
                   "top": [{"name": "mm", "op_type": "MatMul", "mean_us": 2.0, "share": 0.66}]},
    }  # fmt: skip


def _report() -> Report:
    """A report built the way a run builds one: rows from edgekd.report.rows."""
    info = {"method": "kd", "params": 100, "flops": 2000, "acc_test": 0.9}
    built = Built({"bytes": 4096, "files": ["model.onnx"]}, "deploy/cpu/s-fp32", "dynamic int8")
    est = Estimate(latency_ms=0.02, bound="memory", flops=2000, bytes=400, peak=100.0,
                   memory_bandwidth_gbps=50.0, size_bytes=400, spec_source="datasheet")  # fmt: skip

    def subject(model, target, precision):
        role = Role.TEACHER if model == "teacher" else Role.DISTILLED
        return Subject(model, role, None, info, target, "onnxruntime", precision)

    rows = [
        measured_row(subject("teacher", "cpu", "fp32"), built, _profile(1.0, 0.9), 0.99),
        measured_row(subject("s", "cpu", "fp32"), built, _profile(0.2, 0.895), 0.99),
        measured_row(subject("s", "cpu", "int8"), built, _profile(0.1, 0.85), 0.99),
        estimated_row(subject("s", "far", "fp32"), est, "unreachable", None),
        skipped_row(subject("s", "far", "int8"), "no estimate: no int8 peak"),
    ]
    data = DataSummary(
        content_hash="c0ffee",
        dataset="synthetic",
        labels=["a", "b"],
        sizes={"train": 4000, "test": 1000},
        test_class_counts=[500, 500],
    )
    return Report(
        edgekd_version="0", pipeline="hand", seed=0, created="now", dataset="synthetic",
        accuracy_gate=0.99, profile={"tier": "quick"},
        targets={"cpu": {"runtime": "onnxruntime"}, "far": {"runtime": "onnxruntime"}},
        models={"s": {"role": "distilled", "method": "kd", "params": 100}},
        **conclusions(rows, Objective(max_accuracy_drop=1.0), data),
    )  # fmt: skip


def test_rows_carry_enums_and_provenance():
    rep = _report()
    teacher, s32, s8, far, skipped = rep.rows
    assert s32.status is RowStatus.OK and s32.latency_source is LatencySource.MEASURED_LOCAL
    assert s32.gate is Gate.PASS and s8.gate is Gate.FAIL  # 0.85 / 0.9 < 0.99
    assert s32.speedup_vs_teacher == pytest.approx(5.0) and s32.threads == 2
    assert s32.layers.top[0].op_type == "MatMul" and s32.placement == "dynamic int8"
    assert far.estimated and far.gate is Gate.NOT_APPLICABLE and far.acc_artifact is None
    assert far.accuracy == 0.9 and far.p90_ms == 0.02 and far.bundle is None
    assert skipped.status is RowStatus.SKIPPED and skipped.p90_ms is None
    assert rep.recommended["cpu"].model == "s" and rep.recommended["cpu"].precision == "fp32"
    assert "far" not in rep.recommended and "Nothing to recommend" in rep.decisions["far"].summary
    assert s32.confusion == [[447, 53], [0, 500]]
    assert s32.accuracy_ci[0] < 0.895 < s32.accuracy_ci[1]
    assert f"{Gate.PASS}|{Role.TEACHER}" == "pass|teacher"  # enums print as their values


def test_report_json_round_trips(tmp_path):
    rep = _report()
    write_outputs(tmp_path, rep)
    back = load_report(tmp_path)
    assert back == rep
    assert json.loads((tmp_path / "report.json").read_text()) == rep.to_json()
    assert back.to_json()["schema"] == SCHEMA == "edgekd.report/4"


def test_columns_are_row_fields():
    assert {k for k, _, _ in FULL + COMPACT} <= set(ReportRow.model_fields)


def test_v2_report_migrates_and_renders_as_before(tmp_path):
    shutil.copyfile(V2 / "report.json", tmp_path / "report.json")
    old = json.loads((V2 / "report.json").read_text())
    rep = load_report(tmp_path)
    assert rep.to_json()["schema"] == SCHEMA and len(rep.rows) == len(old["rows"]) == 21
    for new, was in zip(rep.to_json()["rows"], old["rows"]):
        if isinstance(was.get("layers"), dict) and was["layers"].get("available") is False:
            was["layers"] = None  # "no per-layer profiler" is None in /3
        assert {k: new[k] for k in was} == was  # every /2 value survives, unchanged
    assert render_markdown(rep) == (V2 / "report.md").read_text()
    assert SVG.sub("<svg/>", render_html(rep)) == (V2 / "report.html").read_text()
    write_outputs(tmp_path, rep)  # written back as /3, it reads the same again
    assert load_report(tmp_path) == rep


def test_v3_report_reads_with_the_new_fields_empty():
    doc = _report().to_json()
    for k in ("objective", "decisions", "data", "kd", "findings"):
        del doc[k]
    for r in doc["rows"]:
        del r["accuracy_ci"], r["confusion"]
    for rec in doc["recommended"].values():
        del rec["role"]
    rep = parse_report(doc | {"schema": "edgekd.report/3"}, "report.json")
    assert rep.schema_ == SCHEMA and rep.objective is None and rep.decisions == {}
    assert rep.recommended["cpu"].model == "s" and rep.rows[1].confusion is None
    render_markdown(rep), render_html(rep)  # an old report renders without the new sections


def test_v1_report_migrates(tmp_path):
    v1 = {
        "schema": "edgekd.report/1", "edgekd_version": "0.0.9", "pipeline": "old", "seed": 1,
        "created": "then", "dataset": "mnist1d", "accuracy_gate": 0.99, "targets": ["cpu"],
        "models": {"s": {"role": "distilled", "model": "mlp", "params": 10}},
        "rows": [
            {"model": "s", "role": "distilled", "method": "kd", "target": "cpu",
             "runtime": "onnxruntime", "precision": "fp32", "status": "ok", "params": 10,
             "flops": 20, "acc_torch": 0.9, "acc_artifact": 0.9, "gate": "pass",
             "accuracy_kept": 1.0, "p50_ms": 0.1, "p90_ms": 0.2, "p99_ms": 0.3,
             "throughput": 5e3, "throughput_batch": 32, "size_bytes": 100,
             "speedup_vs_teacher": None, "latency_source": "measured-local", "threads": 1,
             "versions": {"onnxruntime": "1.18"}, "bundle": "deploy/cpu/s-fp32"},
            {"model": "s", "role": "distilled", "method": "kd", "target": "cpu",
             "runtime": "onnxruntime", "precision": "int8", "status": "skipped", "params": 10,
             "flops": 20, "acc_torch": 0.9, "reason": "onnxruntime is not installed"},
        ],
    }  # fmt: skip
    (tmp_path / "report.json").write_text(json.dumps(v1))
    rep = load_report(tmp_path)
    ok, skipped = rep.rows
    assert rep.targets["cpu"].runtime == "onnxruntime"
    assert ok.accuracy == 0.9 and ok.accuracy_source.value == "artifact" and ok.gate is Gate.PASS
    assert skipped.accuracy is None and skipped.reason == "onnxruntime is not installed"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "not valid JSON"),
        ("[1, 2]", "not an edgekd report"),
        (json.dumps({"schema": "edgekd.report/9", "rows": []}), "a newer edgekd wrote it"),
        (json.dumps({"schema": SCHEMA, "rows": [{"model": "m"}]}), f"not a valid {SCHEMA}"),
    ],
    ids=["not-json", "not-a-report", "future-schema", "bad-rows"],
)
def test_bad_reports_are_artifact_errors(tmp_path, cli, content, message):
    (tmp_path / "report.json").write_text(content)
    with pytest.raises(ArtifactError, match=message):
        load_report(tmp_path)
    res = cli("report", tmp_path)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr


def test_an_unknown_row_key_is_refused():
    doc = _report().to_json()
    doc["rows"][0]["latency_p50"] = 1.0  # misspelt: never silently dropped
    with pytest.raises(ArtifactError, match="latency_p50"):
        parse_report(doc, "report.json")


if __name__ == "__main__":  # regenerate the /2 fixture's renderings after a deliberate change
    rep = parse_report(json.loads((V2 / "report.json").read_text()), "report.json")
    (V2 / "report.md").write_text(render_markdown(rep))
    (V2 / "report.html").write_text(SVG.sub("<svg/>", render_html(rep)))
