"""Distillation throughput with and without the teacher-output cache.

Same teacher, student, data, batch size and thread count; only
`distill.cache_teacher_outputs` changes (on vs off). Runs the real offline scheme and
trainer (validation included), alternating the two modes `--repeats` times, and reports the
median samples/s of each and their ratio. The teacher is freshly initialised: its weights do
not change its cost.

    .venv/bin/python benchmarks/teacher_cache.py --out benchmarks/results/teacher_cache.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from _common import machine
from edgekd.config.schema import DistillConfig, LossSpec, ModelSpec, TrainConfig
from edgekd.data import DATASETS, make_splits
from edgekd.distill.schemes import SCHEMES, DistillJob
from edgekd.models import build_model
from edgekd.progress import Reporter


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5000, help="MNIST-1D samples (80%% train)")
    ap.add_argument("--teacher-channels", type=int, nargs="+", default=[64, 64, 64])
    ap.add_argument("--student-hidden", type=int, nargs="+", default=[64, 64])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/teacher_cache.json"))
    return ap.parse_args()


def one_run(mode: str, splits, teacher, args) -> float:
    """Samples/s of one offline distillation with the cache `mode`."""
    shape, k = splits.input_shape, splits.num_classes
    torch.manual_seed(0)
    student = build_model("mlp", {"hidden": args.student_hidden}, shape, k)
    distill = DistillConfig(
        losses=[LossSpec(name="kd", weight=0.9)], ce_weight=0.1, cache_teacher_outputs=mode
    )
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=1e-3)
    with tempfile.TemporaryDirectory() as work:
        job = DistillJob(
            student,
            [teacher],
            splits,
            distill,
            train,
            0,
            Path(work),
            "bench",
            Reporter(quiet=True),
            lambda: build_model("mlp", {"hidden": args.student_hidden}, shape, k),
        )
        start = time.perf_counter()
        SCHEMES.get("offline")().run(job)
        seconds = time.perf_counter() - start
    return args.epochs * len(splits.y["train"]) / seconds


def main() -> None:
    args = parse()
    torch.set_num_threads(args.threads)
    plugin = DATASETS.get("mnist1d")
    raw = plugin.load(plugin.Options(num_samples=args.samples))
    splits = make_splits(raw, 0.1, 256, 0)
    torch.manual_seed(0)
    spec = ModelSpec(model="cnn1d", options={"channels": args.teacher_channels})
    teacher = build_model(spec.model, spec.options, splits.input_shape, splits.num_classes)
    runs: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.repeats):
        for mode in ("off", "on"):
            runs[mode].append(one_run(mode, splits, teacher, args))
    off, on = statistics.median(runs["off"]), statistics.median(runs["on"])
    result = {
        "benchmark": "teacher_cache",
        "samples_per_s": {"cache_off": off, "cache_on": on},
        "speedup": on / off,
        "runs": runs,
        "settings": vars(args) | {"out": str(args.out), "train_samples": len(splits.y["train"])},
        "torch": torch.__version__,
        "machine": machine(),
        "note": "the two modes alternate in one process, so machine load affects both alike",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"cache off: {off:,.0f} samples/s   cache on: {on:,.0f} samples/s   "
        f"speed-up {on / off:.2f}x   ({args.out})"
    )


if __name__ == "__main__":
    main()
