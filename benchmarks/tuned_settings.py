"""How close the tuner's pick comes to the best hand-tuned setting of the same runtime.

For the two benchmark students (the quickstart MLP and ResNet-8 on 3x32x32, random weights:
latency does not depend on them) and every local runtime: edgekd's tuner picks a setting
from the runtime's tuning space within its budget (`Backend.tuning_space`, threads capped at
the CPUs here); then every setting of that space is measured in full, each in a fresh worker
process, the settings visited in turn for `--rounds` rounds (medians reported). The goal
(issue 14): the pick's p90 within 5% of the best setting's. The shipped target's own
settings (a phone's 4 threads on this host) are shown beside them.

    python benchmarks/tuned_settings.py [--rounds 3] [--budget-s 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from _artifacts import available, build

from _common import write_result

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

STUDENTS = ("mlp", "resnet8")
TARGETS = {
    "onnxruntime": "cpu-onnxruntime",
    "openvino": "cpu-openvino",
    "executorch": "mobile-executorch",
}
GOAL = 1.05  # the pick's p90 / the best setting's p90


def profile(budget_s: float):
    from edgekd.config.schema import ProfileConfig, TuneConfig

    return ProfileConfig(
        tier="quick", warmup=50, min_queries=600, min_time_s=0.6, max_time_s=10.0, rounds=3,
        layers=False, throughput_time_s=0.05, tune=TuneConfig(budget_s=budget_s, rounds=3),
    )  # fmt: skip


def measure_space(art, runtime: str, rounds: int, budget_s: float) -> dict:
    """The tuner's pick, and every candidate of the space measured in full."""
    from edgekd.backends import BACKENDS
    from edgekd.config.load import load_target
    from edgekd.profile.isolate import profile_artifact, tuned_spec
    from edgekd.profile.protocol import make_spec

    target = load_target(TARGETS[runtime])
    spec = make_spec(art.folder, art.name, target, profile(budget_s), art.shape,
                     batch=1, files=art.files)  # fmt: skip
    picked, tuning = tuned_spec(spec)
    space = BACKENDS.get(runtime)(target).tuning_space("fp32")
    p90s: list[list[float]] = [[] for _ in space]
    for r in range(rounds):
        order = range(len(space)) if r % 2 == 0 else reversed(range(len(space)))
        for i in order:
            res = profile_artifact(spec.model_copy(update={"settings": space[i]}))
            p90s[i].append(res["latency"]["p90_ms"])
    med = [statistics.median(p) for p in p90s]
    best = min(range(len(space)), key=med.__getitem__)
    pick = space.index(picked.settings)
    return {
        "target": target.name,
        "target_threads": target.threads,
        "candidates": [
            {"settings": s.text(), "p90_ms": m, "rounds_p90_ms": p}
            for s, m, p in zip(space, med, p90s)
        ],
        "tuner": {"pick": picked.settings.text(), "screen_s": tuning.get("screen_s")},
        "best": space[best].text(),
        "pick_over_best": med[pick] / med[best],
        "target_default_over_best": med[0] / med[best],
        "within_goal": med[pick] / med[best] <= GOAL,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--budget-s", type=float, default=4.0, help="the tuner's screening budget")
    args = ap.parse_args()
    runtimes = [r for r in available() if r in TARGETS]
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekd-tuned-") as tmp:
        for name in STUDENTS:
            for runtime, art in build(name, Path(tmp) / name, runtimes).items():
                row = {"model": name, "runtime": runtime}
                row |= measure_space(art, runtime, args.rounds, args.budget_s)
                rows.append(row)
                print(
                    f"{name:8s} {row['target']:18s} pick {row['tuner']['pick']:60s} "
                    f"{row['pick_over_best']:.3f}x best ({row['best']}); target's own "
                    f"{row['target_default_over_best']:.3f}x",
                    flush=True,
                )
    path = write_result(
        "tuned_settings",
        {"goal": GOAL, "rounds": args.rounds, "budget_s": args.budget_s, "rows": rows},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
