"""Profiler statistics: nearest-rank percentiles and the stopping rule."""

from __future__ import annotations

import numpy as np
import pytest

from edgekd.config.schema import ProfileConfig
from edgekd.profile.latency import measure_latency, measure_throughput, nearest_rank, summarize


def test_nearest_rank_known_values():
    s = [float(v) for v in range(1, 101)]  # 1..100
    assert nearest_rank(s, 50) == 50
    assert nearest_rank(s, 90) == 90
    assert nearest_rank(s, 99) == 99
    assert nearest_rank(s, 100) == 100
    assert nearest_rank([3.0], 99) == 3.0
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 50) == 2.0  # rank ceil(0.5*4)=2, no interpolation
    with pytest.raises(ValueError):
        nearest_rank([], 50)


def test_summarize_on_known_samples():
    stats = summarize([4.0, 1.0, 3.0, 2.0])
    assert stats["min_ms"] == 1.0 and stats["max_ms"] == 4.0
    assert stats["mean_ms"] == 2.5 and stats["queries"] == 4
    assert stats["p50_ms"] == 2.0 and stats["p90_ms"] == 4.0


def test_measure_latency_meets_min_queries():
    calls = []
    cfg = ProfileConfig(tier="quick", warmup=3, min_queries=50, min_time_s=0.0)
    out = measure_latency(lambda x: calls.append(1), np.zeros((1, 2)), cfg)
    assert out["stats"]["queries"] == 50 == len(out["samples_ms"])
    assert len(calls) == 1 + 3 + 50  # first inference, warm-up, measured


def test_measure_latency_respects_time_cap():
    import time

    cfg = ProfileConfig(tier="quick", warmup=0, min_queries=10**9, min_time_s=0.0, max_time_s=0.05)
    out = measure_latency(lambda x: time.sleep(0.001), np.zeros((1, 2)), cfg)
    assert 5 <= out["stats"]["queries"] < 10**9
    assert out["stats"]["p50_ms"] >= 1.0


def test_throughput_counts_samples():
    out = measure_throughput(lambda x: None, np.zeros((8, 2)), 0.02)
    assert out["batch"] == 8 and out["samples_per_s"] > 0
