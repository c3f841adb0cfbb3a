"""One `edgekd run` per run folder at a time: an OS file lock on runs/<name>/.lock.

The lock is an flock (via the `filelock` package), so the kernel releases it when its holder
dies, even by `kill -9`: a crashed run never leaves a stale lock behind. A second run on the
same folder waits with a message (or, with `wait=False`, refuses) and then finds every stage
the first one finished in the cache.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edgekd.errors import EdgeKDError
from edgekd.progress import Reporter

LOCK, OWNER = ".lock", ".lock-owner.json"


class RunLockedError(EdgeKDError):
    """Another edgekd process holds the run folder's lock."""


def _owner(run_dir: Path) -> str:
    try:
        info = json.loads((run_dir / OWNER).read_text())
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def run_lock(run_dir: Path, wait: bool = True, reporter: Reporter | None = None) -> Iterator[None]:
    """Hold the run folder's lock for the duration of the block."""
    from filelock import FileLock, Timeout

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(run_dir / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _owner(run_dir)
        if not wait:
            raise RunLockedError(
                f"run folder '{run_dir}' is in use by {holder}. Wait for that run to finish, "
                "run without --no-wait to queue behind it, or give another folder with --out."
            ) from None
        (reporter or Reporter()).line(
            f"waiting: run folder '{run_dir}' is in use by {holder}; this run starts when it "
            "finishes (Ctrl-C to give up)."
        )
        lock.acquire()
    try:
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.ctime()}
        (run_dir / OWNER).write_text(json.dumps(owner))
        clear_leftovers(run_dir)
        yield
    finally:
        lock.release()


def clear_leftovers(run_dir: Path) -> None:
    """Remove temporary files and folders a killed run left (we hold the lock: none is live)."""
    deploy = run_dir / "deploy"
    for d in deploy.glob("*/.tmp-*") if deploy.is_dir() else []:
        shutil.rmtree(d, ignore_errors=True)
    for d in deploy.glob("*/.old-*") if deploy.is_dir() else []:
        shutil.rmtree(d, ignore_errors=True)
    for d in run_dir.glob("stages/.scratch-rank*"):
        shutil.rmtree(d, ignore_errors=True)
    for f in run_dir.glob(".report.*"):
        f.unlink(missing_ok=True)
