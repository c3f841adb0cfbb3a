"""Student search under a latency budget: size one student of the pipeline for a target.

1. `plan_search` (before anything runs): the student, the target, the family's width and
   depth knobs (edgekd.search.sizing) and every candidate's options, each checked.
2. `probe_all` (before any training): each candidate, untrained, exported, compiled for the
   target and its batch-1 p90 measured there with the search's profile settings (quick tier)
   or estimated, and labelled so (edgekd.search.probe). A budget no candidate meets is a
   BudgetError that names the fastest candidate's latency.
3. `search_student` (once the teacher is trained): the candidates within the budget are
   distilled on a short schedule (edgekd.search.trial) and scored on the validation split;
   the `finalists` best are distilled with the student's full recipe (the pipeline's own
   distill stage) and the most accurate on the validation split becomes the student. The
   test split is never used to choose; the report shows it.
Every step is a cached stage, so a rerun does not search again. The engine hands in the
training steps (`Hooks`), so this module runs no stage it does not name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edgekd.config.schema import PipelineConfig, StudentConfig, StudentSearchConfig, TargetConfig
from edgekd.errors import ConfigError, format_choices
from edgekd.progress import Reporter
from edgekd.search.sizing import WHERE, Knobs, candidates, knobs


class BudgetError(ConfigError):
    """No candidate of a student search meets its latency budget."""


@dataclass(frozen=True)
class SearchPlan:
    cfg: StudentSearchConfig
    student: StudentConfig
    target: TargetConfig
    knobs: Knobs
    candidates: list[tuple[str, BaseModel]]  # (variant, the family's options)

    def spec(self, options: BaseModel) -> StudentConfig:
        return self.student.model_copy(update={"options": options})


@dataclass(frozen=True)
class Hooks:
    """The engine's training steps for one student spec."""

    twin: Callable[[StudentConfig], StudentConfig]  # as its distill stage trains it
    trial: Callable[[StudentConfig, str], Any]  # (spec, label) -> trial StageResult
    full: Callable[[StudentConfig], Any]  # spec -> its distill StageResult
    val_accuracy: Callable[[Any], float]  # distill StageResult -> validation accuracy


def plan_search(cfg: PipelineConfig, pipeline_path: Path | None) -> SearchPlan:
    """Everything a search needs, checked before any stage runs."""
    sc = cfg.search_students
    student = _student(cfg, sc)
    if student.distill is None or student.search is not None:
        why = "has no `distill:`" if student.distill is None else "has a recipe `search:`"
        raise ConfigError(
            f"{WHERE}: student '{student.name}' {why}; a student search distils its "
            "candidates with the student's one recipe. Give it `distill:` without `search:` "
            "(search the recipe first, then write the recipe found into `distill:`)."
        )
    target = _target(sc.target, pipeline_path, sc.precision)
    k = knobs(student.model, student.options)
    found = candidates(student.model, student.options, k, sc.widths, sc.depths)
    return SearchPlan(sc, student, target, k, found)


def _student(cfg: PipelineConfig, sc: StudentSearchConfig) -> StudentConfig:
    names = [s.name for s in cfg.students]
    name = sc.student or names[0]
    if name not in names:
        raise ConfigError(
            f"{WHERE}.student: the pipeline has no student '{name}'. Its students: "
            f"{format_choices(name, names)}."
        )
    return cfg.students[names.index(name)]


def _target(name: str, pipeline_path: Path | None, precision: str) -> TargetConfig:
    """The target (a YAML path relative to the pipeline's folder), checked to build and run
    the search's precision."""
    from edgekd.backends import BACKENDS
    from edgekd.config.load import load_target
    from edgekd.config.paths import resolve_against

    if Path(name).suffix in (".yaml", ".yml") and pipeline_path is not None:
        name = str(resolve_against(Path(name), Path(pipeline_path).parent))
    target = load_target(name, pipeline_path)
    backend = BACKENDS.get(target.runtime)(target)
    backend.check_precision(precision)
    why = backend.precision_unsupported(precision)
    if why:
        raise ConfigError(f"{WHERE}.precision: {precision} on target '{target.name}': {why}")
    return target


# ---------------------------------------------------------------- 2. latency, untrained


def probe_all(plan: SearchPlan, stage, data, splits, cfg: PipelineConfig, reporter) -> list[dict]:
    """One row per candidate: its latency on the target, and whether it is within budget.
    `stage` is the engine's stage function; `data` the data stage."""
    sc, name = plan.cfg, plan.student.name
    reporter.line(
        f"  search {name} ({plan.student.model}) on {plan.target.name} ({sc.precision}), "
        f"budget p90 <= {sc.budget_ms:g} ms: {len(plan.candidates)} candidates"
    )
    rows = []
    for variant, options in plan.candidates:
        res = _probe(plan, variant, options, stage, data, splits, cfg)
        row = {"variant": variant, "options": _shown(plan, options)} | _probe_row(res)
        row["in_budget"] = row["p90_ms"] <= sc.budget_ms
        rows.append(row)
        fits = "within budget" if row["in_budget"] else "over budget"
        reporter.line(f"  {variant}: p90 {row['p90_ms']:.4g} ms ({row['latency_source']}), {fits}")
    if not any(r["in_budget"] for r in rows):
        raise BudgetError(no_fit_message(plan, rows))
    return rows


def _probe(plan: SearchPlan, variant: str, options, stage, data, splits, cfg):
    from edgekd.backends import BACKENDS
    from edgekd.search.probe import run_probe
    from edgekd.stages.compile import target_settings
    from edgekd.stages.models import code_digests

    sc, spec = plan.cfg, plan.spec(options)
    settings = (cfg.export, sc.profile, cfg.accuracy_gate)
    key = {
        "model": spec.model,
        "options": options,
        "seed": cfg.seed,
        "target": target_settings(plan.target),
        "precision": sc.precision,
        "settings": settings,
    }
    code = code_digests(spec, f"{WHERE}.student")
    key |= {"code": code} if code else {}
    backend = BACKENDS.get(plan.target.runtime)(plan.target)
    return stage(
        "probe",
        f"{plan.student.name}-probe-{variant}",
        key,
        {"data": data},
        lambda d: run_probe(
            spec, backend, plan.target, sc.precision, splits, data, settings, cfg.seed, d
        ),
    )


def _probe_row(res) -> dict:
    info = res.info
    row = {k: info.get(k) for k in ("params", "flops", "p90_ms", "latency_source")}
    est = info.get("estimate") or {}
    row |= {"low_ms": est.get("low_ms"), "high_ms": est.get("high_ms")}
    return row | {"probe_seconds": res.record.get("seconds", 0.0)}


def _shown(plan: SearchPlan, options: BaseModel) -> dict:
    """The options a candidate sets (the searched knobs), for tables and messages."""
    values = options.kwargs if hasattr(options, "factory") else options.model_dump()
    keys = [plan.knobs.width] + ([plan.knobs.depth] if plan.knobs.depth else [])
    return {k: values.get(k) for k in keys}


def no_fit_message(plan: SearchPlan, rows: list[dict]) -> str:
    sc, fastest = plan.cfg, min(rows, key=lambda r: r["p90_ms"])
    shown = ", ".join(f"{k}={v}" for k, v in fastest["options"].items())
    return (
        f"{WHERE}: no candidate of student '{plan.student.name}' ({plan.student.model}) meets "
        f"the {sc.budget_ms:g} ms budget on {plan.target.name} ({sc.precision}, batch-1 p90): "
        f"the fastest, {fastest['variant']} ({shown}), takes {fastest['p90_ms']:.4g} ms "
        f"({fastest['latency_source']}). Raise the budget to at least that, or search "
        "smaller widths or depths."
    )


# ---------------------------------------------------------------- 3. short, then full


def search_student(
    plan: SearchPlan, rows: list[dict], hooks: Hooks, reporter: Reporter
) -> tuple[StudentConfig, dict]:
    """The student with the winning options, and the search's record for the report."""
    inside = [r for r in rows if r["in_budget"]]
    options = dict(plan.candidates)
    fraction = _trial_fraction(plan)
    for r in inside:
        twin = hooks.twin(plan.spec(options[r["variant"]]))
        spec = twin.model_copy(update={"train": _short(twin.train, fraction)})
        res = hooks.trial(spec, f"{plan.student.name}-trial-{r['variant']}")
        r |= {"short_val_acc": res.info["val_acc"], "trial_seconds": res.record["seconds"]}
        reporter.line(f"  {r['variant']}: short schedule: val_acc {r['short_val_acc']:.4f}")
    ranked = sorted(inside, key=lambda r: (-r["short_val_acc"], r["p90_ms"]))
    for r in ranked[: plan.cfg.finalists]:
        res = hooks.full(plan.spec(options[r["variant"]]))
        r |= {"finalist": True, "val_acc": hooks.val_accuracy(res)}
        r |= {"test_acc": res.info.get("acc_test"), "full_seconds": res.record["seconds"]}
        reporter.line(f"  finalist {r['variant']}: full recipe: val_acc {r['val_acc']:.4f}")
    best = max(ranked[: plan.cfg.finalists], key=lambda r: (r["val_acc"], -r["p90_ms"]))
    best["picked"] = True
    reporter.line(
        f"  search picked {best['variant']} ({best['options']}): val_acc "
        f"{best['val_acc']:.4f}, p90 {best['p90_ms']:.4g} ms ({best['latency_source']})"
    )
    return plan.spec(options[best["variant"]]), record(plan, rows, fraction)


def _trial_fraction(plan: SearchPlan) -> float:
    """The share of the student's schedule a short trial runs: `short_epochs` of its
    epochs (a student trained by steps: the same share of them), else a quarter."""
    short_epochs, train = plan.cfg.short_epochs, plan.student.train
    if short_epochs is None:
        return 0.25
    return min(1.0, short_epochs / train.epochs)


def _short(train, fraction: float):
    from edgekd.search.recipe import short

    return short(train, fraction)


def record(plan: SearchPlan, rows: list[dict], fraction: float) -> dict:
    """The search as the report holds it (edgekd.report.model.StudentSearch)."""
    sc, train = plan.cfg, plan.student.train
    length = max(1, round((train.steps or train.epochs) * fraction))
    unit = ("step" if train.steps is not None else "epoch") + ("s" if length > 1 else "")
    spent = sum(
        r.get(k) or 0.0 for r in rows for k in ("probe_seconds", "trial_seconds", "full_seconds")
    )
    return {
        "student": plan.student.name,
        "model": plan.student.model,
        "target": plan.target.name,
        "precision": sc.precision,
        "budget_ms": sc.budget_ms,
        "width_option": plan.knobs.width,
        "depth_option": plan.knobs.depth_name()
        if plan.knobs.depth or plan.knobs.per_layer
        else None,
        "short_schedule": f"{length} {unit}",
        "finalists": sc.finalists,
        "profile_tier": sc.profile.tier,
        "stage_seconds": round(spent, 3),
        "candidates": rows,
    }
