"""Load pipelines and targets from YAML into the typed models of `edgekd.config.schema`.

Every error names the file, the key path and the valid choices, closest first. Plugin options
(dataset, model, loss, scheme) are parsed once by `edgekd.config.checks` into each plugin's
own `Options` model, which the returned config carries, so a typo there is caught before any
training starts and no later step parses them again. A target's `runtime_options` are parsed
here into its backend's `Options` the same way.
"""

from __future__ import annotations

from pathlib import Path

from edgekd.config.checks import check_plugins, resolve_plugins
from edgekd.config.schema import PipelineConfig, TargetConfig, TeacherConfig
from edgekd.config.validate import read_yaml, validate, validate_options
from edgekd.errors import ConfigError, EdgeKDError, format_choices


def load_pipeline(path: Path, seed: int | None = None) -> PipelineConfig:
    path = Path(path)
    data = read_yaml(path)
    if seed is not None:
        data["seed"] = seed
    cfg = validate(PipelineConfig, data, str(path))
    cfg = _resolve_paths(cfg, path.parent)
    cfg = resolve_plugins(cfg, str(path))
    check_plugins(cfg, str(path))
    return cfg


def _resolve_paths(cfg: PipelineConfig, base: Path) -> PipelineConfig:
    resolved = [_resolve_teacher(t, base, loc) for loc, t in cfg.teacher_locs()]
    if cfg.teacher is not None:
        return cfg.model_copy(update={"teacher": resolved[0]})
    return cfg.model_copy(update={"teachers": resolved})


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


# ---------------------------------------------------------------- targets

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent  # the source checkout


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
    options = validate_options(backend, target.runtime_options, str(path), ("runtime_options",))
    return target.model_copy(update={"runtime_options": options})
