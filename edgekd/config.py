"""Strict, typed configuration for pipelines and targets, loaded from YAML.

Every model forbids unknown keys; every error names the file, the key path and the valid
choices, closest first. Plugin options (dataset, model, loss, backend) are validated against
the plugin's own `Options` model, so a typo there is caught before any training starts.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgekd.errors import ConfigError, EdgeKDError, format_choices

SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
Precision = Literal["fp32", "fp16", "int8"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainConfig(Strict):
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-2, gt=0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    milestones: list[int] = Field(default_factory=list)
    gamma: float = Field(0.1, gt=0)
    nesterov: bool = True  # SGD only; the CIFAR KD benchmarks (CRD, mdistiller) use False


class ModelSpec(Strict):
    model: str
    options: dict[str, Any] = Field(default_factory=dict)


class TeacherConfig(ModelSpec):
    """A teacher trained here (`model`), loaded (`model` + `checkpoint`) or a black box (`onnx`)."""

    model: str | None = None
    train: TrainConfig = TrainConfig()
    checkpoint: Path | None = None
    onnx: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TeacherConfig:
        if (self.model is None) == (self.onnx is None):
            raise ValueError(
                "give exactly one of `model` (a registered model, trained or loaded from "
                "`checkpoint`) or `onnx` (the path of a black-box teacher's ONNX file)"
            )
        if self.onnx is not None and self.checkpoint is not None:
            raise ValueError("`checkpoint` belongs to a PyTorch teacher; remove it with `onnx`")
        return self


class LossSpec(Strict):
    name: str
    weight: float = Field(1.0, ge=0)
    options: dict[str, Any] = Field(default_factory=dict)


class DistillConfig(Strict):
    scheme: str = "offline"
    ce_weight: float = Field(1.0, ge=0)
    losses: list[LossSpec] = Field(min_length=1)
    # auto: reuse the teacher's outputs every epoch when that is exact (see distill/cache.py)
    cache_teacher_outputs: Literal["auto", "on", "off"] = "auto"
    options: dict[str, Any] = Field(default_factory=dict)  # validated by the scheme's Options


class StudentConfig(ModelSpec):
    name: str = Field(pattern=SAFE_NAME)
    train: TrainConfig = TrainConfig()
    distill: DistillConfig | None = None
    baseline: bool = True


class DataConfig(Strict):
    dataset: str = "mnist1d"
    options: dict[str, Any] = Field(default_factory=dict)
    val_fraction: float = Field(0.1, ge=0, lt=1)
    calib_size: int = Field(256, ge=1)


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
}
REPORT_MIN_QUERIES = 1024


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

    @model_validator(mode="before")
    @classmethod
    def _quick_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tier") == "quick":
            return {**QUICK_TIER, **data}
        return data

    @model_validator(mode="after")
    def _report_tier_is_long_enough(self) -> ProfileConfig:
        if self.tier == "report" and self.min_queries < REPORT_MIN_QUERIES and not self.min_time_s:
            raise ValueError(
                f"the report tier needs min_queries >= {REPORT_MIN_QUERIES} or a time bound "
                "(min_time_s > 0); set tier: quick for a short CI measurement"
            )
        return self


class PipelineConfig(Strict):
    name: str = Field(pattern=SAFE_NAME)
    seed: int = 0
    data: DataConfig = DataConfig()
    teacher: TeacherConfig | None = None
    teachers: list[TeacherConfig] = Field(default_factory=list)  # several, for multi-teacher KD
    students: list[StudentConfig] = Field(min_length=1)
    export: ExportConfig = ExportConfig()
    targets: list[str] = Field(default_factory=lambda: ["cpu-onnxruntime"])
    profile: ProfileConfig = ProfileConfig()
    accuracy_gate: float = Field(0.99, gt=0, le=1)

    @model_validator(mode="after")
    def _teachers(self) -> PipelineConfig:
        if self.teacher is not None and self.teachers:
            raise ValueError("give either `teacher` (one) or `teachers` (a list), not both")
        return self

    @property
    def all_teachers(self) -> list[TeacherConfig]:
        return [self.teacher] if self.teacher is not None else list(self.teachers)


class DeviceSpec(Strict):
    """Published specs of the device, used for roofline estimates. Cite `source`."""

    cores: int | None = None
    memory_gb: float | None = None
    memory_bandwidth_gbps: float | None = None
    peak_fp32_gflops: float | None = None
    peak_fp16_gflops: float | None = None
    peak_int8_gops: float | None = None
    source: str = ""


class SshConfig(Strict):
    """How to reach a target's `host: ssh://user@host[:port]` and run the worker there."""

    known_hosts: Path | None = None  # default ~/.ssh/known_hosts; unknown hosts are refused
    identity: Path | None = None  # default: ssh-agent and ~/.ssh/id_*
    python: str = "python3"  # needs numpy, pydantic, pyyaml and the runtime on the host
    connect_timeout_s: float = Field(15.0, gt=0)


class TargetConfig(Strict):
    name: str = Field(pattern=SAFE_NAME)
    runtime: str
    description: str = ""
    precisions: list[Precision] = Field(default_factory=lambda: ["fp32"], min_length=1)
    threads: int | None = Field(None, ge=1)
    host: str = "local"
    runtime_options: dict[str, Any] = Field(default_factory=dict)
    device: DeviceSpec = DeviceSpec()
    ssh: SshConfig = SshConfig()


# ---------------------------------------------------------------- loading and errors


def read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: no such file. Check the path and try again.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: malformed YAML{where}: {problem}. Fix the syntax.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; expected a YAML file.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level.")
    return data


def format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _model_at(cls: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class reached by following `loc` from `cls`, if any."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part) if isinstance(cls, type) else None
        if field is None:
            return None
        cls = _unwrap_model(field.annotation)
        if cls is None:
            return None
    return cls


def _unwrap_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def validation_message(
    err: ValidationError, cls: type[BaseModel], source: str, prefix: tuple = ()
) -> str:
    parts = []
    for e in err.errors():
        loc = tuple(e["loc"])
        where = format_loc(prefix + loc)
        if e["type"] == "extra_forbidden":
            parent = _model_at(cls, loc[:-1])
            valid = sorted(parent.model_fields) if parent else []
            parts.append(
                f"unknown key '{loc[-1]}' at {where}; valid keys: "
                f"{format_choices(str(loc[-1]), valid)}"
            )
        elif e["type"] == "missing":
            parts.append(f"missing required key {where}")
        else:
            parts.append(f"{where}: {e['msg']} (got {e.get('input')!r})")
    return f"{source}: " + "; ".join(parts) + ". Fix the YAML and run again."


def validate(cls: type[BaseModel], data: Any, source: str, prefix: tuple = ()) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_message(err, cls, source, prefix)) from None


def validate_options(plugin: Any, options: dict, source: str, loc: tuple) -> Any:
    """Validate a plugin's `options` against its `Options` model; returns the parsed model."""
    return validate(plugin.Options, options, source, loc)


def load_pipeline(path: Path, seed: int | None = None) -> PipelineConfig:
    path = Path(path)
    data = read_yaml(path)
    if seed is not None:
        data["seed"] = seed
    cfg = validate(PipelineConfig, data, str(path))
    cfg = _resolve_paths(cfg, path.parent)
    check_plugins(cfg, str(path))
    return cfg


def _resolve_paths(cfg: PipelineConfig, base: Path) -> PipelineConfig:
    resolved = [_resolve_teacher(t, base, loc) for loc, t in _teacher_locs(cfg)]
    if cfg.teacher is not None:
        return cfg.model_copy(update={"teacher": resolved[0]})
    return cfg.model_copy(update={"teachers": resolved})


def _teacher_locs(cfg: PipelineConfig) -> list[tuple[str, TeacherConfig]]:
    if cfg.teacher is not None:
        return [("teacher", cfg.teacher)]
    return [(f"teachers[{i}]", t) for i, t in enumerate(cfg.teachers)]


def _resolve_teacher(t: TeacherConfig, base: Path, loc: str) -> TeacherConfig:
    ckpt = t.checkpoint
    if ckpt is not None:
        ckpt = ckpt if ckpt.is_absolute() else (base / ckpt)
        if not ckpt.is_file():
            raise ConfigError(
                f"{loc}.checkpoint: file '{ckpt}' does not exist. Give the path of a "
                "state_dict (.pt) or .safetensors file, or remove the key to train the teacher."
            )
        t = t.model_copy(update={"checkpoint": ckpt})
    if t.onnx is not None:
        from edgekd.distill.onnx_teacher import check_onnx_file

        path = t.onnx if t.onnx.is_absolute() else (base / t.onnx)
        check_onnx_file(path, f"{loc}.onnx")
        t = t.model_copy(update={"onnx": path})
    return t


def check_plugins(cfg: PipelineConfig, source: str) -> None:
    """Resolve every named plugin and validate its options, naming the key on failure."""
    from edgekd.data import DATASETS
    from edgekd.distill.losses import LOSSES
    from edgekd.distill.schemes import SCHEMES
    from edgekd.models import MODELS

    def lookup(registry, name: str, loc: str):
        try:
            return registry.get(name)
        except EdgeKDError as exc:
            raise ConfigError(f"{source}: {loc}: {exc}") from None

    ds = lookup(DATASETS, cfg.data.dataset, "data.dataset")
    validate_options(ds, cfg.data.options, source, ("data", "options"))
    specs = [(loc, t) for loc, t in _teacher_locs(cfg) if t.model is not None]
    specs += [(f"students[{i}]", s) for i, s in enumerate(cfg.students)]
    for where, spec in specs:
        model = lookup(MODELS, spec.model, f"{where}.model")
        validate_options(model, spec.options, source, (where, "options"))
    names = [s.name for s in cfg.students]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"{source}: student names must be unique; repeated: {sorted(dupes)}.")
    for i, s in enumerate(cfg.students):
        if s.distill is None:
            continue
        for j, loss in enumerate(s.distill.losses):
            cls = lookup(LOSSES, loss.name, f"students[{i}].distill.losses[{j}].name")
            loc = (f"students[{i}]", "distill", f"losses[{j}]", "options")
            validate_options(cls, loss.options, source, loc)
        scheme = lookup(SCHEMES, s.distill.scheme, f"students[{i}].distill.scheme")
        validate_options(
            scheme, s.distill.options, source, (f"students[{i}]", "distill", "options")
        )
        _check_scheme_fits(cfg, s, scheme, f"{source}: students[{i}].distill")


def _check_scheme_fits(cfg: PipelineConfig, s: StudentConfig, scheme, where: str) -> None:
    """What a scheme needs of the rest of the pipeline (teachers, data, losses)."""
    if getattr(scheme, "needs_teacher", True) and not cfg.all_teachers:
        raise ConfigError(
            f"{where}: scheme '{s.distill.scheme}' needs a teacher; "
            "add `teacher:` (or `teachers:`) to the pipeline."
        )
    if any(t.onnx is not None for t in cfg.all_teachers) and _reads_teacher_taps(s):
        raise ConfigError(
            f"{where}: a feature or relation loss reads the teacher's layers, but an ONNX "
            "teacher is a black box that gives only logits. Use response losses (kd, dkd, "
            "dist) with an ONNX teacher."
        )
    if hasattr(scheme, "check"):
        scheme.check(cfg, s, where)


def _reads_teacher_taps(student: StudentConfig) -> bool:
    from edgekd.distill.losses import LOSSES

    for spec in student.distill.losses:
        cls = LOSSES.get(spec.name)
        if cls.taps(cls.Options.model_validate(spec.options))[1]:
            return True
    return False


# ---------------------------------------------------------------- targets

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def target_search_dirs(pipeline_path: Path | None = None) -> list[Path]:
    dirs = [Path.cwd() / "targets"]
    if pipeline_path is not None:
        dirs.insert(0, Path(pipeline_path).resolve().parent.parent / "targets")
    dirs.append(PACKAGE_ROOT / "targets")
    seen, out = set(), []
    for d in dirs:
        if d.resolve() not in seen:
            seen.add(d.resolve())
            out.append(d)
    return out


def available_targets(pipeline_path: Path | None = None) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in reversed(target_search_dirs(pipeline_path)):
        for f in sorted(d.glob("*.yaml")) if d.is_dir() else []:
            found[f.stem] = f
    return found


def load_target(name_or_path: str, pipeline_path: Path | None = None) -> TargetConfig:
    """A target by name (looked up in targets/ folders) or by the path of its YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        path = candidate
    else:
        known = available_targets(pipeline_path)
        if name_or_path not in known:
            dirs = ", ".join(str(d) for d in target_search_dirs(pipeline_path))
            raise ConfigError(
                f"Unknown target '{name_or_path}'. Valid targets: "
                f"{format_choices(name_or_path, known)}. Targets are read from: {dirs}."
            )
        path = known[name_or_path]
    target = validate(TargetConfig, read_yaml(path), str(path))
    from edgekd.backends import BACKENDS

    try:
        backend = BACKENDS.get(target.runtime)
    except EdgeKDError as exc:
        raise ConfigError(f"{path}: runtime: {exc}") from None
    validate_options(backend, target.runtime_options, str(path), ("runtime_options",))
    return target
