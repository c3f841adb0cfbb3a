"""Failures a user's machine or paths cause, said as one paragraph each.

A full disk, a read-only or wrong output path, memory exhaustion or input nested too deeply
surface as OSError, MemoryError or RecursionError from deep inside a library. They are not
bugs in edgekd, so the CLI turns them into an `EdgeKDError` (exit 2, no traceback) here;
every other OSError stays a bug and keeps its traceback.
"""

from __future__ import annotations

import errno

from edgekd.errors import EdgeKDError, LimitError, OutputError

_OS_TEXT = {
    errno.ENOSPC: "no space left on the device holding {path}. Free some space (or pick "
    "another folder with --out) and rerun; finished stages are kept",
    errno.EROFS: "{path} is on a read-only file system. Choose a writable folder (--out)",
    errno.EACCES: "permission denied for {path}. Choose a folder you can write to (--out), "
    "or fix its permissions",
    errno.EPERM: "operation not permitted on {path}. Choose a folder you own (--out)",
    errno.EISDIR: "{path} is a folder, where a file was expected. Give a file path",
    errno.ENOTDIR: "a part of {path} is a file, where a folder was expected. Give a path "
    "whose parents are folders",
    errno.EEXIST: "{path} already exists. Remove it or choose another path",
    errno.ENAMETOOLONG: "{path} is too long a path for this file system. Use a shorter one",
    errno.EMFILE: "too many open files. Raise the limit (ulimit -n) and rerun",
    errno.ELOOP: "{path} is a loop of symbolic links. Give a real path",
}
_OS_TEXT[getattr(errno, "EDQUOT", errno.ENOSPC)] = _OS_TEXT[errno.ENOSPC].replace(
    "no space left", "the disk quota is used up"
)


def user_error(exc: BaseException) -> EdgeKDError | None:
    """The one-paragraph error for a machine or path failure; None for anything else."""
    if isinstance(exc, MemoryError):
        return LimitError(
            "ran out of memory. Use a smaller input, batch or dataset (e.g. --batch, "
            "data.options), or run on a machine with more memory; nothing half-written was kept."
        )
    if isinstance(exc, RecursionError):
        return LimitError(
            "an input is nested too deeply to read (RecursionError). Check the file for "
            "runaway nesting; edgekd reads plain, shallow documents."
        )
    if isinstance(exc, OSError) and exc.errno in _OS_TEXT:
        path = f"'{exc.filename}'" if exc.filename else "the output folder"
        return OutputError(_OS_TEXT[exc.errno].format(path=path) + ".")
    return None
