"""Checks that span plugins: every named plugin exists, its options parse, and a scheme
gets what it needs from the rest of the pipeline (teachers, data, losses)."""

from __future__ import annotations

from edgekd.config.schema import PipelineConfig, StudentConfig
from edgekd.config.validate import validate_options
from edgekd.errors import ConfigError, EdgeKDError


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
    specs = [(loc, t) for loc, t in cfg.teacher_locs() if t.model is not None]
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
