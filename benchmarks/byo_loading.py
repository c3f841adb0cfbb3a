"""Data-loading overhead: distillation samples/s from an image folder vs in-memory arrays.

The same images both ways: --images PNGs (3 classes of shapes, --size x --size RGB) are read
by the `image-folder` dataset (decoded by Pillow per batch, in DataLoader workers), and the
same pixels, decoded and preprocessed once, are given as in-memory arrays. Both run the real
offline scheme (cached teacher outputs, so the student's step is all that trains) with the
same teacher, student, batch size and epochs; the ratio is what reading images costs.

    .venv/bin/python benchmarks/byo_loading.py --out benchmarks/results/byo_loading.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _common import machine
from edgekd.config.schema import DistillConfig, LossSpec, TrainConfig
from edgekd.data import DATASETS, make_splits
from edgekd.data.sets.image_folder import write_examples
from edgekd.distill.schemes import SCHEMES, DistillJob
from edgekd.models import build_model
from edgekd.progress import Reporter


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=3000, help="images in all (3 classes)")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--workers", default="auto", help="DataLoader workers for the images")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/byo_loading.json"))
    return ap.parse_args()


def one_run(splits, teacher, args, workers) -> float:
    shape, k = splits.input_shape, splits.num_classes
    torch.manual_seed(0)
    student = build_model("mlp", {"hidden": [64]}, shape, k)
    distill = DistillConfig(losses=[LossSpec(name="kd", weight=0.9)], ce_weight=0.1)
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=1e-3)
    splits.workers = workers
    with tempfile.TemporaryDirectory() as work:
        job = DistillJob(
            student, [teacher], splits, distill, train, 0, Path(work), "bench",
            Reporter(quiet=True), lambda: None,
        )  # fmt: skip
        start = time.perf_counter()
        SCHEMES.get("offline")().run(job)
        seconds = time.perf_counter() - start
    return args.epochs * len(splits.y["train"]) / seconds


def main() -> None:
    args = parse()
    workers = args.workers if args.workers == "auto" else int(args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        write_examples(Path(tmp) / "imgs", args.images // 3, args.size)
        plugin = DATASETS.get("image-folder")
        options = plugin.parse_options(
            {"path": str(Path(tmp) / "imgs"), "mean": [0.5] * 3, "std": [0.25] * 3}
        )
        raw = plugin.load(options)
        images = make_splits(raw, 0.1, 64, 0)
        arrays = make_splits(raw, 0.1, 64, 0)
        for s in ("train", "val"):  # the same pixels, decoded once, in memory
            arrays.x[s] = np.asarray(arrays.x[s])
        torch.manual_seed(0)
        teacher = build_model("resnet", {"depth": 8, "width": 8}, images.input_shape, 3).eval()
        runs: dict[str, list[float]] = {"image_folder": [], "arrays": []}
        for _ in range(args.repeats):
            runs["image_folder"].append(one_run(images, teacher, args, workers))
            runs["arrays"].append(one_run(arrays, teacher, args, 0))
    folder, mem = (statistics.median(runs[k]) for k in ("image_folder", "arrays"))
    result = {
        "benchmark": "byo_loading",
        "samples_per_s": {"image_folder": folder, "arrays": mem},
        "ratio": folder / mem,
        "runs": runs,
        "settings": vars(args) | {"out": str(args.out), "train_samples": len(images.y["train"])},
        "torch": torch.__version__,
        "machine": machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"image folder: {folder:,.0f} samples/s   in-memory arrays: {mem:,.0f} samples/s   "
        f"ratio {folder / mem:.2f}   ({args.out})"
    )


if __name__ == "__main__":
    main()
