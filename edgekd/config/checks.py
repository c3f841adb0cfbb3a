"""Plugin resolution and the checks that span plugins or need the installed libraries.

`resolve_plugins` looks up every named plugin and parses its `options:` once, into the
plugin's own `Options` model, which the config then carries; nothing downstream parses them
again. `check_plugins` then checks that a scheme gets what it needs from the rest of the
pipeline (teachers, data, losses); `check_export` that the exporter can write the opset.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from edgekd.config.coderef import CodeRef, is_code_ref
from edgekd.config.schema import (
    DistillConfig,
    ExportConfig,
    ModelSpec,
    PipelineConfig,
    StudentConfig,
)
from edgekd.config.validate import validate_options
from edgekd.errors import ConfigError, EdgeKDError


def lookup(registry, name: str, source: str, loc: str):
    """The plugin registered as `name`, or a ConfigError naming the key and the choices."""
    try:
        return registry.get(name)
    except EdgeKDError as exc:
        raise ConfigError(f"{source}: {loc}: {exc}") from None


def _typed(registry, name: str, name_loc: str, options, loc: tuple, source: str) -> BaseModel:
    """`options` parsed into the `Options` of plugin `name`; errors name the keys."""
    plugin = lookup(registry, name, source, name_loc)
    return validate_options(plugin, options, source, loc)


def resolve_plugins(cfg: PipelineConfig, source: str) -> PipelineConfig:
    """The config with every plugin's options parsed into its own typed `Options`."""
    from edgekd.data import DATASETS

    d = cfg.data
    opts = _typed(DATASETS, d.dataset, "data.dataset", d.options, ("data", "options"), source)
    update: dict = {"data": d.model_copy(update={"options": opts})}
    teachers = [
        _resolve_model(t, loc, source) if t.model is not None else t
        for loc, t in cfg.teacher_locs()
    ]
    if cfg.teacher is not None:
        update["teacher"] = teachers[0]
    else:
        update["teachers"] = teachers
    update["students"] = [
        _resolve_student(s, f"students[{i}]", source) for i, s in enumerate(cfg.students)
    ]
    return cfg.model_copy(update=update)


def _resolve_model(spec: ModelSpec, where: str, source: str) -> ModelSpec:
    """A zoo model's options parsed into its family's `Options`; for the user's own code
    (`file.py:fn`, `package.module:fn`), the family `user` with the factory and the YAML's
    options as its keyword arguments."""
    from edgekd.models import MODELS

    if not is_code_ref(spec.model):
        loc = (where, "options")
        opts = _typed(MODELS, spec.model, f"{where}.model", spec.options, loc, source)
        return spec.model_copy(update={"options": opts})
    user = MODELS.get("user")
    try:
        ref = CodeRef.model_validate(spec.model)
    except ValidationError as err:
        why = err.errors()[0]["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{source}: {where}.model: {why}.") from None
    options = spec.options if isinstance(spec.options, dict) else spec.options.model_dump()
    opts = user.Options(factory=ref, kwargs=options)
    return spec.model_copy(update={"options": opts})


def _resolve_student(s: StudentConfig, where: str, source: str) -> StudentConfig:
    s = _resolve_model(s, where, source)
    if s.distill is None:
        return s
    return s.model_copy(update={"distill": _resolve_distill(s.distill, where, source)})


def _resolve_distill(d: DistillConfig, where: str, source: str) -> DistillConfig:
    from edgekd.distill.losses import LOSSES
    from edgekd.distill.schemes import SCHEMES

    losses = []
    for j, loss in enumerate(d.losses):
        at = f"{where}.distill.losses[{j}]"
        loc = (where, "distill", f"losses[{j}]", "options")
        opts = _typed(LOSSES, loss.name, f"{at}.name", loss.options, loc, source)
        losses.append(loss.model_copy(update={"options": opts}))
    loc = (where, "distill", "options")
    opts = _typed(SCHEMES, d.scheme, f"{where}.distill.scheme", d.options, loc, source)
    return d.model_copy(update={"losses": losses, "options": opts})


def check_plugins(cfg: PipelineConfig, source: str) -> None:
    """What spans plugins, on a resolved config: unique student names, and each scheme
    fits the pipeline."""
    from edgekd.distill.schemes import SCHEMES

    names = [s.name for s in cfg.students]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"{source}: student names must be unique; repeated: {sorted(dupes)}.")
    for i, s in enumerate(cfg.students):
        if s.distill is not None:
            scheme = SCHEMES.get(s.distill.scheme)
            _check_scheme_fits(cfg, s, scheme, f"{source}: students[{i}].distill")
    _check_transfer(cfg, source)


def _check_transfer(cfg: PipelineConfig, source: str) -> None:
    """Generated transfer samples need a dataset that can generate them."""
    from edgekd.data import DATASETS

    if cfg.data.transfer_samples and not DATASETS.get(cfg.data.dataset).generates_transfer:
        makers = [n for n, d in DATASETS.items() if d.generates_transfer]
        raise ConfigError(
            f"{source}: data.transfer_samples: dataset '{cfg.data.dataset}' cannot generate "
            f"inputs (those that can: {', '.join(makers)}). Give your own unlabeled inputs "
            "as data.transfer: {folder: ...} or {array: file.npy}."
        )


def check_user_code(cfg: PipelineConfig, source: str) -> None:
    """Each model named by the user's code: the file is a .py file, it imports, and it
    defines the factory. Building and running the model waits for the data's shape."""
    from edgekd.config.usercode import load_callable

    specs = [(f"{loc}.model", t) for loc, t in cfg.teacher_locs() if t.model is not None]
    specs += [(f"students[{i}].model", s) for i, s in enumerate(cfg.students)]
    for where, spec in specs:
        if spec.model == "user" or is_code_ref(spec.model):
            load_callable(spec.options.factory, f"{source}: {where}")


def _check_scheme_fits(cfg: PipelineConfig, s: StudentConfig, scheme, where: str) -> None:
    """What a scheme needs of the rest of the pipeline (teachers, data, losses)."""
    if scheme.needs_teacher and not cfg.all_teachers:
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
    scheme.check(cfg, s, where)


def _reads_teacher_taps(student: StudentConfig) -> bool:
    from edgekd.distill.losses import LOSSES

    return any(LOSSES.get(spec.name).taps(spec.options)[1] for spec in student.distill.losses)


MIN_OPSET = 13  # ExportConfig's own lower bound; below it the exporters lack needed ops


def max_export_opset() -> int:
    """The newest ONNX opset the installed torch.onnx exporter writes. Read from torch's
    constants (importing `onnx` itself would add half a second to every config load)."""
    try:
        from torch.onnx._constants import ONNX_MAX_OPSET
    except ImportError:  # a torch that moved it: ask onnx, slower but always there
        import onnx

        return onnx.defs.onnx_opset_version()
    return int(ONNX_MAX_OPSET)


def check_export(cfg: ExportConfig, source: str) -> None:
    """An opset the exporter cannot write is refused at load: otherwise the file comes out
    at another opset while the run records the one asked for."""
    top = max_export_opset()
    if not MIN_OPSET <= cfg.opset <= top:
        raise ConfigError(
            f"{source}: export.opset: {cfg.opset} is outside what the installed exporter "
            f"writes ({MIN_OPSET}..{top}); give an opset in that range (default 18)."
        )
