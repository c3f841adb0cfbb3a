"""report.json as typed models: one row per model x target x precision.

Every row with a latency says where it came from in `latency_source` (measured-local,
measured-remote, estimated) and where its accuracy came from in `accuracy_source` (artifact:
the compiled artifact over the whole test split; torch: the PyTorch model, used where the
artifact could not be run). report.json is written from `Report` and read back through it
(`edgekd.report.load`), so every reader gets the same fields with the same types.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from edgekd.config.schema import Objective
from edgekd.records import (
    AccuracySource,
    Estimate,
    Gate,
    LatencySource,
    LayerProfile,
    Role,
    RowStatus,
    RuntimeSettings,
    TextEnum,
)

SCHEMA = "edgekd.report/4"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _unset(value) -> bool:
    """Left out of report.json: reports made before the field read and write back alike."""
    return value is None or value is False


class ReportRow(Strict):
    """One artifact: what it is, how accurate and fast it is, and how each figure was got."""

    # what: a model's artifact on a target at a precision
    model: str
    role: Role
    method: str | None = None
    student: str | None = None
    target: str
    runtime: str
    precision: str
    status: RowStatus
    reason: str | None = None  # why not measured (estimated or skipped rows)
    params: int | None = None
    flops: int | None = None
    # accuracy
    acc_torch: float | None = None
    acc_artifact: float | None = None  # None: the artifact was not run
    accuracy: float | None = None  # acc_artifact where measured, else acc_torch
    accuracy_source: AccuracySource | None = None
    gate: Gate | None = None
    accuracy_kept: float | None = None
    accuracy_ci: tuple[float, float] | None = None  # 95% Wilson interval over the test split
    confusion: list[list[int]] | None = None  # [true class][predicted class] test counts
    # fidelity to the teacher (report.agreement_reference): top-1 agreement over the test
    # split and mean KL(teacher || artifact) in nats; None where the artifact was not run
    agreement: float | None = None
    kl_to_teacher: float | None = None
    # batch-1 latency (ms), throughput, memory, size
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    queries: int | None = None
    # p50/p90 above are medians over latency rounds where there were rounds (the robust
    # figures the pick uses); the p90s' min-max across rounds, and whether they disagree
    rounds: int | None = Field(None, exclude_if=_unset)
    p90_spread_ms: tuple[float, float] | None = Field(None, exclude_if=_unset)
    unstable: bool = Field(False, exclude_if=_unset)
    load_ms: float | None = None
    first_inference_ms: float | None = None
    throughput: float | None = None  # samples/s
    throughput_batch: int | None = None
    peak_rss_bytes: int | None = None
    size_bytes: int | None = None
    latency_source: LatencySource | None = None
    estimate: Estimate | None = None
    # where and with what it was measured
    threads: int | None = None
    affinity: list[int] | None = None
    host: str | None = None
    cpu: str | None = None
    versions: dict[str, str] | None = None
    tuned_settings: RuntimeSettings | None = Field(None, exclude_if=_unset)  # what ships
    layers: LayerProfile | None = None
    placement: str | None = None  # the backend's one-cell summary of where ops ran
    float_layers: list[str] | None = None  # int8-mixed rows: the layers kept in float
    bundle: str | None = None  # deploy/<target>/<model>-<precision>, relative to the run
    # relative to the rest of the report
    speedup_vs_teacher: float | None = None
    pareto: bool = False

    @property
    def estimated(self) -> bool:
        return self.latency_source is LatencySource.ESTIMATED

    @property
    def label(self) -> str:
        """How a reader names the point: model (method, precision)."""
        return f"{self.model} ({self.method or self.role}, {self.precision})"


class TargetSummary(Strict):
    runtime: str
    host: str = "local"
    threads: int | None = None
    description: str = ""
    device: dict[str, Any] = Field(default_factory=dict)


class ModelSummary(Strict):
    role: Role
    model: str | None = None
    options: dict[str, Any] | None = None
    method: str | None = None
    scheme: str | None = None
    params: int | None = None
    flops: int | None = None
    acc_test: float | None = None
    synthetic_samples: int | None = None  # data-free schemes
    synthesis: str | None = None
    training_samples_read: int | None = None
    peers: list[dict[str, Any]] | None = None  # online (mutual) schemes
    teachers: int | None = None  # multi-teacher schemes
    steps: int | None = None  # optimizer steps trained (scratch; step-matched distilled)
    step_matched: bool | None = None  # scratch: ran extra epochs to match its twin's steps
    transfer_samples: int | None = None  # distilled: unlabeled inputs it also trained on


class Recommendation(Strict):
    model: str
    method: str | None = None
    precision: str
    accuracy: float
    p90_ms: float
    bundle: str | None = None
    role: Role | None = None
    unstable: bool = Field(False, exclude_if=_unset)  # its latency rounds disagree


class Decision(Strict):
    """What to deploy on one target and why, in words a reader can act on."""

    objective: str  # the objective it answers, e.g. "fastest within 1 point of the best"
    summary: str  # the pick and how it answers the objective, or why there is none
    teacher_wins: bool = False  # no student paid off on this target
    advice: list[str] = Field(default_factory=list)  # what to try when no student paid off


class DataSummary(Strict):
    """The data a run was measured on: compared across runs by `content_hash`; its test size
    gives every accuracy its interval."""

    content_hash: str | None = None  # the data stage's content hash
    dataset: str | None = None
    sizes: dict[str, int] = Field(default_factory=dict)  # samples per split
    labels: list[str] = Field(default_factory=list)
    test_class_counts: list[int] | None = None  # test samples per class

    @property
    def test_samples(self) -> int | None:
        return self.sizes.get("test")


class KdVerdict(TextEnum):
    GAIN = "gain"  # the distilled student beats its scratch twin beyond the 95% interval
    WITHIN_NOISE = "within noise"  # ahead, but the interval on the difference covers zero
    NO_GAIN = "no gain"  # at or below its scratch twin


class KdEffect(Strict):
    """A distilled student against its scratch twin (PyTorch accuracy on the test split)."""

    student: str  # the student's name in the pipeline
    distilled: str  # model labels in this run
    scratch: str
    distilled_accuracy: float
    scratch_accuracy: float
    test_samples: int
    gain: float  # distilled - scratch (fraction; x100 for points)
    low: float  # its 95% interval (see edgekd.report.stats)
    high: float
    verdict: KdVerdict


class FindingKind(TextEnum):
    SMALL_TEST_SPLIT = "small test split"
    EMPTY_TEST_CLASS = "class without test samples"
    STUDENT_NOT_SMALLER = "student not smaller than teacher"
    STUDENT_SLOWER = "student not faster than teacher"
    UNSTABLE_LATENCY = "unstable latency"  # an artifact's latency rounds disagree


class Finding(Strict):
    """A warning a reader must see before trusting the numbers."""

    kind: FindingKind
    text: str


class AgreementReference(Strict):
    """What the rows' `agreement` and `kl_to_teacher` compare each artifact with: the
    teacher's own outputs on the test split, computed once."""

    teacher: str  # the teacher's label in the run
    model: str | None = None  # its family, or "onnx" for a black-box ONNX teacher
    runtime: str = "pytorch"  # what ran it: pytorch, or onnxruntime for an ONNX teacher
    split: str = "test"
    samples: int


class SearchCandidate(Strict):
    """One width x depth variant of a searched student: its latency on the search's target
    (untrained: latency depends on the graph only) and, within the budget, its accuracy."""

    variant: str  # e.g. w64-d2
    options: dict[str, Any]  # the options the search set (width, depth)
    params: int | None = None
    flops: int | None = None
    p90_ms: float
    latency_source: LatencySource
    low_ms: float | None = None  # an estimate's error band
    high_ms: float | None = None
    in_budget: bool
    probe_seconds: float | None = None
    short_val_acc: float | None = None  # validation split, after the short schedule
    trial_seconds: float | None = None
    finalist: bool = False
    val_acc: float | None = None  # validation split, after the full recipe (what is chosen on)
    test_acc: float | None = None  # test split, PyTorch (shown, never chosen on)
    full_seconds: float | None = None
    picked: bool = False


class StudentSearch(Strict):
    """A student sized for a latency budget (edgekd.search.student): every candidate, how it
    was timed and scored, and the one that became the student."""

    student: str
    model: str
    target: str
    precision: str
    budget_ms: float
    width_option: str
    depth_option: str | None = None
    short_schedule: str  # e.g. "25 epochs"
    finalists: int
    profile_tier: str
    stage_seconds: float  # the search's stages (probes, trials, finalists), as first run
    candidates: list[SearchCandidate]

    @property
    def picked(self) -> SearchCandidate | None:
        return next((c for c in self.candidates if c.picked), None)


class Report(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    schema_: str = Field(SCHEMA, alias="schema")
    edgekd_version: str
    pipeline: str
    seed: int
    created: str
    dataset: str
    accuracy_gate: float
    profile: dict[str, Any] = Field(default_factory=dict)  # the ProfileConfig measured under
    targets: dict[str, TargetSummary] = Field(default_factory=dict)
    models: dict[str, ModelSummary] = Field(default_factory=dict)
    rows: list[ReportRow]
    recommended: dict[str, Recommendation] = Field(default_factory=dict)
    objective: Objective | None = None  # None: a report older than objectives (/3 and before)
    decisions: dict[str, Decision] = Field(default_factory=dict)  # per target, picked or not
    data: DataSummary | None = None
    kd: list[KdEffect] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    agreement_reference: AgreementReference | None = None  # None: no teacher, or older report
    student_search: StudentSearch | None = None  # `search_students:` / `edgekd search`

    def to_json(self) -> dict:
        """The JSON document report.json holds."""
        return self.model_dump(mode="json", by_alias=True)

    def target_names(self) -> list[str]:
        return sorted({r.target for r in self.rows})

    def rows_on(self, target: str) -> list[ReportRow]:
        return [r for r in self.rows if r.target == target]
