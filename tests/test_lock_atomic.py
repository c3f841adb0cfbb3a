"""Two runs on one folder never interleave; a run killed at any moment leaves nothing half-done.

Real subprocesses throughout: a second `edgekd run` on a busy run folder waits (or, with
--no-wait, refuses) with a clear message; runs killed with SIGKILL at several moments leave
only complete stage folders (record + matching content hash), complete deploy bundles
(manifest sha256 verified) and a readable report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from edgekd.deploy import verify_bundle
from edgekd.hashing import sha256_dir


def _slow(tiny_config: dict) -> dict:
    cfg = tiny_config
    cfg["data"]["options"]["num_samples"] = 1000
    cfg["teacher"]["train"]["epochs"] = 5
    cfg["students"][0]["train"]["epochs"] = 5
    return cfg


def _start(pipeline: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "edgekd", "run", str(pipeline), "--out", str(out), *extra]
    return subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{path} never appeared: {proc.communicate()[1]}")
        time.sleep(0.02)


def assert_consistent(run: Path) -> None:
    """Every visible stage folder and bundle is complete; the report, if any, parses."""
    for folder in (run / "stages").glob("[!.]*"):
        record = json.loads((folder / "stage.json").read_text())
        assert sha256_dir(folder, exclude=("stage.json",)) == record["content_hash"], folder
    for bundle in (run / "deploy").glob("*/[!.]*"):
        verify_bundle(bundle)
    if (run / "report.json").exists():  # written last: the md and html are there too
        json.loads((run / "report.json").read_text())
        assert (run / "report.md").is_file() and (run / "report.html").is_file()


def test_second_run_waits_and_no_wait_refuses(tiny_config, write_pipeline, tmp_path):
    cfg = _slow(tiny_config)
    cfg["targets"] = []  # training and export hold the lock long enough
    pipeline = write_pipeline(cfg)
    out = tmp_path / "run"
    first = _start(pipeline, out)
    _wait_for(out / ".lock-owner.json", first)
    second = _start(pipeline, out)
    refused = subprocess.run(
        [sys.executable, "-m", "edgekd", "run", str(pipeline), "--out", str(out), "--no-wait"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    _, err1 = first.communicate(timeout=300)
    _, err2 = second.communicate(timeout=300)
    assert refused.returncode == 2 and f"pid {first.pid}" in refused.stderr, refused.stderr
    assert "is in use" in refused.stderr and "Traceback" not in refused.stderr
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert "waiting: run folder" in err2 and f"pid {first.pid}" in err2
    assert "[done]" not in err2, "the waiting run must find every stage finished"
    assert_consistent(out)


@pytest.mark.parametrize("delays", [(3.0, 6.0)])
def test_sigkill_at_any_moment_leaves_only_complete_outputs(
    tiny_config, write_pipeline, tmp_path, delays
):
    pipeline = write_pipeline(_slow(tiny_config))
    out = tmp_path / "run"
    for delay in delays:
        proc = _start(pipeline, out)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert_consistent(out)
    final = _start(pipeline, out)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert_consistent(out)
    assert not list(out.glob("deploy/*/.tmp-*")) and not list(out.glob("deploy/*/.old-*"))
    assert not list(out.glob(".report.*")), "a staged report file was left behind"
    report = json.loads((out / "report.json").read_text())
    assert {r["status"] for r in report["rows"]} == {"ok"}
