"""Memory at scale: distill from a memory-mapped array on disk, at 10% and 100% of its size.

Writes x.npy (default 1 GiB of float32: N x 1 x 1024) and y.npy, and x10.npy/y10.npy with
the first 10% of the rows; runs `edgekd run` on each (the `arrays` dataset: split indices
over the mapped file; mlp teacher trained, mlp student distilled with the teacher-output
cache, 1 epoch, no targets) in a fresh process, and reads that process's peak resident set
(ru_maxrss of the child: anonymous memory and mapped file pages alike). Issue 11 asks the
increase from 10% to 100% to stay under 200 MB.

    .venv/bin/python benchmarks/byo_memory.py --gib 1 --out benchmarks/results/byo_memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from _common import machine

FEATURES = 1024
PIPELINE = {
    "name": "byo-memory",
    "seed": 0,
    "device": "cpu",
    "data": {"dataset": "arrays", "options": {}, "val_fraction": 0.01, "calib_size": 64},
    "teacher": {
        "model": "mlp",
        "options": {"hidden": [32]},
        "train": {"epochs": 1, "batch_size": 1024, "lr": 0.001},
    },
    "students": [
        {
            "name": "s",
            "model": "mlp",
            "options": {"hidden": [8]},
            "train": {"epochs": 1, "batch_size": 1024, "lr": 0.001},
            "baseline": False,
            "distill": {"losses": [{"name": "kd"}]},
        }
    ],
    "targets": [],
}


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gib", type=float, default=1.0, help="size of the full array on disk")
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgekd-byo-memory"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/byo_memory.json"))
    return ap.parse_args()


def write_arrays(folder: Path, rows: int) -> None:
    """x (rows, 1, FEATURES) float32 written a chunk at a time, and y: two separable classes."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "x.npy").is_file() and len(
        np.load(folder / "x.npy", mmap_mode="r", allow_pickle=False)
    ) == rows:
        return
    y = (np.arange(rows) % 2).astype(np.int64)
    x = np.lib.format.open_memmap(folder / "x.npy", "w+", np.float32, (rows, 1, FEATURES))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 16384):
        stop = min(start + 16384, rows)
        block = rng.standard_normal((stop - start, 1, FEATURES), dtype=np.float32)
        x[start:stop] = block + y[start:stop, None, None]
    x.flush()
    del x
    np.save(folder / "y.npy", y)


def peak_rss_of_run(folder: Path) -> tuple[int, float]:
    """(peak RSS bytes, seconds) of `edgekd run` on folder's pipeline, in a fresh process."""
    cfg = json.loads(json.dumps(PIPELINE))
    cfg["data"]["options"] = {"x": "x.npy", "y": "y.npy"}
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    probe = (
        "import resource, subprocess, sys; "
        "r = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
    )
    cmd = [sys.executable, "-m", "edgekd", "run", "pipeline.yaml", "--out", "run", "-q"]
    start = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", probe, *cmd], cwd=folder, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"edgekd run failed in {folder}:\n{res.stderr[-2000:]}")
    return int(res.stdout.split()[-1]) * 1024, seconds


def main() -> None:
    args = parse()
    rows = int(args.gib * 2**30 // (4 * FEATURES))
    sizes = {"10%": rows // 10, "100%": rows}
    out = {}
    for name, n in sizes.items():
        folder = args.work / name.rstrip("%")
        write_arrays(folder, n)
        for old in (folder / "run",):
            subprocess.run(["rm", "-rf", str(old)], check=True)
        rss, seconds = peak_rss_of_run(folder)
        out[name] = {
            "rows": n,
            "bytes_on_disk": os.path.getsize(folder / "x.npy"),
            "peak_rss_bytes": rss,
            "seconds": round(seconds, 1),
        }
        print(
            f"{name:>5}: {n:,} rows, {out[name]['bytes_on_disk'] / 2**20:,.0f} MiB on disk, "
            f"peak RSS {rss / 2**20:,.0f} MiB, {seconds:.0f} s"
        )
    increase = out["100%"]["peak_rss_bytes"] - out["10%"]["peak_rss_bytes"]
    print(f"increase from 10% to 100%: {increase / 2**20:,.0f} MiB (goal: under 200 MB)")
    result = {
        "benchmark": "byo_memory",
        "runs": out,
        "increase_bytes": increase,
        "goal_bytes": 200 * 10**6,
        "pipeline": PIPELINE,
        "machine": machine(),
        "self_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
