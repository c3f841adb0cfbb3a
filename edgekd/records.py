"""The enums and small records that stage records, report rows and backends share.

String-valued, so report.json stays readable and old reports parse; compare with the enum
members, never with bare strings. This module imports only pydantic: the profiling worker,
which also runs on remote devices without torch, reads and writes these records.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field


class TextEnum(str, Enum):
    """A str enum that prints as its value on every Python (3.11 changed format() of enums)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Role(TextEnum):
    TEACHER = "teacher"
    BASELINE = "baseline"  # a student trained from scratch on the labels, for comparison
    DISTILLED = "distilled"


class RowStatus(TextEnum):
    OK = "ok"  # compiled and measured (here or over SSH)
    ESTIMATED = "estimated"  # not measured: a labelled roofline estimate
    SKIPPED = "skipped"  # neither measured nor estimated; `reason` says why


class LatencySource(TextEnum):
    MEASURED_LOCAL = "measured-local"
    MEASURED_REMOTE = "measured-remote"
    ESTIMATED = "estimated"


class Gate(TextEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"  # the artifact was not run, so its accuracy is unknown


class AccuracySource(TextEnum):
    ARTIFACT = "artifact"  # the compiled artifact over the whole test split
    TORCH = "torch"  # the PyTorch model, where the artifact could not be run


class BackendStatus(TextEnum):
    """What a backend can do on this machine."""

    RUNS_HERE = "runs here"  # compiles and loads: artifacts are measured here
    COMPILES_ONLY = "compiles only"  # builds the bundle, but the runtime is for the device
    MISSING = "missing"  # neither: the runtime's packages are not installed


def _none(value) -> bool:
    return value is None or value == ""


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LayerTime(Record):
    name: str
    op_type: str
    mean_us: float
    share: float


class LayerProfile(Record):
    """The slowest ops of one artifact from its runtime's own counters; neutral across runtimes."""

    tool: str  # e.g. "onnxruntime profiler": the counters the times come from
    runs: int
    nodes: int
    total_us: float  # kernel time per run, all nodes
    top: list[LayerTime]
    # time per run by where it ran, where the runtime says (ExecuTorch: delegated / not);
    # left out of the JSON when empty, so older reports read and write back unchanged
    split_us: dict[str, float] = Field(default_factory=dict, exclude_if=lambda v: not v)


class Estimate(Record):
    """A roofline latency for a device that is not measured; every figure labelled `estimated`,
    with its error band (`low_ms`..`high_ms`) and where the band comes from."""

    latency_ms: float
    bound: str  # compute | memory | fixed-cost
    flops: int
    bytes: int
    peak: float
    memory_bandwidth_gbps: float
    compute_ms: float | None = None
    memory_ms: float | None = None
    size_bytes: int | None = None
    method: str = "roofline"
    spec_source: str = ""
    # fixed costs and the error band; absent from estimates made before them (and then left
    # out of the JSON, so older reports read and write back unchanged)
    fixed_ms: float | None = Field(None, exclude_if=_none)  # per inference + per layer
    layers: int | None = Field(None, exclude_if=_none)
    low_ms: float | None = Field(None, exclude_if=_none)
    high_ms: float | None = Field(None, exclude_if=_none)
    band_source: str = Field("", exclude_if=_none)


Setting = str | int | float | bool | None


class RuntimeSettings(Record):
    """How a runtime is loaded: a thread count and overrides of the target's runtime options.

    A backend declares the candidates worth trying (`Backend.tuning_space`); the profiler
    measures them without knowing what the options mean, and the fastest is shipped in the
    bundle's manifest (`tuned_settings`), where predict.py reads it."""

    threads: int = Field(ge=1)
    options: dict[str, Setting] = Field(default_factory=dict)

    def text(self) -> str:
        """`threads 2, graph_optimization_level extended`: one line for reports and READMEs."""
        return ", ".join(
            [f"threads {self.threads}", *(f"{k} {v}" for k, v in self.options.items())]
        )


class LatencyRounds(Record):
    """Batch-1 latency as several rounds of one artifact, each a p50/p90 over its own queries.

    The robust figure is the median over rounds: one round preempted by other work on the
    machine moves it little, while it drags a p90 over all samples together. `unstable` says
    the rounds disagree (largest / smallest round p90 above `UNSTABLE_RATIO`)."""

    count: int
    queries_per_round: list[int]
    p50_ms: list[float]
    p90_ms: list[float]
    p50_median_ms: float
    p90_median_ms: float
    p90_min_ms: float
    p90_max_ms: float
    unstable: bool
    interleaved: bool = False  # round-robin with the other artifacts of its target


UNSTABLE_RATIO = 1.5  # max / min of round p90s above this: the rounds disagree
