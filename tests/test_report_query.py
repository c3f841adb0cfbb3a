"""`edgekd report` on a hand-made report: --budget-ms / --max-drop pick the right artifact,
--compare shows deltas and warns about different data or targets, --json prints only JSON in
every flag combination, estimates are labelled in report.md and report.html."""

from __future__ import annotations

import json
import re

import pytest

from edgekd.report.build import write_outputs
from edgekd.report.model import SCHEMA, Report
from edgekd.report.pareto import mark_frontier
from edgekd.report.query import within_budget
from edgekd.report.recommend import DEFAULT, recommendations


def cli_width(columns: int, *args):
    """`edgekd ARGS` with the terminal width set, as rich reads it from COLUMNS."""
    import os
    import subprocess
    import sys

    env = os.environ | {"COLUMNS": str(columns)}
    cmd = [sys.executable, "-m", "edgekd", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def row(model, target, acc, p90, gate="pass", source="measured-local", **kw):
    est = source == "estimated"
    r = {
        "model": model, "role": "distilled", "method": "kd", "student": model, "target": target,
        "runtime": "onnxruntime", "precision": "fp32", "status": "estimated" if est else "ok",
        "params": 10, "flops": 20, "acc_torch": acc, "accuracy": acc,
        "accuracy_source": "torch" if est else "artifact", "acc_artifact": None if est else acc,
        "gate": "n/a" if est else gate, "p50_ms": p90 * 0.9, "p90_ms": p90, "p99_ms": p90,
        "size_bytes": 2048, "latency_source": source, "bundle": f"deploy/{target}/{model}-fp32",
    }  # fmt: skip
    if not est:
        r["accuracy_kept"] = 1.0 if gate == "pass" else 0.95
    if est:
        r["estimate"] = {"latency_ms": p90, "bound": "memory", "flops": 20, "peak": 100.0}
        r["estimate"] |= {"bytes": 800, "memory_bandwidth_gbps": 50.0, "spec_source": "test"}
        r["reason"] = "host unreachable"
    return r | kw


def make_report(rows, name="hand") -> Report:
    report = Report.model_validate({
        "schema": SCHEMA, "edgekd_version": "0", "pipeline": name, "seed": 0, "created": "now",
        "dataset": "synthetic", "accuracy_gate": 0.99, "profile": {"tier": "quick"},
        "targets": {"t": {"runtime": "onnxruntime", "host": "local"}}, "models": {}, "rows": rows,
    })  # fmt: skip
    mark_frontier(report.rows)
    report.objective = DEFAULT
    report.recommended, report.decisions = recommendations(report.rows, DEFAULT)
    return report


ROWS = [
    row("a", "t", 0.90, 2.0),
    row("b", "t", 0.95, 5.0),
    row("c", "t", 0.97, 1.0, gate="fail"),  # fast and accurate but fails its accuracy gate
    row("d", "t", 0.93, 1.5, source="estimated"),
    row("e", "other", 0.99, 0.1),
]


@pytest.fixture
def run_dir(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    write_outputs(folder, make_report([dict(r) for r in ROWS]))
    return folder


def test_budget_picks_most_accurate_gate_passing_measured_artifact():
    rep = make_report([dict(r) for r in ROWS])
    assert within_budget(rep, "t", 10.0).model == "b"
    assert within_budget(rep, "t", 2.0).model == "a"  # d is more accurate, but only estimated
    assert within_budget(rep, "t", 1.9) is None  # c fails its gate, d is an estimate
    assert within_budget(rep, "other", 0.1).model == "e"


def test_cli_budget(run_dir, cli):
    res = cli("report", run_dir, "--budget-ms", "2", "--target", "t")
    assert res.returncode == 0, res.stderr
    *notes, line = res.stdout.strip().splitlines()
    assert line.startswith("best within p90 <= 2 ms on t: a (kd, fp32) — accuracy 90.00%")
    assert any("d (kd, fp32)" in n and "ESTIMATED" in n and "never recommended" in n for n in notes)
    res = cli("report", run_dir, "--budget-ms", "10", "--target", "t")
    assert ": b (" in res.stdout.splitlines()[-1] and "ESTIMATED" not in res.stdout
    res = cli("report", run_dir, "--budget-ms", "1.2", "--target", "t")
    assert res.returncode == 1, res.stderr
    assert "No artifact on t meets p90 <= 1.2 ms; the fastest is a (kd, fp32)" in res.stdout
    res = cli("report", run_dir, "--budget-ms", "1")  # every target: one has no pick, exit 0
    assert res.returncode == 0 and "No artifact on t meets" in res.stdout
    assert "best within p90 <= 1 ms on other: e (" in res.stdout
    res = cli("report", run_dir, "--budget-ms", "1", "--target", "nope")
    assert res.returncode == 2 and "no rows for target 'nope'" in res.stderr
    res = cli("report", run_dir, "--budget-ms", "1", "--max-drop", "1")
    assert res.returncode == 2 and "two objectives" in res.stderr


def test_cli_max_drop(run_dir, cli):
    res = cli("report", run_dir, "--max-drop", "5", "--target", "t")  # a, b measured: a is faster
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1].startswith("recommended on t: a (kd, fp32)")
    res = cli("report", run_dir, "--max-drop", "1", "--target", "t")
    assert res.stdout.splitlines()[-1].startswith("recommended on t: b (kd, fp32)")


def test_cli_compare(run_dir, tmp_path):
    other = tmp_path / "run2"
    other.mkdir()
    slower = [dict(r) | {"p90_ms": r["p90_ms"] * 2} for r in ROWS[:2]]
    write_outputs(other, make_report(slower, "hand2"))
    res = cli_width(120, "report", run_dir, "--compare", other)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if "│" in ln]
    by_model = {ln.split("│")[1].strip(): ln for ln in lines}
    assert "2.00x" in by_model["a"] and "2.00x" in by_model["b"]
    assert "-" in by_model["c"].split("│")[7]  # only in run A


def test_estimates_are_labelled_in_md_and_html(run_dir):
    md = (run_dir / "report.md").read_text()
    d_line = next(ln for ln in md.splitlines() if ln.startswith("| d |"))
    assert "(est.)" in d_line and "estimated" in d_line
    assert "## Estimated rows (not measured)" in md and "host unreachable" in md
    html = (run_dir / "report.html").read_text()
    assert 'class="badge estimated"' in html and "<svg" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing to fetch
    rep = json.loads((run_dir / "report.json").read_text())
    # c (1.0 ms, 97%) dominates a, b and d on t; e is alone on its target
    front = {r["model"]: r["pareto"] for r in rep["rows"]}
    assert front == {"a": False, "b": False, "c": True, "d": False, "e": True}


def test_terminal_table_fits_80_columns(run_dir):
    res = cli_width(80, "report", run_dir)
    assert res.returncode == 0
    assert max(len(ln) for ln in res.stdout.splitlines()) <= 80
    assert "~1.50" in res.stdout and "est." in res.stdout
    assert "recommended on t: b (kd, fp32) — accuracy 95.00%" in res.stdout  # what to deploy
    assert "recommended on other: e (kd, fp32)" in res.stdout
