"""From trained models to report rows: plan, compile into bundles, then measure or estimate.

1. `plan` decides, per model x target x precision, what happens, from the target's backend
   status (runs here / compiles only / missing): compile and measure, compile and estimate,
   estimate only, or skip (a black-box ONNX teacher is never compiled).
2. `compile_step` runs the compile stage and writes the deploy bundle.
3. `measure_target` runs the profile stages of one target once all of its artifacts are
   compiled: the artifacts measured here that are not cached yet are tuned one by one, then
   measured together with their latency rounds interleaved (`edgekd.profile.interleave`);
   the rest (an SSH host, a lone artifact) are tuned and measured one at a time. Where a
   host cannot be reached, the row becomes a labelled estimate. `not_measured` makes
   estimate-or-skip rows.
Every step goes through the content-addressed stage store, and every row through
`edgekd.report.rows`; nothing here names a runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

from edgekd.backends import BACKENDS, Backend, CompileContext
from edgekd.config.schema import PipelineConfig, TargetConfig
from edgekd.deploy import verified
from edgekd.records import BackendStatus, Role
from edgekd.report.model import ReportRow
from edgekd.report.rows import Built, Subject, estimated_row, measured_row, skipped_row
from edgekd.store import StageResult

ONNX_TEACHER = "black-box ONNX teacher: used for distillation only, not compiled or profiled"


class Action(Enum):
    MEASURE = "compile, bundle and measure"
    BUILD_ONLY = "compile and bundle for the device; estimate its latency"
    ESTIMATE = "estimate only: the runtime is not installed here"
    SKIP = "skip"


@dataclass(frozen=True)
class Step:
    model: Any  # engine.Trained: label, role, student, stage
    target: TargetConfig
    backend: Backend
    precision: str
    action: Action
    reason: str = ""  # why it is not measured, for every action but MEASURE

    @property
    def subject(self) -> Subject:
        m, t = self.model, self.target
        info = m.stage.info
        return Subject(m.label, Role(m.role), m.student, info, t.name, t.runtime, self.precision)

    @property
    def name(self) -> str:
        return f"{self.model.label}-{self.target.name}-{self.precision}"


@dataclass(frozen=True)
class Exported:
    """A model's checked ONNX export, with the splits it sees (a teacher: its own view)."""

    stage: StageResult
    splits: Any

    @property
    def onnx(self) -> Path:
        return self.stage.path / "model.onnx"


@dataclass(frozen=True)
class Compiled:
    """A MEASURE step whose artifact is compiled and bundled, waiting for its profile."""

    index: int  # its place in report order
    step: Step
    exp: Exported
    comp: StageResult
    bundle: str


@dataclass(frozen=True)
class Flow:
    """What every step needs from the run."""

    cfg: PipelineConfig
    stage: Any  # engine's stage(kind, label, config, inputs, fn) -> StageResult
    data: StageResult
    run_dir: Path


def plan(models: list, targets: list[TargetConfig]) -> list[Step]:
    """Every model x target x precision with its action, in report order. A MEASURE step runs
    here or on the target's host (`target.host`); an unreachable host makes it an estimate."""
    backends = {t.name: BACKENDS.get(t.runtime)(t) for t in targets}
    status = {name: b.status() for name, b in backends.items()}
    action = {
        BackendStatus.RUNS_HERE: Action.MEASURE,
        BackendStatus.COMPILES_ONLY: Action.BUILD_ONLY,
        BackendStatus.MISSING: Action.ESTIMATE,
    }
    steps = []
    for m in models:
        for t in targets:
            st = status[t.name]
            act, why = action[st.state], st.reason
            if m.stage.info.get("onnx"):
                act, why = Action.SKIP, ONNX_TEACHER
            for p in t.precisions:
                unsupported = act is not Action.SKIP and backends[t.name].precision_unsupported(p)
                step = (Action.SKIP, unsupported) if unsupported else (act, why)
                steps.append(Step(m, t, backends[t.name], p, *step))
    return steps


def run_targets(flow: Flow, models: list, splits, targets: list[TargetConfig]) -> list[ReportRow]:
    """One row per model x target x precision, in plan order; each model is exported once,
    when needed; every artifact is compiled before any of its target is measured. A
    distilled student's measured int8 row may be followed by its int8 recovery rows
    (edgekd.quant), built and measured after the target's artifacts."""
    from edgekd.quant.recover import recovery_rows

    teachers = [m for m in models if m.role == Role.TEACHER]
    exports: dict[str, Exported] = {}
    rows: dict[int, ReportRow] = {}
    waiting: list[Compiled] = []
    device_only: dict[int, tuple] = {}  # built for a device whose runtime is not here
    for i, step in enumerate(plan(models, targets)):
        if step.action is Action.SKIP:
            rows[i] = skipped_row(step.subject, step.reason)
            continue
        m = step.model
        if m.label not in exports:
            exports[m.label] = export_model(flow, m, splits)
        row = run_step(flow, step, exports[m.label])
        if isinstance(row, Compiled):
            waiting.append(replace(row, index=i))
        else:
            rows[i] = row
            if step.action is Action.BUILD_ONLY:
                device_only[i] = (step, exports[m.label])
    for target in targets:
        rows |= measure_target(flow, [c for c in waiting if c.step.target.name == target.name])
    measured = {c.index: c for c in waiting}
    out = []
    for i in sorted(rows):
        out.append(rows[i])
        if i in measured:
            c = measured[i]
            out += recovery_rows(flow, c.step, c.exp, rows[i], teachers, measure_built)
        elif i in device_only:  # `when: always` only: no gate was measured here
            step, exp = device_only[i]
            out += recovery_rows(flow, step, exp, rows[i], teachers, package_built)
    return out


def run_step(flow: Flow, step: Step, exp: Exported):
    """The row of a step that is not measured, or the compiled artifact a MEASURE step
    leaves for `measure_target`."""
    if step.action is Action.ESTIMATE:
        return not_measured(step, exp, step.reason, None)
    comp, bundle = compile_step(flow, step, exp)
    if step.action is Action.BUILD_ONLY:  # compiled for the device; its runtime is not here
        return not_measured(step, exp, step.reason, built(step, comp, bundle, {}))
    return Compiled(-1, step, exp, comp, bundle)


def export_model(flow: Flow, m, splits) -> Exported:
    from edgekd.stages.export import run_export
    from edgekd.stages.models import load_trained

    sp = splits.teacher_view() if m.role == Role.TEACHER else splits  # cross-modal teachers
    net = load_trained(m.stage, sp)
    meta = metadata(m, flow.data)
    cfg = flow.cfg.export
    exp = flow.stage(
        "export",
        f"export-{m.label}",
        cfg,
        {"model": m.stage},
        lambda d: run_export(net, sp, cfg, meta, d),
    )
    return Exported(exp, sp)


def metadata(m, data: StageResult) -> dict[str, str]:
    """The ONNX file's metadata; the data's preprocessing as JSON (its text and numbers)."""
    import json

    from edgekd.export.onnx import metadata_for

    lineage = {
        "model_stage": m.stage.path.name,
        "model_hash": m.stage.content_hash,
        "data_hash": data.content_hash,
    }
    prep = data.info["preprocessing"]
    prep = prep if isinstance(prep, str) else json.dumps(prep, sort_keys=True)
    return metadata_for(m.label, m.stage.info, data.info | {"preprocessing": prep}, lineage)


def compile_step(flow: Flow, step: Step, exp: Exported) -> tuple[StageResult, str]:
    """The compile stage, then its deploy bundle; returns (stage, bundle path in the run)."""
    from edgekd.stages.compile import run_compile, target_settings
    from edgekd.stages.models import load_trained

    m, sp, cfg = step.model, exp.splits, flow.cfg
    context = CompileContext(
        load_model=lambda: load_trained(m.stage, sp),
        val=(sp.x["val"], sp.y["val"]),
        accuracy_gate=cfg.accuracy_gate,
    )
    settings, onnx = target_settings(step.target), exp.onnx
    comp = flow.stage(
        "compile",
        f"compile-{step.name}",
        {"target": settings, "precision": step.precision, "gate": cfg.accuracy_gate},
        {"onnx": exp.stage, "data": flow.data},
        lambda d: run_compile(step.backend, onnx, step.precision, sp, d, context),
    )
    why = step.reason if step.action is Action.BUILD_ONLY else ""
    bundle = write_step_bundle(flow, step, comp, exp, note=why)
    return comp, str(bundle.relative_to(flow.run_dir))


def write_step_bundle(flow: Flow, step: Step, comp, exp: Exported, profile=None, note=""):
    """The step's deploy bundle; written again with its figures once the profile stage ran."""
    from edgekd.deploy import write_bundle

    args = (step.model, step.precision, comp, flow.data, exp.stage)
    return write_bundle(flow.run_dir, step.target, step.backend, *args, profile, note)


def measure_target(flow: Flow, waiting: list[Compiled]) -> dict[int, ReportRow]:
    """The rows of one target's compiled artifacts, measured (or taken from the cache)."""
    ready = premeasured(flow, [c for c in waiting if c.step.target.host == "local"])
    return {c.index: measure_step(flow, c, ready.get(c.index)) for c in waiting}


def premeasured(flow: Flow, local: list[Compiled]) -> dict[int, dict]:
    """Results for the uncached artifacts measured here, tuned one by one and then measured
    with interleaved latency rounds; empty where fewer than two need measuring."""
    from edgekd.stages.profile import measure_interleaved, profile_spec
    from edgekd.store import StageStore

    store = StageStore(flow.run_dir)
    todo = [c for c in local if store.cached("profile", *profile_stage(flow, c)) is None]
    if len(todo) < 2:
        return {}
    for c in todo:
        verified(flow.run_dir / c.bundle)
    cfg = flow.cfg.profile
    specs = [
        profile_spec(c.step.backend, c.step.target, c.comp, flow.data, cfg, c.step.model.role)
        for c in todo
    ]
    results = measure_interleaved(specs)
    return {c.index: r for c, r in zip(todo, results)}


def profile_stage(flow: Flow, c: Compiled) -> tuple[str, dict, dict]:
    """The profile stage's label, config and inputs: its cache key."""
    from edgekd.stages.compile import target_settings

    config = {"target": target_settings(c.step.target), "profile": flow.cfg.profile}
    return f"profile-{c.step.name}", config, {"artifact": c.comp, "data": flow.data}


def measure_step(flow: Flow, c: Compiled, ready: dict | None = None) -> ReportRow:
    """The profile stage on the verified bundle, here or on the target's host; `ready`: its
    result, already measured with the target's other artifacts."""
    from edgekd.errors import RuntimeMissingError
    from edgekd.profile.remote import RemoteError
    from edgekd.stages.profile import record_profile, run_profile

    step, exp, comp, bundle = c.step, c.exp, c.comp, c.bundle
    verified(flow.run_dir / bundle)
    cfg, role = flow.cfg.profile, step.model.role
    try:
        prof = flow.stage(
            "profile",
            *profile_stage(flow, c),
            lambda d: (
                record_profile(ready, d)
                if ready is not None
                else run_profile(step.backend, step.target, comp, flow.data, cfg, d, role)
            ),
        )
    except (RemoteError, RuntimeMissingError) as exc:
        if step.target.host == "local":
            raise
        why = f"not measured here: {exc}"
        write_step_bundle(flow, step, comp, exp, note=why)
        return not_measured(step, exp, why, built(step, comp, bundle, {}))
    write_step_bundle(flow, step, comp, exp, profile=prof)
    done = built(step, comp, bundle, prof.info.get("placement", {}))
    return measured_row(step.subject, done, prof.info, flow.cfg.accuracy_gate)


def measure_built(flow: Flow, step: Step, exp: Exported, comp: StageResult) -> ReportRow:
    """Bundle and measure an artifact another stage built (int8 recovery, edgekd.quant)."""
    bundle = write_step_bundle(flow, step, comp, exp)
    return measure_step(flow, Compiled(-1, step, exp, comp, str(bundle.relative_to(flow.run_dir))))


def package_built(flow: Flow, step: Step, exp: Exported, comp: StageResult) -> ReportRow:
    """Bundle an artifact another stage built for a device whose runtime is not here (int8
    recovery for TensorRT): the row is estimated or skipped, as for any build-only step."""
    bundle = write_step_bundle(flow, step, comp, exp)
    done = built(step, comp, str(bundle.relative_to(flow.run_dir)), {})
    return not_measured(step, exp, step.reason, done)


def built(step: Step, comp: StageResult, bundle: str, runtime_placement: dict) -> Built:
    summary = step.backend.placement_summary(comp.info, runtime_placement)
    return Built(comp.info, bundle, summary)


def not_measured(step: Step, exp: Exported, reason: str, done: Built | None) -> ReportRow:
    """A roofline estimate from the ONNX graph and the device's specs, or a skipped row that
    says why there is none."""
    from edgekd.profile.estimate import estimate_latency

    est, why = estimate_latency(step.target, exp.onnx, step.precision, reason)
    if est is None:
        return skipped_row(step.subject, why, done)
    return estimated_row(step.subject, est, why, done)
