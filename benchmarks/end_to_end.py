"""Quickstart wall time: cold (empty run folder), warm (everything cached), and with one new
target added to a warm run (only that target's compile/profile stages run)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import write_result

REPO = Path(__file__).resolve().parent.parent


def edgekd(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "edgekd", *args], cwd=REPO, check=True, capture_output=True
    )
    return time.perf_counter() - t


def main(extra_target: str = "cpu-openvino") -> dict:
    out = REPO / "runs" / "bench-e2e"
    shutil.rmtree(out, ignore_errors=True)
    pipe = "pipelines/quickstart.yaml"
    result = {
        "pipeline": pipe,
        "cold_s": edgekd("run", pipe, "--out", str(out), "-q"),
        "warm_s": edgekd("run", pipe, "--out", str(out), "-q"),
        "extra_target": extra_target,
        "add_target_s": edgekd(
            "run",
            pipe,
            "--out",
            str(out),
            "-q",
            "--target",
            "cpu-onnxruntime",
            "--target",
            extra_target,
        ),
    }
    for k, v in result.items():
        print(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}")
    write_result("end_to_end", result)
    return result


if __name__ == "__main__":
    main(*sys.argv[1:])
