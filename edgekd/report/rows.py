"""The one place a report row is built: measured, estimated, or skipped with a reason.

The orchestration hands over what it knows about one artifact (the model's stage info, the
target, the compiled bundle, the profile result or an estimate); everything a reader sees in
report.json, report.md and report.html comes from the `ReportRow` made here.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekd.records import AccuracySource, Estimate, Gate, LatencySource, Role, RowStatus
from edgekd.report.model import ReportRow

LATENCY_KEYS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "std_ms", "min_ms", "max_ms")


@dataclass(frozen=True)
class Subject:
    """What a row is about: one model's artifact on one target at one precision."""

    model: str  # the model's label in this run
    role: Role
    student: str | None
    info: dict  # the model's stage record info (method, params, flops, acc_test)
    target: str
    runtime: str
    precision: str


@dataclass(frozen=True)
class Built:
    """A compiled artifact in its deploy bundle."""

    compile_info: dict  # the compile stage's info: bytes, files, versions, quantization
    bundle: str  # relative to the run folder
    placement: str  # the backend's one-cell summary


def measured_row(s: Subject, built: Built, prof: dict, gate: float) -> ReportRow:
    """A row measured by the profiling worker, here or over SSH."""
    acc, acc_torch = prof["acc_artifact"], s.info.get("acc_test")
    keeps = acc / acc_torch if acc_torch and acc is not None else 0.0
    lat, env, where = prof["latency"], prof.get("environment", {}), prof.get("placement", {})
    lat = lat | robust_figures(prof.get("latency_rounds"))
    return _row(
        s,
        built,
        status=RowStatus.OK,
        acc_artifact=acc,
        accuracy=acc,
        accuracy_source=AccuracySource.ARTIFACT,
        gate=Gate.PASS if keeps >= gate else Gate.FAIL,
        accuracy_kept=keeps,
        confusion=prof.get("confusion"),  # from the worker's accuracy step, where it gives one
        **{k: lat.get(k) for k in LATENCY_KEYS},
        queries=lat["queries"],
        rounds=lat.get("rounds"),
        p90_spread_ms=lat.get("p90_spread_ms"),
        unstable=lat.get("unstable", False),
        tuned_settings=prof.get("tuned_settings"),
        load_ms=prof["load_ms"],
        first_inference_ms=lat.get("first_inference_ms"),
        throughput=prof["throughput"]["samples_per_s"],
        throughput_batch=prof["throughput"]["batch"],
        peak_rss_bytes=prof.get("memory", {}).get("peak_rss_bytes"),
        latency_source=LatencySource(prof["source"]),
        threads=where.get("intra_op_threads"),
        affinity=env.get("affinity"),
        host=env.get("hostname"),
        cpu=env.get("cpu"),
        versions=prof.get("versions") or built.compile_info.get("versions", {}),
        layers=prof.get("layers"),
    )


def robust_figures(rounds: dict | None) -> dict:
    """p50/p90 as medians over latency rounds, with the p90s' spread; {} without rounds (a
    result from before them keeps the p50/p90 of all its samples)."""
    if not rounds:
        return {}
    return {
        "p50_ms": rounds["p50_median_ms"],
        "p90_ms": rounds["p90_median_ms"],
        "rounds": rounds["count"],
        "p90_spread_ms": (rounds["p90_min_ms"], rounds["p90_max_ms"]),
        "unstable": rounds["unstable"],
    }


def estimated_row(s: Subject, estimate: Estimate, reason: str, built: Built | None) -> ReportRow:
    """A roofline estimate for an artifact that was not run: PyTorch accuracy, no gate."""
    ms = estimate.latency_ms
    return _row(
        s,
        built,
        status=RowStatus.ESTIMATED,
        reason=reason,
        accuracy=s.info.get("acc_test"),
        accuracy_source=AccuracySource.TORCH,
        gate=Gate.NOT_APPLICABLE,
        p50_ms=ms,
        p90_ms=ms,
        p99_ms=ms,
        size_bytes=estimate.size_bytes,
        latency_source=LatencySource.ESTIMATED,
        estimate=estimate,
    )


def skipped_row(s: Subject, reason: str, built: Built | None = None) -> ReportRow:
    """Neither measured nor estimated; `reason` says why."""
    return _row(s, built, status=RowStatus.SKIPPED, reason=reason)


def with_agreement(row: ReportRow, fidelity: dict) -> ReportRow:
    """The row with its artifact's fidelity to the teacher's reference logits (top-1
    agreement, mean KL; `edgekd.profile.accuracy.fidelity`)."""
    return row.model_copy(
        update={"agreement": fidelity["agreement"], "kl_to_teacher": fidelity["kl"]}
    )


def _row(s: Subject, built: Built | None, **fields) -> ReportRow:
    if built is not None:  # compiled here (measured or not): the bundle ships either way
        fields |= {
            "bundle": built.bundle,
            "size_bytes": built.compile_info["bytes"],
            "placement": built.placement,
        }
    return ReportRow(
        model=s.model,
        role=s.role,
        method=s.info.get("method"),
        student=s.student,
        target=s.target,
        runtime=s.runtime,
        precision=s.precision,
        params=s.info.get("params"),
        flops=s.info.get("flops"),
        acc_torch=s.info.get("acc_test"),
        **fields,
    )
