"""Keep the calling thread's alternate signal stack across native code that changes it.

OpenVINO's CPU plugin installs an alternate signal stack (sigaltstack) on the thread that
creates a plugin engine and puts back the one it saw when a compiled model goes away. When
engines come and go out of order (NNCF builds its own while edgekd's is alive), the thread
can be left pointing at memory that was freed. CPython installs every signal handler with
SA_ONSTACK, so the next signal that runs a Python handler on that thread (SIGCHLD when a
profiling worker exits and a torch DataLoader handler is installed, Ctrl-C) makes the
kernel kill the process with SIGSEGV (si_code SI_KERNEL) instead of running the handler.
Seen with openvino 2026.4 + nncf 3.4 on Linux x86_64 during a pipeline's int8 compile.
"""

from __future__ import annotations

import ctypes
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


def current() -> _Stack | None:
    """This thread's alternate signal stack, or None where it cannot be read."""
    if not sys.platform.startswith("linux"):
        return None
    stack = _Stack()
    if ctypes.CDLL(None, use_errno=True).sigaltstack(None, ctypes.byref(stack)) != 0:
        return None
    return stack


@contextmanager
def kept_signal_stack() -> Iterator[None]:
    """Run the block, let the objects it dropped be destroyed, then put this thread's
    alternate signal stack back as it was before the block."""
    before = current()
    try:
        yield
    finally:
        gc.collect()  # native destructors that touch the stack run now, while guarded
        if before is not None:
            ctypes.CDLL(None, use_errno=True).sigaltstack(ctypes.byref(before), None)
