"""Latency in rounds (issue 16, point 2): the robust figure is the median of the round p90s,
the report shows their spread, an artifact whose rounds disagree is flagged `unstable`, and a
target's artifacts measured here take their rounds in turn.

No timing thresholds: the runners are fakes with scripted latencies, or real runtimes whose
figures are only checked for structure."""

from __future__ import annotations

import io
import json

import pytest

from edgekd.config.schema import ProfileConfig
from edgekd.profile import interleave
from edgekd.profile.latency import RoundPlan
from edgekd.profile.rounds import latency_result, measure_latency_rounds, summarize_rounds, unstable
from edgekd.profile.serve import FINISH, READY, ROUND, Channel, serve_rounds
from edgekd.records import UNSTABLE_RATIO

QUICK = ProfileConfig(tier="quick", warmup=2, min_queries=30, min_time_s=0.0, rounds=3)


def test_the_issue_example_is_flagged_and_its_robust_p90_is_the_median_round():
    """p90 0.060, 0.060, 0.0068, 0.0067 ms from one bundle re-profiled (issue 16)."""
    rounds = [[0.0065] * 8 + [0.060] * 2, [0.0065] * 8 + [0.060] * 2]
    rounds += [[0.0065] * 8 + [0.0068] * 2, [0.0065] * 8 + [0.0067] * 2]
    s = summarize_rounds(rounds)
    assert s.p90_ms == [0.060, 0.060, 0.0068, 0.0067]
    assert s.p50_median_ms == 0.0065
    assert s.p90_median_ms == pytest.approx((0.060 + 0.0068) / 2)
    assert (s.p90_min_ms, s.p90_max_ms) == (0.0067, 0.060)
    assert s.unstable and s.count == 4 and s.queries_per_round == [10] * 4


def test_rounds_that_agree_are_not_unstable_and_one_round_never_is():
    assert not unstable([1.0, 1.2, 1.1])
    assert unstable([1.0, 1.0, UNSTABLE_RATIO * 1.01])
    assert not unstable([5.0])
    with pytest.raises(ValueError):
        summarize_rounds([[1.0], []])


def test_latency_result_keeps_every_sample_and_reports_the_robust_figures():
    rounds = [[1.0] * 8 + [9.0] * 2, [1.0] * 10, [1.0] * 10]
    res = latency_result(rounds, first_ms=3.0, duration_s=0.1, interleaved=True)
    assert len(res["samples_ms"]) == 30 and res["stats"]["queries"] == 30
    assert res["stats"]["first_inference_ms"] == 3.0
    assert res["rounds"]["interleaved"] and res["rounds"]["count"] == 3
    # the headline p90 is the median round's, not dragged by the slow queries of round 1
    assert res["stats"]["p90_ms"] == res["rounds"]["p90_median_ms"] == 1.0
    assert res["rounds"]["p90_max_ms"] == 9.0 and res["rounds"]["unstable"]


def counting_run():
    calls = []

    def run(x):
        calls.append(x)

    return run, calls


def test_back_to_back_rounds_split_the_queries():
    run, calls = counting_run()
    res = measure_latency_rounds(run, 0, QUICK)
    plan = RoundPlan.of(QUICK)
    assert res["rounds"]["count"] == QUICK.rounds and not res["rounds"]["interleaved"]
    assert all(n >= plan.queries for n in res["rounds"]["queries_per_round"])
    assert len(res["samples_ms"]) == sum(res["rounds"]["queries_per_round"])
    assert len(calls) > len(res["samples_ms"])  # first inference, warm-up, re-warms untimed


def test_a_served_worker_runs_a_round_each_time_it_is_told():
    run, _ = counting_run()
    answers = io.StringIO()
    channel = Channel(io.StringIO(f"{ROUND}\n{ROUND}\n{ROUND}\n{ROUND}\n{FINISH}\n"), answers)
    res = serve_rounds(run, 0, QUICK, channel)
    said = [json.loads(line) for line in answers.getvalue().splitlines()]
    assert [a["state"] for a in said] == [READY] + [ROUND] * 4
    assert [a["index"] for a in said[1:]] == [1, 2, 3, 4]
    assert res["rounds"]["count"] == 4 and res["rounds"]["interleaved"]


def test_a_served_worker_told_to_finish_at_once_still_runs_its_rounds():
    run, _ = counting_run()
    res = serve_rounds(run, 0, QUICK, Channel(io.StringIO(""), io.StringIO()))
    assert res["rounds"]["count"] == QUICK.rounds and not res["rounds"]["interleaved"]


class FakeWorker:
    """Records the order in which the coordinator asks for rounds."""

    log: list[tuple[str, int]] = []

    def __init__(self, spec, folder):
        self.spec, self.n = spec, 0

    def round(self):
        self.n += 1
        FakeWorker.log.append((self.spec, self.n))

    def finish(self):
        return {"rounds": self.n, "name": self.spec}

    def stop(self):
        pass


class Spec(str):
    @property
    def profile(self):
        return QUICK


def test_the_coordinator_interleaves_rounds_across_artifacts(monkeypatch):
    monkeypatch.setattr(interleave, "ServeWorker", FakeWorker)
    monkeypatch.setattr(interleave.sys, "platform", "linux")
    FakeWorker.log = []
    specs = [Spec("a"), Spec("b"), Spec("c")]
    results = interleave.profile_interleaved(specs)
    assert [r["name"] for r in results] == ["a", "b", "c"]
    assert all(r["rounds"] == 3 and r["source"] == "measured-local" for r in results)
    order = [name for name, _ in FakeWorker.log]
    # round 1 forward, round 2 backward, round 3 forward: no artifact runs twice in a row
    # except at the turn, so a burst of other work lands on several artifacts' rounds
    assert order == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]


# ---------------------------------------------------------------- what the report shows
def report_row(model, p90, spread=None, unstable=False):
    from edgekd.report.model import ReportRow

    return ReportRow(
        model=model, precision="fp32", accuracy=0.9, p90_ms=p90, p50_ms=p90, role="distilled",
        status="ok", gate="pass", target="cpu", runtime="onnxruntime", method="kd",
        latency_source="measured-local", rounds=3 if spread else None,
        p90_spread_ms=spread, unstable=unstable,
    )  # fmt: skip


def test_the_report_shows_the_spread_and_flags_unstable_rows():
    from edgekd.report.findings import findings
    from edgekd.report.markdown import table_lines
    from edgekd.report.model import FindingKind
    from edgekd.report.recommend import recommendation

    calm = report_row("a", 0.0065, (0.0064, 0.0066))
    noisy = report_row("b", 0.0068, (0.0067, 0.060), unstable=True)
    lines = table_lines([calm, noisy])
    assert "p90 rounds min–max" in lines[0]
    assert "(3 rounds)" in lines[2] and "UNSTABLE" not in lines[2]
    assert "UNSTABLE" in lines[3]
    flagged = [f for f in findings([calm, noisy], None) if f.kind is FindingKind.UNSTABLE_LATENCY]
    assert len(flagged) == 1 and flagged[0].text.startswith("b (kd, fp32) on cpu")
    assert recommendation(noisy).unstable and not recommendation(calm).unstable
    assert "unstable" not in recommendation(calm).model_dump(mode="json")


def test_a_report_from_before_rounds_renders_as_it_did():
    from edgekd.report.markdown import table_lines

    old = report_row("a", 0.0065)
    assert "p90 rounds" not in table_lines([old])[0]
    assert "rounds" not in old.model_dump(mode="json")
