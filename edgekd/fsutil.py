"""Atomic writes and edgekd's temporary folders: a crash never leaves a file or folder that
looks complete, and a killed process leaves nothing behind that the next one does not clear.

Files are created with the mode `open()` would give them (0666 less the umask, so 0644
usually): `tempfile.mkstemp` makes 0600 files, and a rename keeps that mode, which made
manifest.json and report.json unreadable to anyone else on the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEMP_PREFIX = "edgekd-"  # edgekd-<kind>-<pid>-XXXX in the system temp folder
_TEMP_NAME = re.compile(r"^edgekd-[a-z]+-(\d+)-")


def umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)  # elsewhere: the only portable way to read it is to set it
    os.umask(old)
    return old


def new_file_mode() -> int:
    return 0o666 & ~umask()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, fsync, rename: `path` is old or new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = stage_file(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def stage_file(path: Path, data: bytes) -> Path:
    """A complete, synced hidden temp file beside `path`, to be renamed onto it; removed
    again when it cannot be written whole (a full disk)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_set_atomic(folder: Path, files: dict[str, bytes], last: str) -> None:
    """Several files that belong together (a report's json, md and html): all appear, or
    none changes. Each is staged whole first, so a full disk fails before any rename;
    `last` is removed before and renamed after the others, so a crash between renames
    leaves the set without `last` (incomplete), never `last` beside stale siblings."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staged: dict[str, Path] = {}
    try:
        for name, data in files.items():
            staged[name] = stage_file(folder / name, data)
        (folder / last).unlink(missing_ok=True)
        for name in sorted(staged, key=lambda n: n == last):
            os.replace(staged.pop(name), folder / name)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


def check_new_file(path: Path, flag: str) -> None:
    """An output file the user names must be new, in a folder: nothing is overwritten unasked,
    and the check comes before the work whose result it would hold."""
    from edgekd.errors import OutputError

    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{flag} '{path}' is a folder; give a new file path, e.g. result.json.")
    if path.exists() or path.is_symlink():
        raise OutputError(f"{flag} '{path}' already exists; remove it or give a new file path.")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise OutputError(f"{flag} '{path}': '{parent}' is a file, not a folder; fix the path.")


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished folder into place, replacing an older version of it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.rename(final, old)
    os.rename(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def temp_dir(kind: str) -> Iterator[Path]:
    """A temporary folder named edgekd-<kind>-<pid>-..., removed on exit; one whose process
    was killed is removed by the next edgekd that calls `clean_stale_temp`."""
    with tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{kind}-{os.getpid()}-") as tmp:
        yield Path(tmp)


def clean_stale_temp(root: Path | None = None) -> list[str]:
    """Remove edgekd temp folders whose process is gone; returns their names."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        try:  # a live process may remove its own folder between the listing and the stat
            mine = m and entry.is_dir(follow_symlinks=False) and _owned(entry)
        except FileNotFoundError:
            continue
        if mine and _gone(int(m[1])):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _owned(entry: os.DirEntry) -> bool:
    getuid = getattr(os, "getuid", None)
    return getuid is None or entry.stat(follow_symlinks=False).st_uid == getuid()


def _gone(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False
