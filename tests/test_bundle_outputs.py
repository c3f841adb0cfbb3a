"""Outputs a user can trust (issue 15, class 5): a run that cannot finish leaves nothing that
looks complete; machine and path failures are one paragraph, exit 2; a killed profile leaves
no temporary folders; files are readable by others like the rest of the run folder.

A full or read-only disk is a real tmpfs where this test may mount one (root), else the
failing system call is simulated in-process.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bad_inputs.cases import onnx_model
from conftest import REPO, run_cli
from typer.testing import CliRunner

from edgekd import fsutil
from edgekd.cli import app

SET = {"report.md": b"m" * 8_000, "report.html": b"h" * 60_000, "report.json": b"{}" * 4_000}


def _mount(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    return res.returncode == 0


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A 64 KiB file system (or, without mount rights, fsync failing with ENOSPC)."""
    folder = tmp_path / "small"
    if _mount(folder, "size=64k"):
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
        return

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fsutil.os, "fsync", full)
    yield folder


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    if _mount(folder, "ro,size=64k"):
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
        return

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(folder))

    monkeypatch.setattr(fsutil.tempfile, "mkstemp", refuse)
    yield folder


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "lost+found")


def test_report_files_appear_all_or_none_on_a_full_disk(small_disk):
    with pytest.raises(OSError) as err:
        fsutil.write_set_atomic(small_disk, SET, last="report.json")
    assert err.value.errno == errno.ENOSPC
    assert _visible(small_disk) == []  # no report.md without report.html, no temp files


def test_an_older_report_stays_whole_when_the_new_one_cannot_be_written(tmp_path, monkeypatch):
    old = {name: b"old" for name in SET}
    fsutil.write_set_atomic(tmp_path, old, last="report.json")
    calls = []

    def fail_third(fd):
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsutil.os, "fsync", fail_third)
    with pytest.raises(OSError):
        fsutil.write_set_atomic(tmp_path, SET, last="report.json")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old


def test_report_json_is_renamed_last(tmp_path, monkeypatch):
    order = []
    real = os.replace
    monkeypatch.setattr(fsutil.os, "replace", lambda a, b: (order.append(Path(b).name), real(a, b)))
    fsutil.write_set_atomic(tmp_path, SET, last="report.json")
    assert order[-1] == "report.json" and sorted(order) == sorted(SET)


def test_files_are_created_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        fsutil.write_json_atomic(tmp_path / "manifest.json", {"a": 1})
        fsutil.write_set_atomic(tmp_path, SET, last="report.json")
    finally:
        os.umask(old)
    for p in tmp_path.iterdir():
        assert p.stat().st_mode & 0o777 == 0o644, p


def _profile_out(out: Path):
    onnx_file = out.parent.parent / "model.onnx"
    onnx_file.write_bytes(onnx_model().SerializeToString())
    args = ["profile", str(onnx_file), "--tier", "quick", "--json", "--out", str(out)]
    return CliRunner().invoke(app, args)


def _one_paragraph(res, expect: str) -> None:
    err = res.stderr if hasattr(res, "stderr") and res.stderr else res.output
    assert res.exit_code == 2, (res.exit_code, err, res.exception)
    assert err.strip().startswith("error:") and expect in err and "Traceback" not in err, err


def test_profile_out_on_a_full_disk(small_disk):
    if small_disk.is_mount():  # fill it up
        with open(small_disk / "filler", "wb", buffering=0) as f:
            with pytest.raises(OSError):
                while True:
                    f.write(b"\0" * 4096)
    res = _profile_out(small_disk / "result.json")
    _one_paragraph(res, "space left")
    assert not (small_disk / "result.json").exists()
    assert [n for n in _visible(small_disk) if n != "filler"] == []


def test_profile_out_on_a_read_only_disk(read_only):
    _one_paragraph(_profile_out(read_only / "result.json"), "read-only")


@pytest.mark.parametrize(
    "where, expect",
    [
        ("exists.json", "already exists"),
        ("folder", "is a folder"),
        ("afile/r.json", "not a folder"),
    ],
)
def test_profile_out_refuses_existing_paths_before_measuring(tmp_path, where, expect):
    (tmp_path / "exists.json").write_text("mine")
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("x")
    res = run_cli("profile", "no-such.onnx", "--out", tmp_path / where)
    assert res.returncode == 2 and expect in res.stderr and "Traceback" not in res.stderr
    assert (tmp_path / "exists.json").read_text() == "mine"


@pytest.mark.parametrize(
    "exc, expect",
    [(MemoryError(), "ran out of memory"), (RecursionError(), "nested too deeply")],
)
def test_memory_and_recursion_errors_are_one_paragraph(monkeypatch, exc, expect):
    import edgekd.profile.command as command

    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(command, "profile_path", boom)
    res = CliRunner().invoke(app, ["profile", "x.onnx"])
    _one_paragraph(res, expect)


def test_an_unexpected_os_error_stays_a_bug_with_its_traceback(monkeypatch):
    import edgekd.profile.command as command

    def bug(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, "a bug", "/nowhere")

    monkeypatch.setattr(command, "profile_path", bug)
    res = CliRunner().invoke(app, ["profile", "x.onnx"])
    assert isinstance(res.exception, FileNotFoundError)


# ---------------------------------------------------------------- temporary folders
def test_stale_temp_folders_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = [f"edgekd-profile-{dead.pid}-a", f"edgekd-ortprof-{os.getpid()}-b", "edgekd-x", "other"]
    for n in names:
        (tmp_path / n).mkdir()
    assert fsutil.clean_stale_temp(tmp_path) == [names[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])


def test_a_temp_folder_removed_while_cleaning_is_skipped(tmp_path, monkeypatch):
    """Regression (CI, 2026-12-02): a run's own profile folder vanished between another
    run's listing of the temp folder and its stat of the entry; that run died with
    FileNotFoundError."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"edgekd-profile-{os.getpid()}-gone").mkdir()
    (tmp_path / f"edgekd-profile-{dead.pid}-stale").mkdir()
    listed = list(os.scandir(tmp_path))
    (tmp_path / f"edgekd-profile-{os.getpid()}-gone").rmdir()  # its owner finished
    real = os.scandir
    monkeypatch.setattr(
        fsutil.os, "scandir", lambda p=".": iter(listed) if p == tmp_path else real(p)
    )
    assert fsutil.clean_stale_temp(tmp_path) == [f"edgekd-profile-{dead.pid}-stale"]


def _edgekd_temp(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("edgekd-"))


def _workers(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "edgekd.profile.worker" in cmd and marker in cmd:
            pids.append(int(proc.name))
    return pids


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_profile_leaves_no_temporary_folders(tmp_path, sig):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp_path / "model.onnx").write_bytes(onnx_model().SerializeToString())
    env = os.environ | {"TMPDIR": str(tmp)}
    cmd = [sys.executable, "-m", "edgekd", "profile", str(tmp_path / "model.onnx")]
    proc = subprocess.Popen(cmd + ["--tier", "report"], cwd=REPO, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not _workers(str(tmp)):  # the worker runs: a spec.json under our TMPDIR
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)
    while _workers(str(tmp)):  # the worker ends with its edgekd
        assert time.monotonic() < deadline, "the worker outlived its edgekd"
        time.sleep(0.05)
    if sig == signal.SIGTERM:
        assert _edgekd_temp(tmp) == []  # cleaned on the way out
    again = subprocess.run(cmd + ["--tier", "quick"], cwd=REPO, env=env, capture_output=True)
    assert again.returncode == 0, again.stderr
    assert _edgekd_temp(tmp) == []  # and what a SIGKILL left is gone after the next run
