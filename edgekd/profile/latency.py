"""Latency method after MLPerf single-stream and the vendors' tools.

Load and first-inference times are kept apart from steady state; after a warm-up, batch-1
queries run until both a minimum count and a minimum time are reached (or a time cap);
percentiles are nearest-rank. Throughput is measured separately at a larger batch.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import numpy as np

from edgekd.config.schema import ProfileConfig

PERCENTILES = (50, 90, 95, 99)
Feed = np.ndarray | dict  # one input array, or {input name: array}


def nearest_rank(sorted_samples: list[float], p: float) -> float:
    """The smallest sample with at least p% of samples at or below it (MLPerf's rule)."""
    if not sorted_samples:
        raise ValueError("no samples")
    rank = max(1, math.ceil(p / 100 * len(sorted_samples)))
    return sorted_samples[rank - 1]


def summarize(samples_ms: list[float]) -> dict:
    s = sorted(samples_ms)
    out = {f"p{p}_ms": nearest_rank(s, p) for p in PERCENTILES}
    out.update(
        mean_ms=statistics.fmean(s),
        std_ms=statistics.pstdev(s),
        min_ms=s[0],
        max_ms=s[-1],
        queries=len(s),
    )
    return out


def measure_latency(run: Callable[[Feed], object], sample: Feed, cfg: ProfileConfig) -> dict:
    """Single-stream latency of `run` on `sample`: one array of shape (1, ...), or named
    inputs (a model with a static batch is queried at that batch)."""
    t0 = time.perf_counter()
    run(sample)
    first_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(cfg.warmup):
        run(sample)
    samples: list[float] = []
    clock = time.perf_counter
    start = clock()
    while True:
        t = clock()
        run(sample)
        samples.append((clock() - t) * 1e3)
        elapsed = clock() - start
        enough = len(samples) >= cfg.min_queries and elapsed >= cfg.min_time_s
        if enough or elapsed >= cfg.max_time_s:
            break
    stats = summarize(samples)
    stats.update(first_inference_ms=first_ms, duration_s=clock() - start)
    return {"stats": stats, "samples_ms": samples}


def measure_throughput(
    run: Callable[[Feed], object], batch: Feed, seconds: float, size: int | None = None
) -> dict:
    """Offline throughput: back-to-back batches of `size` samples (default: len(batch)) for
    `seconds` after one warm-up batch."""
    size = int(size if size is not None else len(batch))
    run(batch)
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or n == 0:
        run(batch)
        n += 1
    return {"batch": size, "batches": n, "samples_per_s": n * size / elapsed}
