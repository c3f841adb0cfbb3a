"""What the measuring machine has, and requests that exceed it.

`--threads 512` on a 4-core board, or a `--batch` whose inputs need more memory than the
machine has, used to oversubscribe the CPU or allocate until the kernel killed the process.
The worker checks both where it runs (here, or on the SSH host), before allocating anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgekd.errors import LimitError

MEMORY_FRACTION = 0.5  # of the memory available now, for the inputs of one run


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def available_memory() -> int | None:
    """Bytes the machine can give now (MemAvailable), or its physical memory elsewhere."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_threads(threads: int | None) -> None:
    cpus = available_cpus()
    if threads is not None and threads > cpus:
        raise LimitError(
            f"--threads {threads} exceeds the {cpus} CPU(s) available on this machine; pass "
            f"--threads {cpus} or fewer (more threads than CPUs only measures contention)."
        )


def check_input_bytes(nbytes: int, what: str) -> None:
    """Refuse inputs that would take more than MEMORY_FRACTION of the available memory."""
    avail = available_memory()
    if avail is not None and nbytes > MEMORY_FRACTION * avail:
        raise LimitError(
            f"{what} need {nbytes / 2**20:,.0f} MiB, more than {MEMORY_FRACTION:.0%} of the "
            f"{avail / 2**20:,.0f} MiB of memory available on this machine. Pass a smaller "
            "--batch (or --shape)."
        )
