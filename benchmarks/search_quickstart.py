"""Student search on the quickstart against the hand-picked student (issue 13): is the searched
student at least as accurate as the quickstart's MLP 256-256 at an equal or lower p90?

1. Probe only: `edgekd search` with a budget no candidate meets. It exits 2 after timing
   every candidate; each probe is a cached stage of the run folder.
2. The budget: the hand-picked student's own probe p90, the same measurement as every other
   candidate's, taken on this machine in the same minute (the quickstart run's figure comes
   from another minute, and a 10-us model's p90 moves by more than the gaps between
   candidates from one minute to the next).
3. The search with that budget (the probes are reused, so the hand-picked variant is within
   it), then the pipeline with the picked student; its fp32 ONNX Runtime artifact's test
   accuracy is compared with the hand-picked student's in the quickstart run of the same seed
   (benchmarks/results/quickstart_seeds.json, seed 0), which has the same data, teacher and
   recipe.

    python benchmarks/search_quickstart.py       # writes benchmarks/results/search_quickstart.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from _common import write_result

REPO = Path(__file__).resolve().parent.parent
PIPELINE = "pipelines/quickstart.yaml"
OUT = REPO / "runs" / "bench-search-quickstart"
TARGET = "cpu-onnxruntime"
HAND_PICKED = "w256-d2"  # pipelines/quickstart.yaml's mlp: hidden [256, 256]
GRID = [f for w in (128, 256, 384) for f in ("--width", str(w))]
GRID += [f for d in (1, 2, 3) for f in ("--depth", str(d))]


def search(budget_ms: float) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "edgekd", "search", PIPELINE, "--target", TARGET]
    cmd += ["--budget-ms", repr(budget_ms), *GRID, "--out", str(OUT), "-q"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


def probes() -> dict[str, dict]:
    """variant -> the probe stage's info (p90_ms, latency_source, params)."""
    out = {}
    for path in (OUT / "stages").glob("mlp-probe-*/stage.json"):
        rec = json.loads(path.read_text())
        out[rec["label"].removeprefix("mlp-probe-")] = rec["info"]
    return out


def main() -> dict:
    start = time.perf_counter()
    first = search(1e-6)
    if first.returncode != 2:
        raise SystemExit(f"the probe-only search should exit 2, got {first.returncode}")
    probed = probes()
    budget = probed[HAND_PICKED]["p90_ms"]
    print(f"probes: { {k: round(v['p90_ms'], 4) for k, v in sorted(probed.items())} }")
    print(f"budget: the hand-picked {HAND_PICKED}'s probe p90, {budget:.4f} ms")
    second = search(budget)
    if second.returncode != 0:
        raise SystemExit(f"search failed ({second.returncode}):\n{second.stderr[-3000:]}")
    wall = time.perf_counter() - start
    report = json.loads((OUT / "report.json").read_text())
    found = report["student_search"]
    picked = next(r for r in found["candidates"] if r.get("picked"))
    row = next(
        r
        for r in report["rows"]
        if (r["role"], r["precision"], r["status"]) == ("distilled", "fp32", "ok")
    )
    hand = json.loads((REPO / "benchmarks" / "results" / "quickstart_seeds.json").read_text())
    hand0 = next(s for s in hand["seeds"] if s["seed"] == 0)
    result = {
        "command": "python benchmarks/search_quickstart.py",
        "budget_ms": budget,
        "candidates": found["candidates"],
        "picked": picked["variant"],
        "picked_probe_p90_ms": picked["p90_ms"],
        "hand_picked_probe_p90_ms": budget,
        "picked_test_acc": 100 * row["accuracy"],
        "picked_run_p90_ms": row["p90_ms"],
        "hand_picked_test_acc": hand0["kd_acc"],
        "hand_picked_run_p90_ms": hand0["kd_p90_ms"],
        "wall_s": round(wall, 1),
        "goal_met": 100 * row["accuracy"] >= hand0["kd_acc"] and picked["p90_ms"] <= budget,
    }
    print(
        f"picked {picked['variant']}: test {result['picked_test_acc']:.1f}% at probe p90 "
        f"{picked['p90_ms']:.4f} ms; hand-picked {HAND_PICKED}: test "
        f"{hand0['kd_acc']:.1f}% at probe p90 {budget:.4f} ms; wall {wall / 60:.1f} min; "
        f"goal {'met' if result['goal_met'] else 'NOT met'}"
    )
    write_result("search_quickstart", result)
    return result


if __name__ == "__main__":
    main()
