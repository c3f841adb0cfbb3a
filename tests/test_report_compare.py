"""`edgekd report --compare`: per-artifact accuracy and latency deltas, a mark when an accuracy
delta is within noise, and warnings when the runs used different data or targets; `--json`
prints one JSON document and nothing else, in every combination of flags."""

from __future__ import annotations

import itertools
import json

import pytest
from test_report_query import ROWS, cli_width, make_report
from typer.testing import CliRunner

from edgekd.cli import app
from edgekd.report.build import write_outputs
from edgekd.report.compare import compare_doc, compare_warnings
from edgekd.report.model import DataSummary, TargetSummary

DATA = DataSummary(content_hash="a" * 64, sizes={"test": 1000}, labels=["x", "y"])


def report_with(rows, name="hand", data=DATA, **targets):
    rep = make_report([dict(r) for r in rows], name)
    rep.data = data
    rep.targets |= targets
    return rep


@pytest.fixture
def runs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    write_outputs(a, report_with(ROWS))
    faster = [dict(r) | {"p90_ms": r["p90_ms"] / 2} for r in ROWS]
    faster[1] |= {"accuracy": 0.99}  # b: +4 points on 1,000 samples, a real difference
    faster[0] |= {"accuracy": 0.905}  # a: +0.5 points, within noise
    write_outputs(b, report_with(faster, "hand2"))
    return a, b


def test_deltas_per_artifact(runs):
    from edgekd.report.load import load_report

    a, b = map(load_report, runs)
    doc = compare_doc(a, b, ("A", "B"))
    by = {r["model"]: r for r in doc["rows"]}
    assert by["a"]["p90_ratio"] == pytest.approx(0.5)
    assert by["a"]["delta_p90_ms"] == pytest.approx(-1.0)
    assert by["b"]["delta_accuracy"] == pytest.approx(0.04) and by["b"]["delta_accuracy_ci"][0] > 0
    lo, hi = by["a"]["delta_accuracy_ci"]
    assert lo < 0 < hi  # 0.5 points on 1,000 samples: noise
    assert doc["warnings"] == []
    res = cli_width(120, "report", runs[0], "--compare", runs[1])
    assert res.returncode == 0, res.stderr
    lines = {ln.split("│")[1].strip(): ln for ln in res.stdout.splitlines() if "│" in ln}
    assert "+0.50?" in lines["a"] and "+4.00 " in lines["b"] and "0.50x" in lines["b"]
    assert "within noise" in res.stdout and "warning" not in res.stdout


def test_different_data_and_targets_are_warned():
    a = report_with(ROWS)
    other = DataSummary(content_hash="b" * 64, sizes={"test": 1000})
    moved = TargetSummary(runtime="onnxruntime", host="ssh://pi@pi", threads=4)
    b = report_with(ROWS[:2] + [ROWS[-1] | {"target": "new"}], data=other, t=moved)
    warnings = compare_warnings(a, b, ("A", "B"))
    assert any("different data" in w and "aaaaaaaaaaaa vs bbbbbbbbbbbb" in w for w in warnings)
    assert any("targets only in B: new" in w for w in warnings)
    assert any("targets only in A: other" in w for w in warnings)
    assert any("target t differs" in w and "host 'local' vs 'ssh://pi@pi'" in w for w in warnings)
    assert any("threads None vs 4" in w for w in warnings)
    old = report_with(ROWS, data=None)
    (warning,) = compare_warnings(a, old, ("A", "B"))
    assert "cannot tell whether the runs used the same data" in warning


FLAGS = {
    "compare": [[], ["--compare", "B"]],
    "objective": [[], ["--budget-ms", "2"], ["--max-drop", "1"]],
    "target": [[], ["--target", "t"]],
}


@pytest.mark.parametrize("compare, objective, target", list(itertools.product(*FLAGS.values())))
def test_json_is_only_json_in_every_flag_combination(runs, compare, objective, target):
    args = ["report", str(runs[0]), "--json", *compare, *objective, *target]
    args = [str(runs[1]) if a == "B" else a for a in args]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert res.exit_code in (0, 1), res.output
    doc = json.loads(res.stdout)  # nothing before or after the document
    recommended = doc["recommended"]["a"] if compare else doc["recommended"]
    if compare:
        assert {"a", "b", "rows", "warnings"} <= set(doc)
    else:
        assert doc["schema"] == "edgekd.report/4"
    if objective == ["--budget-ms", "2"]:
        assert recommended["t"]["model"] == "a"
        assert compare or doc["objective"] == {"budget_ms": 2.0, "max_accuracy_drop": None}
    if objective == ["--max-drop", "1"]:
        assert recommended["t"]["model"] == "b"
    assert res.exit_code == 0  # t has a pick under every objective here


def test_json_in_a_real_process_with_a_budget_nothing_meets(runs, cli):
    res = cli("report", runs[0], "--json", "--budget-ms", "0.5", "--target", "t")
    assert res.returncode == 1  # no pick on t, said by the exit status ...
    doc = json.loads(res.stdout)  # ... while stdout stays one JSON document
    assert "t" not in doc["recommended"]
    assert doc["decisions"]["t"]["summary"].startswith("No artifact on t meets p90 <= 0.5 ms")
