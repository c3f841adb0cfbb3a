"""Give the calling thread an alternate signal stack that cannot be freed under it.

OpenVINO's CPU plugin installs its own alternate signal stack (sigaltstack) on the thread
that compiles a model, and when a plugin goes away it puts back the stack it saw at that
time. When compiled models come and go out of order (two runners in one process, or NNCF's
own while edgekd's is alive), the thread is left pointing at memory that was freed. CPython
installs every signal handler with SA_ONSTACK, so the next signal that runs a Python handler
on that thread (SIGCHLD when a child exits once a torch DataLoader with workers has installed
its handler, Ctrl-C) makes the kernel kill the process with SIGSEGV (si_code SI_KERNEL).
Seen with openvino 2026.4 + nncf 3.4 on Linux x86_64: a pipeline died after its OpenVINO int8
compile, and the test suite died (exit 139) in a DataLoader test after in-process OpenVINO
tests. Every OpenVINO compile in edgekd runs in `kept_signal_stack()`.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class _Stack(ctypes.Structure):  # stack_t of <signal.h> (Linux)
    _fields_ = [
        ("ss_sp", ctypes.c_void_p),
        ("ss_flags", ctypes.c_int),
        ("ss_size", ctypes.c_size_t),
    ]


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def current() -> _Stack | None:
    """This thread's alternate signal stack, or None where it cannot be read."""
    if not sys.platform.startswith("linux"):
        return None
    stack = _Stack()
    if _libc().sigaltstack(None, ctypes.byref(stack)) != 0:
        return None
    return stack


_OWN: list = []  # this process's own alternate stack: allocated once, never freed
_OWN_SIZE = 1 << 16


def own_stack() -> _Stack:
    """A 64 KiB alternate signal stack that lives as long as the process."""
    if not _OWN:
        buffer = ctypes.create_string_buffer(_OWN_SIZE)
        _OWN.append((buffer, _Stack(ctypes.cast(buffer, ctypes.c_void_p), 0, _OWN_SIZE)))
    return _OWN[0][1]


@contextmanager
def kept_signal_stack() -> Iterator[None]:
    """Run the block, let the objects it dropped be destroyed, then give this thread an
    alternate signal stack that cannot have been freed: edgekd's own.

    Not the one seen before the block: an earlier OpenVINO object may have left that one
    stale already. With edgekd's own stack current whenever OpenVINO installs one, what its
    destructors put back later is edgekd's own stack too."""
    if current() is None:  # not Linux: nothing to keep
        yield
        return
    try:
        yield
    finally:
        gc.collect()  # native destructors that touch the stack run now, while guarded
        _libc().sigaltstack(ctypes.byref(own_stack()), None)
