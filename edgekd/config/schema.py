"""The typed configuration of pipelines and targets: pydantic models and nothing else.

A leaf module: it imports no other part of edgekd, so a plugin, the profiling worker (which
also runs on remote devices) and the tests can all import it. Every model forbids unknown
keys. Loading YAML, resolving plugins and paths, and cross-plugin checks live in
`edgekd.config.load` and `edgekd.config.checks`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    SerializeAsAny,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
Precision = Literal["fp32", "fp16", "bf16", "int8"]
# torch, numpy and mnist1d all take seeds in this range; larger ones overflow deep inside them
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]


@dataclass(frozen=True)
class UserPath:
    """Marks a Path field as naming the user's own file or folder. `edgekd.config.paths`
    resolves it against the folder of the YAML file that wrote it, and stages that read it
    put its content's sha256 into their cache keys."""

    kind: Literal["file", "folder"] = "file"


UserFile = Annotated[Path, UserPath("file")]
UserFolder = Annotated[Path, UserPath("folder")]


def _options_value(value: Any) -> Any:
    if isinstance(value, (dict, BaseModel)):
        return value
    raise PydanticCustomError("dict_type", "Input should be a valid dictionary")


# A plugin's `options:` mapping. Read from YAML it is a dict; `edgekd.config.checks` parses it
# once into the plugin's own `Options` model and the config carries that from then on. It
# dumps as the model's full field values, so a default left out and one written in hash alike.
PluginOptions = SerializeAsAny[
    Annotated[
        dict[str, Any] | BaseModel,
        PlainValidator(_options_value),
        WithJsonSchema({"type": "object"}),
    ]
]


class Strict(BaseModel):
    """Unknown keys and non-finite numbers (`.inf`, `.nan`, "1e999") are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class InputSpec(Strict):
    """The model's input, per sample, where the data cannot say it (or to check it does)."""

    shape: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=8)
    dtype: Literal["float32"] = "float32"  # every runtime edgekd targets is fed float32


class TransferConfig(Strict):
    """Unlabeled inputs that distillation schemes with a teacher train on besides the labeled
    split: a folder of images (preprocessed like the dataset's) or an array (N, *sample)."""

    folder: UserFolder | None = None
    array: UserFile | None = None  # .npy, opened memory-mapped
    limit: int | None = Field(None, ge=1)  # use the first `limit` samples only

    @model_validator(mode="after")
    def _one(self) -> TransferConfig:
        if (self.folder is None) == (self.array is None):
            raise ValueError("give exactly one of `folder` (images) or `array` (a .npy file)")
        return self


DEVICE = r"^(auto|cpu|mps|cuda(:[0-9]{1,3})?)$"


class TrainConfig(Strict):
    epochs: int = Field(30, ge=1)
    # exactly this many optimizer steps instead of `epochs` epochs (as many epochs as that
    # takes, the last one cut short); the schedule then runs per step: cosine over `steps`,
    # `milestones` counted in steps. A step-matched scratch baseline is trained this way.
    steps: int | None = Field(None, ge=1, le=10**9)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-2, gt=0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    milestones: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)
    gamma: float = Field(0.1, gt=0)
    nesterov: bool = True  # SGD only; the CIFAR KD benchmarks (CRD, mdistiller) use False

    @model_validator(mode="after")
    def _epochs_or_steps(self) -> TrainConfig:
        if {"epochs", "steps"} <= self.model_fields_set and self.steps is not None:
            raise ValueError("give `epochs` or `steps` (optimizer steps), not both")
        return self


class AugmentSpec(Strict):
    """One training-batch augmentation (edgekd.data.augment) of `data.augment`."""

    name: str
    options: PluginOptions = Field(default_factory=dict)


class ModelSpec(Strict):
    model: str
    options: PluginOptions = Field(default_factory=dict)


class TeacherConfig(ModelSpec):
    """A teacher trained here (`model`), loaded (`model` + `checkpoint`) or a black box (`onnx`)."""

    model: str | None = None
    train: TrainConfig = TrainConfig()
    checkpoint: UserFile | None = None
    onnx: UserFile | None = None
    # the teacher's own training-batch augmentations ([]: none); absent: `data.augment`.
    # Students and their scratch twins always share `data.augment`.
    augment: list[AugmentSpec] | None = Field(None, max_length=16)

    @model_validator(mode="after")
    def _one_source(self) -> TeacherConfig:
        if (self.model is None) == (self.onnx is None):
            raise ValueError(
                "give exactly one of `model` (a registered model, trained or loaded from "
                "`checkpoint`) or `onnx` (the path of a black-box teacher's ONNX file)"
            )
        if self.onnx is not None and self.checkpoint is not None:
            raise ValueError("`checkpoint` belongs to a PyTorch teacher; remove it with `onnx`")
        if self.augment is not None and (self.onnx is not None or self.checkpoint is not None):
            raise ValueError(
                "`augment` is how a teacher trained here is trained; this teacher is loaded "
                "(`checkpoint` or `onnx`), so remove `augment`"
            )
        return self


class LossSpec(Strict):
    name: str
    weight: float = Field(1.0, ge=0)
    options: PluginOptions = Field(default_factory=dict)


class DistillConfig(Strict):
    scheme: str = "offline"
    ce_weight: float = Field(1.0, ge=0)
    losses: list[LossSpec] = Field(min_length=1)
    # auto: reuse the teacher's outputs every epoch when that is exact (see distill/cache.py)
    cache_teacher_outputs: Literal["auto", "on", "off"] = "auto"
    options: PluginOptions = Field(default_factory=dict)  # the scheme's Options


Positive = Annotated[float, Field(gt=0, le=1e6)]
NonNegative = Annotated[float, Field(ge=0, le=1e6)]


class SearchSpace(Strict):
    """The values a recipe search tries (each a list); a key left out keeps the student's own
    value. `loss`, `weight` and `temperature` apply to the first of `distill.losses`."""

    loss: list[str] | None = Field(None, min_length=1, max_length=16)
    temperature: list[Positive] | None = Field(None, min_length=1, max_length=16)
    weight: list[NonNegative] | None = Field(None, min_length=1, max_length=16)
    ce_weight: list[NonNegative] | None = Field(None, min_length=1, max_length=16)

    @model_validator(mode="after")
    def _something(self) -> SearchSpace:
        if all(v is None for v in self.model_dump().values()):
            raise ValueError("name at least one of loss, temperature, weight, ce_weight")
        return self


class SearchConfig(Strict):
    """Try distillation recipes on the validation split, keep the best (edgekd.search)."""

    space: SearchSpace
    trials: int | None = Field(None, ge=1, le=10_000)  # at most this many trials
    budget_s: float | None = Field(None, gt=0, le=30 * 86400)  # no trial starts after this
    fraction: float = Field(0.25, gt=0, le=1)  # of the student's epochs (or steps) per trial
    sampler: Literal["auto", "tpe", "grid"] = "auto"  # auto: tpe where optuna is installed

    @model_validator(mode="after")
    def _bounded(self) -> SearchConfig:
        if self.trials is None and self.budget_s is None:
            raise ValueError("give `trials` (a count), `budget_s` (seconds) or both")
        return self


class QatConfig(Strict):
    """Quantization-aware distillation (QAT-KD) of the student's int8 artifact: fine-tune it
    with the runtime's own fake quantization against the teacher's soft targets, then export
    it again (edgekd.quant). `when: gate_fails` runs it only where plain int8 fails the gate."""

    when: Literal["gate_fails", "always"] = "gate_fails"
    epochs: int = Field(3, ge=1, le=1000)
    lr_fraction: float = Field(0.1, gt=0, le=1)  # of the student's train.lr
    temperature: float = Field(4.0, gt=0, le=100)
    ce_weight: float = Field(0.1, ge=0, le=1)  # the KD term weighs 1 - ce_weight


class MixedPrecisionConfig(Strict):
    """Keep the layers most sensitive to int8 in float, fewest first, until the artifact
    keeps the accuracy gate on the validation split (edgekd.quant.mixed)."""

    when: Literal["gate_fails", "always"] = "gate_fails"
    max_float_layers: int = Field(8, ge=1, le=256)


class StudentConfig(ModelSpec):
    name: str = Field(pattern=SAFE_NAME)
    train: TrainConfig = TrainConfig()
    distill: DistillConfig | None = None
    baseline: bool = True
    search: SearchConfig | None = None  # tune `distill` on the validation split first
    qat: QatConfig | None = None  # int8 recovery: quantization-aware distillation
    mixed_precision: MixedPrecisionConfig | None = None  # int8 recovery: float layers kept

    @model_validator(mode="after")
    def _search_needs_distill(self) -> StudentConfig:
        if self.search is not None and self.distill is None:
            raise ValueError("`search` tunes the distillation recipe: add `distill:` too")
        if self.qat is not None and self.distill is None:
            raise ValueError("`qat` distils from the teacher's soft targets: add `distill:` too")
        return self


class DataConfig(Strict):
    dataset: str = "mnist1d"
    options: PluginOptions = Field(default_factory=dict)
    val_fraction: float = Field(0.1, ge=0, lt=1)
    calib_size: int = Field(256, ge=1)
    input: InputSpec | None = None  # declared input spec; checked against the data's samples
    # unlabeled inputs for distillation: user files, or generated by the dataset (mnist1d)
    transfer: TransferConfig | None = None
    transfer_samples: int = Field(0, ge=0, le=1_000_000)
    # training-batch augmentations, in order ([]: none); absent: the dataset's own default
    augment: list[AugmentSpec] | None = Field(None, max_length=16)
    workers: int | Literal["auto"] = "auto"  # DataLoader worker processes; never in a key

    @field_validator("workers")
    @classmethod
    def _workers(cls, value):
        if isinstance(value, int) and not 0 <= value <= 64:
            raise ValueError("workers must be 'auto' or 0..64")
        return value

    @model_validator(mode="after")
    def _one_transfer(self) -> DataConfig:
        if self.transfer is not None and self.transfer_samples:
            raise ValueError("give `transfer` (files) or `transfer_samples` (generated), not both")
        return self


class ExportConfig(Strict):
    opset: int = Field(18, ge=13)
    atol: float = Field(1e-4, gt=0)
    rtol: float = Field(1e-3, ge=0)
    check_samples: int = Field(256, ge=1)


# The quick tier (CI, smoke tests) fills the keys a pipeline leaves out with these; the report
# tier keeps the MLPerf-style defaults below and must run >= 1,024 queries or a time bound.
QUICK_TIER = {
    "warmup": 5,
    "min_queries": 64,
    "min_time_s": 0.0,
    "max_time_s": 5.0,
    "throughput_time_s": 0.1,
    "layer_runs": 5,
    "rounds": 3,
}
REPORT_MIN_QUERIES = 1024
TUNE_BUDGET_S = {"report": 10.0, "quick": 1.0}  # screening per artifact, by tier


class TuneConfig(Strict):
    """Try the settings a runtime declares worth trying (threads up to the cores there, its
    optimisation level, hints, spinning) before measuring, and ship the fastest."""

    enabled: bool = True
    budget_s: float | None = Field(None, gt=0, le=3600)  # None: by tier (TUNE_BUDGET_S)
    rounds: int = Field(3, ge=1, le=50)  # screening rounds, candidates interleaved


class ProfileConfig(Strict):
    tier: Literal["report", "quick"] = "report"
    warmup: int = Field(50, ge=0)
    min_queries: int = Field(1024, ge=1)
    min_time_s: float = Field(1.0, ge=0)
    max_time_s: float = Field(60.0, gt=0)
    throughput_batch: int = Field(32, ge=1)
    throughput_time_s: float = Field(1.0, gt=0)
    layers: bool = True  # per-layer profile: ORT profiler / OpenVINO PERF_COUNT
    layer_runs: int = Field(50, ge=1)
    timeout_s: float = Field(900.0, gt=0)  # for one artifact's worker process
    # batch-1 latency comes in rounds (round-robin across a target's artifacts where they
    # are measured here); the queries and times above are split across them
    rounds: int = Field(5, ge=1, le=100)
    tune: TuneConfig = TuneConfig()

    @property
    def tune_budget_s(self) -> float:
        return self.tune.budget_s or TUNE_BUDGET_S[self.tier]

    @model_validator(mode="before")
    @classmethod
    def _quick_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if data.get("tier") == "quick":
            return {**QUICK_TIER, **data}
        if "tier" not in data:  # no tier named: label short settings as what they are
            try:
                short = int(data.get("min_queries", REPORT_MIN_QUERIES)) < REPORT_MIN_QUERIES
                untimed = not float(data.get("min_time_s", 1.0))
            except (TypeError, ValueError):
                return data  # the field validators report the bad value
            if short and untimed:
                return {**data, "tier": "quick"}
        return data

    @model_validator(mode="after")
    def _report_tier_is_long_enough(self) -> ProfileConfig:
        if self.tier == "report" and self.min_queries < REPORT_MIN_QUERIES and not self.min_time_s:
            raise ValueError(
                f"the report tier needs min_queries >= {REPORT_MIN_QUERIES} or a time bound "
                "(min_time_s > 0); set tier: quick for a short CI measurement"
            )
        return self


SearchWidth = Annotated[int | float, Field(gt=0, le=16384)]


class StudentSearchConfig(Strict):
    """Size a student for a latency budget (edgekd.search.student, docs/search.md): width x
    depth variants of one student's family are compiled for `target` and their batch-1 p90
    measured (or estimated) before any training; those within `budget_ms` are distilled for
    `short_epochs`, the `finalists` best on the validation split with the student's own
    recipe, and the most accurate of those (validation split) becomes the student."""

    student: str | None = Field(None, pattern=SAFE_NAME)  # None: the first of `students`
    target: str  # a target name or YAML path, as in `targets`
    budget_ms: float = Field(gt=0, le=1e6)  # batch-1 p90 on the target
    precision: Precision = "fp32"
    widths: list[SearchWidth] | None = Field(None, min_length=1, max_length=16)  # None: x1/4..x2
    depths: list[Annotated[int, Field(ge=1, le=1202)]] | None = Field(
        None, min_length=1, max_length=16
    )  # None: the student's own depth
    short_epochs: int | None = Field(None, ge=1, le=10**6)  # None: a quarter of its epochs
    finalists: int = Field(2, ge=1, le=16)  # distilled with the student's full recipe
    # the quick tier, with MLPerf's 1,024 queries and at least a second of them (1,024
    # queries of a 10-us model take 10 ms: one scheduler hiccup moved such a p90 by 50%),
    # and no per-layer profile
    profile: ProfileConfig = Field(
        default_factory=lambda: ProfileConfig(
            tier="quick", warmup=50, min_queries=1024, min_time_s=1.0, layers=False
        )
    )


class PipelineConfig(Strict):
    name: str = Field(pattern=SAFE_NAME)
    seed: Seed = 0
    data: DataConfig = DataConfig()
    teacher: TeacherConfig | None = None
    teachers: list[TeacherConfig] = Field(default_factory=list)  # several, for multi-teacher KD
    students: list[StudentConfig] = Field(min_length=1)
    export: ExportConfig = ExportConfig()
    targets: list[str] = Field(default_factory=lambda: ["cpu-onnxruntime"])
    profile: ProfileConfig = ProfileConfig()
    accuracy_gate: float = Field(0.99, gt=0, le=1)
    objective: Objective = Field(default_factory=lambda: Objective(max_accuracy_drop=1.0))
    # where training and teacher inference run: auto picks CUDA when present
    device: str = Field("auto", pattern=DEVICE)
    amp: Literal["off", "bf16", "fp16"] = "off"  # mixed precision (torch.autocast)
    search_students: StudentSearchConfig | None = None  # size a student for a latency budget

    @model_validator(mode="after")
    def _teachers(self) -> PipelineConfig:
        if self.teacher is not None and self.teachers:
            raise ValueError("give either `teacher` (one) or `teachers` (a list), not both")
        return self

    @model_validator(mode="after")
    def _mixed_needs_val(self) -> PipelineConfig:
        if self.data.val_fraction == 0 and any(s.mixed_precision for s in self.students):
            raise ValueError(
                "`mixed_precision` ranks layers by their int8 error on the validation split: "
                "set data.val_fraction > 0 (e.g. 0.1)"
            )
        return self

    @property
    def all_teachers(self) -> list[TeacherConfig]:
        return [self.teacher] if self.teacher is not None else list(self.teachers)

    def teacher_locs(self) -> list[tuple[str, TeacherConfig]]:
        """Each teacher with its key path in the YAML (for error messages)."""
        if self.teacher is not None:
            return [("teacher", self.teacher)]
        return [(f"teachers[{i}]", t) for i, t in enumerate(self.teachers)]


class DeviceSpec(Strict):
    """Published specs of the device, used for roofline estimates. Cite `source`."""

    cores: int | None = Field(None, ge=1)
    memory_gb: float | None = Field(None, gt=0)
    memory_bandwidth_gbps: float | None = Field(None, gt=0)
    peak_fp32_gflops: float | None = Field(None, gt=0)
    peak_fp16_gflops: float | None = Field(None, gt=0)
    peak_int8_gops: float | None = Field(None, gt=0)
    peak_bf16_gflops: float | None = Field(None, gt=0)
    # fixed costs the roofline adds (None: the runtime class's defaults in profile/estimate.py)
    overhead_per_inference_us: float | None = Field(None, ge=0)
    overhead_per_layer_us: float | None = Field(None, ge=0)
    source: str = ""


class SshConfig(Strict):
    """How to reach a target's `host: ssh://user@host[:port]` and run the worker there."""

    known_hosts: UserFile | None = None  # default ~/.ssh/known_hosts; unknown hosts are refused
    identity: UserFile | None = None  # default: ssh-agent and ~/.ssh/id_*
    python: str = "python3"  # needs numpy, pydantic, pyyaml and the runtime on the host
    connect_timeout_s: float = Field(15.0, gt=0)


MAX_THREADS = 4096
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
SSH_HOST = re.compile(
    rf"ssh://(?:(?P<user>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,63}})@)?"
    rf"(?P<host>{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?/?"
)


class TargetConfig(Strict):
    name: str = Field(pattern=SAFE_NAME)
    runtime: str
    description: str = ""
    precisions: list[Precision] = Field(default_factory=lambda: ["fp32"], min_length=1)
    threads: int | None = Field(None, ge=1, le=MAX_THREADS)
    host: str = "local"
    runtime_options: PluginOptions = Field(default_factory=dict)  # the backend's Options
    device: DeviceSpec = DeviceSpec()
    ssh: SshConfig = SshConfig()

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        """`local` or ssh://[user@]host[:port], checked here so that a typo fails at load,
        not after training; no part may start with '-' (it would read as an ssh option)."""
        if value == "local":
            return value
        m = SSH_HOST.fullmatch(value)
        if m is None or not 1 <= int(m["port"] or 22) <= 65535:
            raise ValueError(
                "host must be 'local' or ssh://user@host[:port] with a port in 1..65535 "
                "(e.g. ssh://pi@raspberrypi.local or ssh://me@10.0.0.5:2222)"
            )
        return value


class Objective(Strict):
    """What the recommended artifact per target answers (one key): the fastest artifact within
    `max_accuracy_drop` points of the most accurate one (the teacher included), or the most
    accurate one whose batch-1 p90 is within `budget_ms`."""

    max_accuracy_drop: float | None = Field(None, ge=0, le=100)  # percentage points
    budget_ms: float | None = Field(None, gt=0)  # batch-1 p90, milliseconds

    @model_validator(mode="after")
    def _exactly_one(self) -> Objective:
        if (self.max_accuracy_drop is None) == (self.budget_ms is None):
            raise ValueError(
                "give exactly one of `max_accuracy_drop` (points below the most accurate "
                "artifact, e.g. 1.0) or `budget_ms` (batch-1 p90 latency budget in ms)"
            )
        return self


PipelineConfig.model_rebuild()  # `objective` names a model defined after it
