"""Int8 recovery: plain int8 (PTQ) against QAT-KD and mixed precision, per local runtime.

    python benchmarks/int8_recovery.py [--run-dir runs/int8_recovery] [--no-run]

Runs `edgekd run pipelines/int8_recovery.yaml` (cached stages are reused; --no-run only
reads an existing run), then prints from its report.json, per target: the student's fp32,
int8, int8-qat and int8-mixed accuracy on the compiled artifact with the 99% gate, the batch-1
p90 of each, QAT-KD's latency against PTQ's (the goal: within 10%), and the layers mixed
precision kept in float with their latency cost. Writes benchmarks/results/int8_recovery.json.

The report's latencies come from one profile per artifact, minutes apart; on a shared CPU
their load differs. So the int8 artifacts of each target are also timed A/B here: loaded
side by side in this process, then measured in interleaved rounds (batch 1, one input
from the test split), and the ratio of the rounds' median p90 is what the 10% goal is read
against.
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


def ab_latency(run_dir: Path, report: dict, rounds: int, calls: int) -> dict:
    """{target: {precision: median p90 ms over interleaved rounds}} of the int8 bundles."""
    import numpy as np

    from edgekd.backends import BACKENDS
    from edgekd.config.load import load_target

    data = next((run_dir / "stages").glob("data-*/data.npz"))
    x = np.load(data)["x_test"][:1]
    rows = [r for r in report["rows"] if r["model"] == STUDENT and r["status"] == "ok"]
    out = {}
    for target in dict.fromkeys(r["target"] for r in rows):
        cfg = load_target(target, PIPELINE)
        backend = BACKENDS.get(cfg.runtime)(cfg)
        bundles = {
            r["precision"]: r["bundle"]
            for r in rows
            if r["target"] == target and r["precision"].startswith("int8")
        }
        runners = {p: backend.load(run_dir / b) for p, b in bundles.items()}
        p90s: dict[str, list[float]] = {p: [] for p in runners}
        for _ in range(rounds):
            for p, run in runners.items():
                for _ in range(calls // 10):
                    run(x)
                times = []
                for _ in range(calls):
                    t = time.perf_counter()
                    run(x)
                    times.append(time.perf_counter() - t)
                p90s[p].append(float(np.percentile(times, 90)) * 1e3)
        out[target] = {p: float(np.median(v)) for p, v in p90s.items()}
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
    ap.add_argument("--rounds", type=int, default=9, help="interleaved A/B rounds")
    ap.add_argument("--calls", type=int, default=2000, help="timed batch-1 calls per round")
    args = ap.parse_args()
    wall = None
    if not args.no_run:
        cmd = [sys.executable, "-m", "edgekd", "run", str(PIPELINE), "--out", str(args.run_dir)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=REPO)
        wall = time.perf_counter() - start
    report = json.loads((args.run_dir / "report.json").read_text())
    result = per_target(report)
    show(result)
    ab = ab_latency(args.run_dir, report, args.rounds, args.calls)
    print("\nA/B batch-1 p90 (ms, median of interleaved rounds) and the ratio to int8:")
    for target, by in ab.items():
        base = by.get("int8")
        cells = [f"{p} {v:.4f}" + (f" ({v / base:.2f}x)" if base else "") for p, v in by.items()]
        print(f"  {target:<20}" + "   ".join(cells))
    command = "python benchmarks/int8_recovery.py"
    data = {"command": command, "wall_s": wall, "targets": result, "ab_p90_ms": ab}
    write_result("int8_recovery", data | {"ab_rounds": args.rounds, "ab_calls": args.calls})


if __name__ == "__main__":
    main()
