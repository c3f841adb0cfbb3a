"""Latency method after MLPerf single-stream and the vendors' tools.

Load and first-inference times are kept apart from steady state; after a warm-up, batch-1
queries run until both a minimum count and a minimum time are reached (or a time cap);
percentiles are nearest-rank. The queries are split into rounds (`profile.rounds`), each a
short re-warm and its share of the queries and time, so that a burst of other work on the
machine shows up as one round that disagrees instead of a shifted p90 (see
`edgekd.profile.rounds`). Throughput is measured separately at a larger batch.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgekd.config.schema import ProfileConfig

PERCENTILES = (50, 90, 95, 99)
REWARM = 10  # queries (and REWARM_S) before a round: caches went cold since the last one
REWARM_S = 0.02
Feed = np.ndarray | dict  # one input array, or {input name: array}
Run = Callable[[Feed], object]


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


@dataclass(frozen=True)
class RoundPlan:
    """One round's share of the measurement: at least `queries` and `min_s`, at most `max_s`."""

    queries: int
    min_s: float
    max_s: float
    rewarm: int

    @classmethod
    def of(cls, cfg: ProfileConfig) -> RoundPlan:
        n = cfg.rounds
        return cls(
            queries=math.ceil(cfg.min_queries / n),
            min_s=cfg.min_time_s / n,
            max_s=cfg.max_time_s / n,
            rewarm=min(cfg.warmup, REWARM),
        )


def timed_queries(run: Run, sample: Feed, queries: int, min_s: float, max_s: float) -> list:
    """Single-stream queries until `queries` and `min_s` are both reached, or `max_s`."""
    samples: list[float] = []
    clock = time.perf_counter
    start = clock()
    while True:
        t = clock()
        run(sample)
        samples.append((clock() - t) * 1e3)
        elapsed = clock() - start
        if (len(samples) >= queries and elapsed >= min_s) or elapsed >= max_s:
            return samples


def warm_start(run: Run, sample: Feed, warmup: int) -> float:
    """The first inference (ms), kept apart, then `warmup` untimed queries."""
    t0 = time.perf_counter()
    run(sample)
    first_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(warmup):
        run(sample)
    return first_ms


def measure_round(run: Run, sample: Feed, plan: RoundPlan, rewarm: bool = True) -> list:
    """One round of a warm runner: a short re-warm (untimed), then its share of the queries."""
    if rewarm and plan.rewarm:
        timed_queries(run, sample, plan.rewarm, REWARM_S, max(REWARM_S, plan.max_s))
    return timed_queries(run, sample, plan.queries, plan.min_s, plan.max_s)


def measure_latency(run: Run, sample: Feed, cfg: ProfileConfig) -> dict:
    """Single-stream latency of `run` on `sample` in one go: one array of shape (1, ...), or
    named inputs (a model with a static batch is queried at that batch)."""
    first_ms = warm_start(run, sample, cfg.warmup)
    start = time.perf_counter()
    samples = timed_queries(run, sample, cfg.min_queries, cfg.min_time_s, cfg.max_time_s)
    stats = summarize(samples)
    stats.update(first_inference_ms=first_ms, duration_s=time.perf_counter() - start)
    return {"stats": stats, "samples_ms": samples}


def measure_throughput(run: Run, batch: Feed, seconds: float, size: int | None = None) -> dict:
    """Offline throughput: back-to-back batches of `size` samples (default: len(batch)) for
    `seconds` after one warm-up batch."""
    size = int(size if size is not None else len(batch))
    run(batch)
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or n == 0:
        run(batch)
        n += 1
    return {"batch": size, "batches": n, "samples_per_s": n * size / elapsed}
