"""Stage-scoped cache keys: a stage's key covers the code it runs, and only that.

Three checks: (1) static, on a copy of the package: editing report/CLI code leaves every
stage's code hash alone while editing the trainer, a loss or a backend changes exactly the
stages that run it; (2) dynamic: every edgekd function a stage really calls lies in the
modules its key covers (this fails when a stage gains a dependency its key misses);
(3) end to end: edit a report module and rerun, nothing retrains; edit the trainer, it does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from conftest import REPO, TINY

from edgekd import codegraph
from edgekd.stages import STAGE_CODE
from edgekd.store import StageStore, stage_code_roots

KINDS = sorted(STAGE_CODE)
WIRING = ("engine.py", "deploy_flow.py")  # hand configs to stage functions in lambdas


def _copy_package(tmp_path: Path) -> Path:
    root = tmp_path / "src" / "edgekd"
    shutil.copytree(REPO / "edgekd", root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _hashes(root: Path) -> dict[str, str]:
    codegraph.direct_imports.cache_clear()
    return {k: codegraph.code_hash(stage_code_roots(k), root) for k in KINDS}


def _touch(root: Path, rel: str) -> None:
    path = root / rel
    path.write_text(path.read_text() + "\n# an edit\n")


TRAINING = {"train", "teacher", "distill"}
ALL = set(KINDS)


@pytest.mark.parametrize(
    "edited, must_change, must_keep",
    [
        ("report/markdown.py", set(), ALL),
        ("report/build.py", set(), ALL),
        ("cli.py", set(), ALL),
        ("engine.py", set(), ALL),
        ("deploy_flow.py", set(), ALL),
        ("report/model.py", set(), ALL),
        ("doctor.py", set(), ALL),
        ("runlock.py", set(), ALL),
        ("distill/trainer.py", TRAINING, {"data", "profile"}),
        ("distill/losses/response.py", TRAINING, {"data", "profile"}),
        ("data/sets/mnist1d.py", {"data"} | TRAINING, {"profile"}),
        ("export/onnx.py", {"export"}, {"data", "profile"} | TRAINING),
        ("backends/onnxruntime.py", {"compile", "profile"}, {"data", "export"} | TRAINING),
        ("profile/latency.py", {"profile"}, {"data", "export", "compile"} | TRAINING),
    ],
)
def test_a_stage_key_follows_the_code_that_stage_runs(tmp_path, edited, must_change, must_keep):
    root = _copy_package(tmp_path)
    before = _hashes(root)
    _touch(root, edited)
    after = _hashes(root)
    changed = {k for k in KINDS if before[k] != after[k]}
    assert must_change <= changed, f"editing {edited} left {must_change - changed} keyed alike"
    assert not (changed & must_keep), f"editing {edited} invalidated {changed & must_keep}"


def test_every_module_is_covered_by_an_unknown_stage_kind(tmp_path):
    """A stage kind with no entry in STAGE_CODE falls back to the whole package."""
    assert set(stage_code_roots("no-such-kind")) == set(codegraph.all_modules())


def _trace_stage_calls(monkeypatch) -> dict[str, set[str]]:
    """Record, per stage kind, the edgekd source files whose functions each stage calls."""
    calls: dict[str, set[str]] = {}
    pkg = str(REPO / "edgekd")
    real_run = StageStore.run

    def run(self, kind, label, config, inputs, fn):
        seen = calls.setdefault(kind, set())

        def hook(frame, event, _arg):
            code = frame.f_code
            if event == "call" and code.co_filename.startswith(pkg):
                rel = Path(code.co_filename).relative_to(pkg).as_posix()
                if not (rel in WIRING and code.co_name.startswith("<")):  # lambdas: wiring
                    seen.add(f"{rel}:{code.co_name}")

        def traced(folder):
            sys.setprofile(hook)
            threading.setprofile(hook)
            try:
                return fn(folder)
            finally:
                sys.setprofile(None)
                threading.setprofile(None)

        return real_run(self, kind, label, config, inputs, traced)

    monkeypatch.setattr(StageStore, "run", run)
    return calls


def test_stages_call_only_code_their_keys_cover(tmp_path, monkeypatch, tiny_config):
    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline
    from edgekd.progress import Reporter

    tiny_config["targets"] = ["cpu-onnxruntime"]
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config, sort_keys=False))
    calls = _trace_stage_calls(monkeypatch)
    run_pipeline(load_pipeline(path), path, out=tmp_path / "run", reporter=Reporter(quiet=True))
    assert {"data", "train", "distill", "export", "compile", "profile"} <= set(calls)
    for kind, files in calls.items():
        covered = {
            codegraph.module_file(m).relative_to(codegraph.ROOT).as_posix()
            for m in codegraph.closure(stage_code_roots(kind))
        }
        missing = sorted(f for f in files if f.split(":")[0] not in covered)
        assert not missing, f"stage '{kind}' runs {missing}, which its cache key does not cover"


@pytest.mark.slow
def test_report_edit_retrains_nothing_and_trainer_edit_retrains(tmp_path):
    root = _copy_package(tmp_path)
    shutil.copytree(REPO / "targets", tmp_path / "targets")
    (tmp_path / "pipelines").mkdir()
    pipeline = tmp_path / "pipelines" / "tiny.yaml"
    pipeline.write_text(yaml.safe_dump(TINY | {"targets": ["cpu-onnxruntime"]}, sort_keys=False))
    env = os.environ | {"PYTHONPATH": str(root.parent)}

    def run() -> dict[str, str]:
        res = subprocess.run(
            [sys.executable, "-m", "edgekd", "run", str(pipeline), "--out", "runs/tiny"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert res.returncode == 0, res.stderr
        marks = {}
        for line in res.stderr.splitlines():
            if line.startswith(("[done]", "[cached]")):
                mark, label = line.split()[:2]
                marks[label] = mark
        return marks

    first = run()
    assert first and set(first.values()) == {"[done]"}
    _touch(root, "report/markdown.py")
    assert set(run().values()) == {"[cached]"}
    _touch(root, "distill/trainer.py")
    third = run()
    assert third["data"] == "[cached]"
    for label in ("teacher", "mlp-t", "mlp-t-scratch", "export-mlp-t"):
        assert third[label] == "[done]", f"{label} was not rebuilt after a trainer change"
