"""Int8 recovery: plain int8 (PTQ) against QAT-KD and mixed precision, per local runtime.

    python benchmarks/int8_recovery.py [--run-dir runs/int8_recovery] [--no-run]

Runs `edgekd run pipelines/int8_recovery.yaml` (cached stages are reused; --no-run only
reads an existing run), then prints from its report.json, per target: the student's fp32,
int8, int8-qat and int8-mixed accuracy on the compiled artifact with the 99% gate, the batch-1
p90 of each, QAT-KD's latency against PTQ's (the goal: within 10%), and the layers mixed
precision kept in float with their latency cost. Writes benchmarks/results/int8_recovery.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import write_result

REPO = Path(__file__).resolve().parent.parent
PIPELINE = REPO / "pipelines" / "int8_recovery.yaml"
STUDENT = "cnn-xs"
PRECISIONS = ("fp32", "int8", "int8-qat", "int8-mixed")


def per_target(report: dict) -> list[dict]:
    rows = [r for r in report["rows"] if r["model"] == STUDENT and r["status"] == "ok"]
    out = []
    for target in dict.fromkeys(r["target"] for r in rows):
        by = {r["precision"]: r for r in rows if r["target"] == target}
        entry = {"target": target}
        for p in PRECISIONS:
            r = by.get(p)
            if r is not None:
                entry[p] = {
                    "acc": r["acc_artifact"],
                    "kept": r["accuracy_kept"],
                    "gate": r["gate"],
                    "p90_ms": r["p90_ms"],
                    "p50_ms": r["p50_ms"],
                    "float_layers": r.get("float_layers"),
                }
        ptq = entry.get("int8")
        for p in ("int8-qat", "int8-mixed"):
            if ptq and p in entry:
                entry[p]["p90_vs_int8"] = entry[p]["p90_ms"] / ptq["p90_ms"]
        out.append(entry)
    return out


def show(result: list[dict]) -> None:
    print(f"{'target':<20}{'precision':<12}{'acc':>8}{'kept':>8}{'gate':>6}", end="")
    print(f"{'p90 ms':>9}{'vs int8':>9}")
    for e in result:
        for p in PRECISIONS:
            r = e.get(p)
            if r is None:
                continue
            ratio = f"{r['p90_vs_int8']:.2f}x" if "p90_vs_int8" in r else ""
            print(
                f"{e['target']:<20}{p:<12}{r['acc']:>8.4f}{r['kept']:>8.4f}{r['gate']:>6}"
                f"{r['p90_ms']:>9.4f}{ratio:>9}"
            )
            if r.get("float_layers") is not None:
                print(f"{'':<32}float layers ({len(r['float_layers'])}): {r['float_layers']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", type=Path, default=REPO / "runs" / "int8_recovery")
    ap.add_argument("--no-run", action="store_true", help="only read an existing run")
    args = ap.parse_args()
    wall = None
    if not args.no_run:
        cmd = [sys.executable, "-m", "edgekd", "run", str(PIPELINE), "--out", str(args.run_dir)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=REPO)
        wall = time.perf_counter() - start
    result = per_target(json.loads((args.run_dir / "report.json").read_text()))
    show(result)
    command = "python benchmarks/int8_recovery.py"
    write_result("int8_recovery", {"command": command, "wall_s": wall, "targets": result})


if __name__ == "__main__":
    main()
