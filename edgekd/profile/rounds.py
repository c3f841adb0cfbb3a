"""Round statistics: the robust latency figure of an artifact and whether its rounds agree.

A p90 over all samples together is dragged by one burst of other work on the machine (one
bundle re-profiled gave p90 0.060, 0.060, 0.0068 and 0.0067 ms while its p50 held at 0.0065).
The figure reported and picked on is the median of the round p90s, shown with their min–max;
an artifact whose rounds disagree (max / min above `UNSTABLE_RATIO`) is flagged `unstable`.
"""

from __future__ import annotations

import statistics
import time

from edgekd.config.schema import ProfileConfig
from edgekd.profile.latency import (
    Feed,
    RoundPlan,
    Run,
    measure_round,
    nearest_rank,
    summarize,
    warm_start,
)
from edgekd.records import UNSTABLE_RATIO, LatencyRounds


def round_p(samples_ms: list[float], p: float) -> float:
    return nearest_rank(sorted(samples_ms), p)


def unstable(p90s: list[float], ratio: float = UNSTABLE_RATIO) -> bool:
    """Whether the slowest round's p90 is more than `ratio` times the fastest one's."""
    low = min(p90s)
    return len(p90s) > 1 and (low <= 0 or max(p90s) / low > ratio)


def summarize_rounds(rounds: list[list[float]], interleaved: bool = False) -> LatencyRounds:
    """Per-round p50/p90, their medians and the spread of the p90s."""
    if not rounds or not all(rounds):
        raise ValueError("every round needs samples")
    p50s = [round_p(r, 50) for r in rounds]
    p90s = [round_p(r, 90) for r in rounds]
    return LatencyRounds(
        count=len(rounds),
        queries_per_round=[len(r) for r in rounds],
        p50_ms=p50s,
        p90_ms=p90s,
        p50_median_ms=statistics.median(p50s),
        p90_median_ms=statistics.median(p90s),
        p90_min_ms=min(p90s),
        p90_max_ms=max(p90s),
        unstable=unstable(p90s),
        interleaved=interleaved,
    )


def latency_result(
    rounds: list[list[float]], first_ms: float, duration_s: float, interleaved: bool
) -> dict:
    """What a worker reports: statistics of every sample together (the raw samples are kept
    as one list), except that p50 and p90 are the robust figures (medians over rounds), so
    every reader of `latency` (report, bundle, `edgekd profile`) quotes the same; and the
    rounds they came in."""
    samples = [s for r in rounds for s in r]
    summary = summarize_rounds(rounds, interleaved)
    stats = summarize(samples) | {"first_inference_ms": first_ms, "duration_s": duration_s}
    stats |= {"p50_ms": summary.p50_median_ms, "p90_ms": summary.p90_median_ms}
    return {"stats": stats, "samples_ms": samples, "rounds": summary.model_dump(mode="json")}


def measure_latency_rounds(run: Run, sample: Feed, cfg: ProfileConfig) -> dict:
    """`profile.rounds` rounds back to back (one artifact alone): what a worker does where
    no coordinator interleaves it with other artifacts (a remote host, `edgekd profile`)."""
    first_ms = warm_start(run, sample, cfg.warmup)
    plan, start = RoundPlan.of(cfg), time.perf_counter()
    rounds = [measure_round(run, sample, plan, rewarm=i > 0) for i in range(cfg.rounds)]
    return latency_result(rounds, first_ms, time.perf_counter() - start, interleaved=False)
