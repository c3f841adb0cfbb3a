"""Start-up time: `edgekd --help` and `import edgekd` (median of N fresh processes)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _common import write_result


def timed(cmd: list[str], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(n: int = 7) -> dict:
    py = sys.executable
    result = {
        "runs": n,
        "python_noop_s": timed([py, "-c", "pass"], n),
        "import_edgekd_s": timed([py, "-c", "import edgekd"], n),
        "edgekd_help_s": timed([py, "-m", "edgekd", "--help"], n),
        "import_torch_s": timed([py, "-c", "import torch"], n),
    }
    for k, v in result.items():
        print(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")
    write_result("startup", result)
    return result


if __name__ == "__main__":
    main()
