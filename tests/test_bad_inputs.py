"""The bad-input corpus (tests/bad_inputs/cases.py) through the real CLI.

Each case runs `edgekd ARGV` in its own process (forked from one warm interpreter by
tests/bad_inputs/forkrun.py; a few also as plain `python -m edgekd` to show the two agree)
and must exit 2 with one message naming the problem, no traceback, and nothing written
outside its run folder: no complete stage for what failed, no report, no deploy bundle.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bad_inputs import augment, byo, cases, hardening, int8, student_search
from bad_inputs.cases import write_bundle
from conftest import REPO, run_cli
from test_lock_atomic import assert_consistent

CASES = (
    cases.CASES + hardening.CASES + byo.CASES + augment.CASES + int8.CASES + student_search.CASES
)
IDS = [c.id for c in CASES]


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("bad_inputs")
    specs, before = [], {}
    for case in CASES:
        folder = root / case.id
        folder.mkdir()
        specs.append({"id": case.id, "cwd": str(folder), "argv": case.build(folder)})
        before[case.id] = _files(folder)
    (root / "cases.json").write_text(json.dumps(specs))
    driver = REPO / "tests" / "bad_inputs" / "forkrun.py"
    subprocess.run(
        [sys.executable, str(driver), str(root / "cases.json"), str(root / "results.json")],
        cwd=REPO,
        check=True,
        timeout=600,
    )
    results = {r["id"]: r for r in json.loads((root / "results.json").read_text())}
    return {"root": root, "results": results, "before": before, "specs": specs}


def test_corpus_is_large_enough():
    assert len(CASES) >= 110 and len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_input_exits_2_with_one_clear_message(corpus, case):
    res = corpus["results"][case.id]
    err = res["stderr"]
    assert "Traceback" not in err, err
    assert res["returncode"] == 2, (res["returncode"], err)
    assert case.expect.lower() in err.lower(), err
    if "Invalid value" not in err:  # typer's own usage errors have their own layout
        assert err.strip().startswith("error:") and err.count("error:") == 1, err
    folder = corpus["root"] / case.id
    new = _files(folder) - corpus["before"][case.id]
    assert all(p == "runs" or p.startswith("runs/") for p in new), sorted(new)
    run = folder / "runs" / "case"
    if run.exists():
        assert_consistent(run)
        assert not (run / "report.json").exists() and not (run / "deploy").exists()
    assert not (folder / "PWNED").exists(), "loading user input ran code"


def test_valid_inputs_pass_the_same_checks(tmp_path):
    """Controls: the corpus' well-formed bundle verifies (so the bundle cases fail for their
    own reason, not because the base bundle is broken)."""
    write_bundle(tmp_path)
    res = run_cli("verify", tmp_path / "bundle")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ok:")


@pytest.mark.parametrize("case_id", ["yaml-malformed", "ckpt-pickled-code", "bundle-sha-mismatch"])
def test_forked_runner_agrees_with_plain_subprocess(corpus, case_id):
    spec = next(s for s in corpus["specs"] if s["id"] == case_id)
    folder = Path(spec["cwd"])
    res = subprocess.run(
        [sys.executable, "-m", "edgekd", *spec["argv"]],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    forked = corpus["results"][case_id]
    assert res.returncode == forked["returncode"] == 2
    assert res.stderr == forked["stderr"]
