"""The latency statistics and the quick/report tiers of ProfileConfig."""

from __future__ import annotations

import pytest

from edgekd.config.schema import QUICK_TIER, ProfileConfig
from edgekd.config.validate import validate
from edgekd.errors import ConfigError
from edgekd.profile.latency import measure_latency, nearest_rank, summarize


def test_nearest_rank_on_known_samples():
    s = [float(i) for i in range(1, 101)]  # 1..100
    assert nearest_rank(s, 50) == 50.0
    assert nearest_rank(s, 90) == 90.0
    assert nearest_rank(s, 99) == 99.0
    assert nearest_rank(s, 100) == 100.0
    # 10 samples: p90 is the 9th, p95 and p99 the 10th (rank = ceil(p/100 * n))
    ten = [float(i) for i in range(10, 110, 10)]
    assert [nearest_rank(ten, p) for p in (50, 90, 95, 99)] == [50.0, 90.0, 100.0, 100.0]
    assert nearest_rank([7.0], 50) == 7.0
    with pytest.raises(ValueError):
        nearest_rank([], 50)


def test_summarize_sorts_and_counts():
    stats = summarize([3.0, 1.0, 2.0, 4.0])
    assert stats["p50_ms"] == 2.0 and stats["p90_ms"] == 4.0
    assert stats["min_ms"] == 1.0 and stats["max_ms"] == 4.0
    assert stats["mean_ms"] == 2.5 and stats["queries"] == 4
    assert stats["std_ms"] == pytest.approx(1.118, abs=1e-3)


def test_quick_tier_fills_unset_keys_and_keeps_given_ones():
    quick = ProfileConfig(tier="quick")
    assert quick.min_queries == QUICK_TIER["min_queries"] < 1024
    assert quick.warmup == QUICK_TIER["warmup"]
    assert ProfileConfig(tier="quick", min_queries=7).min_queries == 7


def test_report_tier_needs_1024_queries_or_a_time_bound():
    assert ProfileConfig().min_queries >= 1024
    assert ProfileConfig(min_queries=10, min_time_s=2.0).min_time_s == 2.0
    with pytest.raises(ConfigError, match="report tier needs min_queries >= 1024"):
        validate(ProfileConfig, {"tier": "report", "min_queries": 10, "min_time_s": 0}, "p.yaml")
    # with no tier named, short settings are labelled quick (and keep their values)
    short = ProfileConfig(min_queries=10, min_time_s=0)
    assert short.tier == "quick" and short.min_queries == 10 and short.warmup == 50


def test_measure_latency_honours_counts_and_the_time_cap():
    calls = []
    cfg = ProfileConfig(tier="quick", warmup=3, min_queries=40, min_time_s=0.0)
    res = measure_latency(lambda x: calls.append(x), object(), cfg)
    assert len(res["samples_ms"]) == res["stats"]["queries"] == 40
    assert len(calls) == 1 + 3 + 40  # first inference, warm-up, measured
    capped = ProfileConfig(tier="quick", min_queries=10**9, max_time_s=0.05)
    res = measure_latency(lambda x: None, object(), capped)
    assert 0 < res["stats"]["queries"] < 10**9 and res["stats"]["duration_s"] < 1.0
