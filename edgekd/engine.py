"""Run a pipeline: data -> teacher -> students, then per target export -> compile -> profile
(`edgekd.deploy_flow`), then the report.

Every step goes through the content-addressed StageStore, so an unchanged rerun reuses all
of it and a changed student or a new target recomputes only what depends on it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

from edgekd.config.load import load_targets
from edgekd.config.matching import (
    augment_key,
    baseline_train,
    check_augment,
    check_teacher_augment,
    distilled_spec,
    effective_augment,
)
from edgekd.config.schema import PipelineConfig, TeacherConfig
from edgekd.distill import distributed as ddp
from edgekd.distill.hardware import CPU
from edgekd.distill.schemes import SCHEMES
from edgekd.hashing import sha256_file
from edgekd.progress import Reporter
from edgekd.records import Role
from edgekd.stages.data import (
    data_key,
    load_splits,
    load_transfer,
    run_data,
    run_transfer,
    transfer_key,
)
from edgekd.stages.models import check_model_inputs, code_digests, load_trained
from edgekd.stages.train import (
    run_distill,
    run_supervised,
    run_teacher_checkpoint,
    run_teacher_onnx,
)
from edgekd.store import StageResult, StageStore


@dataclass
class Trained:
    label: str  # unique name in this run, e.g. "teacher", "mlp-s", "mlp-s-scratch"
    role: Role
    student: str | None
    stage: StageResult

    def __post_init__(self) -> None:
        self.role = Role(self.role)  # given as the enum or its value


def run_pipeline(
    cfg: PipelineConfig,
    pipeline_path: Path,
    target_names: list[str] | None = None,
    out: Path | None = None,
    reporter: Reporter | None = None,
    wait: bool = True,
) -> Path | None:
    """Run every stage; returns the run folder (None on a torchrun rank other than 0)."""
    from edgekd.distill.hardware import resolve_hardware
    from edgekd.runlock import run_lock

    run_dir = Path(out) if out else Path("runs") / cfg.name
    targets = load_targets(target_names or cfg.targets, pipeline_path)
    plan = _plan_search(cfg, pipeline_path)
    if not ddp.init_from_env(resolve_hardware(cfg.device, cfg.amp).type).is_main:
        _train_all(cfg, _stage_fn(StageStore(run_dir), Reporter(quiet=True)), Reporter(True))
        ddp.shutdown()
        return None
    with run_lock(run_dir, wait, reporter):
        return _run_locked(cfg, run_dir, targets, reporter or Reporter(), plan)


def _plan_search(cfg: PipelineConfig, pipeline_path: Path):
    """The student search's plan (`search_students:`), checked before anything runs."""
    if cfg.search_students is None:
        return None
    from edgekd.errors import ConfigError
    from edgekd.search.student import plan_search

    if ddp.launched_world() > 1:
        raise ConfigError(
            "search_students runs its trials in one process, not under --nproc. Run the "
            "search without --nproc, then write the student it picked into the pipeline."
        )
    return plan_search(cfg, pipeline_path)


def _stage_fn(store: StageStore, reporter: Reporter):
    def stage(kind, label, config, inputs, fn) -> StageResult:
        res = ddp.run_stage(store, kind, label, config, inputs, fn)
        took = "" if res.cached else f" ({res.record['seconds']:.1f}s)"
        reporter.line(f"[{'cached' if res.cached else 'done'}] {label}{took}")
        return res

    return stage


def _run_locked(cfg, run_dir: Path, targets, reporter: Reporter, plan=None) -> Path:
    from edgekd.deploy_flow import Flow, run_targets

    stage = _stage_fn(StageStore(run_dir), reporter)
    found: dict = {}  # the student search's record, when the pipeline has one
    data, models = _train_all(cfg, stage, reporter, plan, found)
    ddp.shutdown()  # the other ranks leave here; export and the rest run on rank 0
    splits = load_splits(data, cfg.data.workers)
    reference = _reference_stage(stage, data, models, splits) if targets else None
    log = StageLog(stage)
    rows = run_targets(Flow(cfg, log, data, run_dir), models, splits, targets)
    rows = _with_agreement(rows, log, reference)
    from edgekd.report.build import write_report

    ref = reference.info if reference is not None else None
    write_report(run_dir, cfg, models, targets, rows, reference=ref, search=found.get("search"))
    reporter.line(f"report: {run_dir / 'report.md'}")
    return run_dir


class StageLog:
    """The engine's stage function, remembering the result of each (kind, label) it ran or
    found cached in this run: what was measured for a row, found again after the fact."""

    def __init__(self, stage):
        self.stage, self.results = stage, {}

    def __call__(self, kind, label, config, inputs, fn) -> StageResult:
        self.results[kind, label] = res = self.stage(kind, label, config, inputs, fn)
        return res


def _reference_stage(stage, data, models: list[Trained], splits) -> StageResult | None:
    """The first teacher's test logits, that every artifact's agreement is measured against
    (none for a pipeline without a teacher; not computed when there is no target)."""
    from edgekd.stages.reference import run_reference

    teacher = next((m for m in models if m.role is Role.TEACHER), None)
    if teacher is None:
        return None
    view = splits.teacher_view()
    return stage(
        "reference",
        f"{teacher.label}-logits",
        {"split": "test"},
        {"teacher": teacher.stage, "data": data},
        lambda d: run_reference(teacher.stage, view, d),
    )


def _with_agreement(rows: list, log: StageLog, reference: StageResult | None) -> list:
    """Each measured row with its artifact's top-1 agreement and mean KL to the teacher."""
    from edgekd.records import RowStatus
    from edgekd.report.rows import with_agreement
    from edgekd.stages.reference import agreement_with

    if reference is None:
        return rows
    out = []
    for r in rows:
        prof = log.results.get(("profile", f"profile-{r.model}-{r.target}-{r.precision}"))
        other_teacher = r.role is Role.TEACHER and r.model != reference.info["teacher"]
        measured = prof is not None and r.status is RowStatus.OK and not other_teacher
        fid = agreement_with(reference, prof) if measured else None
        out.append(with_agreement(r, fid) if fid is not None else r)
    return out


def _train_all(
    cfg: PipelineConfig, stage, reporter, plan=None, found: dict | None = None
) -> tuple[StageResult, list[Trained]]:
    """Data, teachers and students; with a student search (`plan`), its candidates are
    timed before any training and its record goes into `found["search"]`."""
    from edgekd.distill.hardware import resolve_hardware

    hw = resolve_hardware(cfg.device, cfg.amp)
    if not hw.is_cpu or hw.amp != "off":
        reporter.line(f"training on {hw.device}, amp {hw.amp}")
    key = data_key(cfg)
    data = stage("data", "data", key, {}, lambda d: run_data(cfg, d, key))
    for w in data.info.get("warnings", []):
        reporter.line(f"warning: {w}")
    splits = load_splits(data, cfg.data.workers)
    augment = effective_augment(cfg, splits.augment)
    splits = replace(splits, augment=augment)
    check_model_inputs(cfg, splits)
    if plan is not None:
        from edgekd.search.student import probe_all

        probes = probe_all(plan, stage, data, splits, cfg, reporter)
    tsplits = splits.teacher_view()
    check_augment(cfg, augment, [splits.input_shape, tsplits.input_shape])
    for where, t in cfg.teacher_locs():
        check_teacher_augment(t.augment, f"{where}.augment", tsplits.input_shape)
    teachers = [
        _teacher_stage(cfg, stage, data, tsplits, t, i, reporter, hw)
        for i, t in enumerate(cfg.all_teachers)
    ]
    models = [Trained(res.label, "teacher", None, res) for res in teachers]
    load_teachers = functools.cache(lambda: [load_trained(t, tsplits) for t in teachers])
    transfer = _transfer_stage(cfg, stage, data, splits, reporter)
    run = Run(cfg, stage, data, splits, transfer, teachers, load_teachers, hw, reporter)
    for i, s in enumerate(cfg.students):
        code = code_digests(s, f"students[{i}].model")
        if plan is not None and s.name == plan.student.name:
            s, found["search"] = _sized(run, plan, probes, code)
        twin = _twin(run, s)
        if twin.search is not None:
            twin = _searched(run, twin, code)
        if s.baseline:
            models.append(_baseline(run, s, twin, code))
        if s.distill is not None:
            models.append(_distilled(run, twin, code))
    return data, models


@dataclass(frozen=True)
class Run:
    """What every student's distillation stage needs from the run so far."""

    cfg: PipelineConfig
    stage: object
    data: StageResult
    splits: object
    transfer: StageResult | None
    teachers: list
    load_teachers: object
    hw: object
    reporter: Reporter


def _reads_transfer(run: Run, s) -> bool:
    scheme = SCHEMES.get(s.distill.scheme)
    return run.transfer is not None and scheme.needs_teacher and scheme.uses_transfer


def _twin(run: Run, s):
    """The student as distilled: step-matched to its scratch twin when it reads a transfer
    set (edgekd.config.matching)."""
    labeled = len(run.splits.y["train"])
    extra = run.transfer.info["count"] if s.distill and _reads_transfer(run, s) else 0
    return distilled_spec(s, labeled + extra, labeled)


def _distill_inputs(run: Run, s) -> tuple[dict, object]:
    """The stage inputs of distilling `s` (data, the teachers when the scheme has one, the
    transfer set when it reads it) and the splits it trains on."""
    inputs = {"data": run.data}
    if SCHEMES.get(s.distill.scheme).needs_teacher:  # the first teacher keeps the key "teacher"
        inputs |= {("teacher" if i == 0 else f"teacher-{i}"): t for i, t in enumerate(run.teachers)}
    splits = run.splits
    if _reads_transfer(run, s):
        inputs["transfer"] = run.transfer
        splits = replace(splits, transfer=load_transfer(run.transfer, run.cfg))
    return inputs, splits


def _distilled(run: Run, s, code: list) -> Trained:
    """A student distilled by its scheme: from the teachers (when the scheme has one) and
    on the transfer set (when the pipeline has one and the scheme reads it)."""
    uses = SCHEMES.get(s.distill.scheme).needs_teacher
    inputs, splits = _distill_inputs(run, s)
    if run.transfer is not None and "transfer" not in inputs:
        run.reporter.line(f"  {s.name}: scheme '{s.distill.scheme}' does not use the transfer set")
    cfg, hw = run.cfg, run.hw
    res = run.stage(
        "distill",
        s.name,
        {"spec": s, "seed": cfg.seed} | _extra_key(hw, code, splits.augment),
        inputs,
        lambda d: run_distill(
            s,
            run.load_teachers() if uses else [],
            splits,
            cfg.seed,
            d,
            s.name,
            run.reporter,
            hw=hw,
            code=code,
        ),  # fmt: skip
    )
    return Trained(s.name, "distilled", s.name, res)


def _searched(run: Run, s, code: list):
    """The student with the recipe its search stage picked on the validation split."""
    from edgekd.errors import ConfigError
    from edgekd.search.recipe import resolve_sampler, run_search
    from edgekd.search.space import candidate

    if ddp.current().active:
        raise ConfigError(
            f"student '{s.name}': a recipe search runs its trials in one process, not under "
            "--nproc. Run this pipeline without --nproc, or write the recipe the search "
            "picked (trials.json in its stage folder) into `distill:` and remove `search:`."
        )
    inputs, splits = _distill_inputs(run, s)
    uses = SCHEMES.get(s.distill.scheme).needs_teacher
    sampler = resolve_sampler(s.search.sampler)
    cfg, hw, label = run.cfg, run.hw, f"{s.name}-search"
    res = run.stage(
        "search",
        label,
        {"spec": s, "seed": cfg.seed, "sampler": sampler} | _extra_key(hw, code, splits.augment),
        inputs,
        lambda d: run_search(
            s,
            run.load_teachers() if uses else [],
            splits,
            cfg.seed,
            d,
            label,
            run.reporter,
            hw=hw,
            sampler=sampler,
        ),  # fmt: skip
    )
    winner = res.info["winner"]
    run.reporter.line(
        f"  {s.name}: search picked {winner['point']} (val_acc {winner['val_acc']:.4f})"
    )
    return s.model_copy(update={"distill": candidate(s.distill, winner["point"]), "search": None})


def _sized(run: Run, plan, probes: list[dict], code: list):
    """The searched student, sized by edgekd.search.student with the engine's own stages:
    short trials (stage "student-trial"), then finalists distilled as the student is."""
    from edgekd.distill.trainer import accuracy
    from edgekd.search.student import Hooks, search_student
    from edgekd.search.trial import run_student_trial

    def trial(s, label: str) -> StageResult:
        inputs, splits = _distill_inputs(run, s)
        uses = SCHEMES.get(s.distill.scheme).needs_teacher
        return run.stage(
            "student-trial",
            label,
            {"spec": s, "seed": run.cfg.seed} | _extra_key(run.hw, code, splits.augment),
            inputs,
            lambda d: run_student_trial(
                s,
                run.load_teachers() if uses else [],
                splits,
                run.cfg.seed,
                d,
                label,
                run.reporter,
                hw=run.hw,
            ),  # fmt: skip
        )

    def val_accuracy(res: StageResult) -> float:
        sp = run.splits
        net = load_trained(res, sp)
        return accuracy(net, sp.x["val"], sp.y["val"], hw=run.hw, workers=sp.workers)

    hooks = Hooks(
        twin=lambda s: _twin(run, s),
        trial=trial,
        full=lambda s: _distilled(run, _twin(run, s), code).stage,
        val_accuracy=val_accuracy,
    )
    return search_student(plan, probes, hooks, run.reporter)


def _extra_key(hw, code: list, augment: str | list = "") -> dict:
    """What a training stage's key adds beyond its config: a non-default device or
    precision, the content of the user's model code (zoo models on the CPU add none) and
    the augmentation of its batches (none adds nothing)."""
    out = augment_key(augment)
    if not hw.is_cpu or hw.amp != "off":
        out["hardware"] = hw.key()
    if code:
        out["code"] = code
    return out


def _baseline(run: Run, s, twin, code: list) -> Trained:
    """The student trained from scratch on the labels, with the same augmentation and, when
    it has a distilled twin, the same number of optimizer steps."""
    cfg, hw, splits, label = run.cfg, run.hw, run.splits, f"{s.name}-scratch"
    train = baseline_train(s, twin)
    spec = s.model_copy(update={"train": train})
    spec = spec.model_dump(exclude={"name", "distill", "baseline", "search"})
    matched = {"step_matched": train.steps is not None and train is not s.train}
    res = run.stage(
        "train",
        label,
        {"spec": spec, "seed": cfg.seed} | _extra_key(hw, code, splits.augment),
        {"data": run.data},
        lambda d: (
            run_supervised(s, train, splits, cfg.seed, d, label, run.reporter, hw=hw, code=code)
            | matched
        ),
    )
    return Trained(label, "baseline", s.name, res)


def _transfer_stage(cfg, stage, data, splits, reporter) -> StageResult | None:
    """The unlabeled inputs, when the pipeline gives or generates some."""
    if cfg.data.transfer is None and not cfg.data.transfer_samples:
        return None
    res = stage(
        "transfer",
        "transfer",
        transfer_key(cfg),
        {"data": data},
        lambda d: run_transfer(cfg, splits, d),
    )
    reporter.line(f"  transfer set: {res.info['count']} unlabeled inputs ({res.info['kind']})")
    return res


def _teacher_stage(
    cfg, stage, data, tsplits, t: TeacherConfig, i: int, reporter, hw
) -> StageResult:
    """Train, load (checkpoint) or take over (ONNX) teacher number `i`."""
    label = "teacher" if i == 0 else f"teacher-{i}"
    if t.onnx is not None:
        config = {"spec": t, "onnx": sha256_file(t.onnx)}
        return stage(
            "teacher",
            label,
            config,
            {"data": data},
            lambda d: run_teacher_onnx(t, tsplits, d),
        )
    code = code_digests(t, f"{label}.model")
    if t.augment is not None:  # the teacher's own augmentation, not the students'
        tsplits = replace(tsplits, augment=list(t.augment))
    augment = tsplits.augment
    if t.checkpoint is not None:
        return stage(
            "teacher",
            label,
            {"spec": t, "checkpoint": sha256_file(t.checkpoint)} | _extra_key(CPU, code),
            {"data": data},
            lambda d: run_teacher_checkpoint(t, tsplits, d, code=code),
        )
    seed = cfg.seed + i  # several teachers of one architecture should differ
    return stage(
        "train",
        label,
        {"spec": t, "seed": seed} | _extra_key(hw, code, augment),
        {"data": data},
        lambda d: run_supervised(t, t.train, tsplits, seed, d, label, reporter, hw=hw, code=code),
    )
