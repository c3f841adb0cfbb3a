"""Load pipelines and targets from YAML into the typed models of `edgekd.config.schema`.

Every error names the file, the key path and the valid choices, closest first. Plugin options
(dataset, model, loss, scheme) are parsed once by `edgekd.config.checks` into each plugin's
own `Options` model, which the returned config carries, so a typo there is caught before any
training starts and no later step parses them again. A target's `runtime_options` are parsed
here into its backend's `Options` the same way.
"""

from __future__ import annotations

from pathlib import Path

from edgekd.config.checks import check_export, check_plugins, check_user_code, resolve_plugins
from edgekd.config.paths import require_file, resolve_against, resolve_user_paths
from edgekd.config.schema import PipelineConfig, TargetConfig
from edgekd.config.training import check_training, resolve_augment
from edgekd.config.validate import read_yaml, validate, validate_options
from edgekd.errors import ConfigError, EdgeKDError, format_choices


def load_pipeline(path: Path, seed: int | None = None) -> PipelineConfig:
    path = Path(path)
    data = read_yaml(path)
    if seed is not None:
        data["seed"] = seed
    cfg = validate(PipelineConfig, data, str(path))
    cfg = resolve_augment(resolve_plugins(cfg, str(path)), str(path))
    cfg = _resolve_paths(cfg, path.parent)
    check_plugins(cfg, str(path))
    check_training(cfg, str(path))
    check_export(cfg.export, str(path))
    _check_teachers(cfg)
    _check_hardware(cfg, str(path))
    check_user_code(cfg, str(path))
    return cfg


def _check_hardware(cfg: PipelineConfig, source: str) -> None:
    """`device:` names hardware this machine has, and `amp:` suits it: refused here, before
    any stage runs, rather than at the first batch."""
    from edgekd.distill.hardware import resolve_hardware

    resolve_hardware(cfg.device, cfg.amp, source)


def _resolve_paths(cfg: PipelineConfig, base: Path) -> PipelineConfig:
    """Every relative path the pipeline names, resolved against the pipeline's folder: its
    `UserFile`/`UserFolder` fields (plugin options included) and target YAML paths."""
    cfg = resolve_user_paths(cfg, base)
    targets = [str(resolve_against(t, base)) if _is_yaml_path(t) else t for t in cfg.targets]
    return cfg.model_copy(update={"targets": targets})


def _check_teachers(cfg: PipelineConfig) -> None:
    """Each teacher's checkpoint or ONNX file is read and checked (safe to load, finite)
    here, before any training starts and before `--nproc` spawns a worker."""
    for loc, t in cfg.teacher_locs():
        if t.checkpoint is not None:
            if not t.checkpoint.exists():
                raise ConfigError(
                    f"{loc}.checkpoint: file '{t.checkpoint}' does not exist. Give the path of "
                    "a state_dict (.pt) or .safetensors file, or remove the key to train the "
                    "teacher."
                )
            from edgekd.models.checkpoint import read_state_dict

            require_file(t.checkpoint, f"{loc}.checkpoint")
            read_state_dict(t.checkpoint)
        if t.onnx is not None:
            from edgekd.distill.onnx_teacher import check_onnx_file

            check_onnx_file(t.onnx, f"{loc}.onnx")


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


def _is_yaml_path(name_or_path: str) -> bool:
    return Path(name_or_path).suffix in (".yaml", ".yml")


def load_targets(names: list[str], pipeline_path: Path | None = None) -> list[TargetConfig]:
    """The targets a run builds for; two with one name would overwrite each other's deploy
    bundles, so that is refused here, before any training starts."""
    targets = [load_target(n, pipeline_path) for n in names]
    seen: dict[str, str] = {}
    for given, target in zip(names, targets):
        if target.name in seen:
            raise ConfigError(
                f"two targets are named '{target.name}' ('{seen[target.name]}' and '{given}'); "
                "each target's bundles go to deploy/<name>, so names must be unique. Give "
                "each target once, or rename one in its YAML."
            )
        seen[target.name] = given
    return targets


def load_target(name_or_path: str, pipeline_path: Path | None = None) -> TargetConfig:
    """A target by name (looked up in targets/ folders) or by the path of its YAML file
    (relative to the working directory: the pipeline resolves its own against its folder)."""
    candidate = Path(name_or_path)
    if _is_yaml_path(name_or_path):
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
    target = resolve_user_paths(target, path.parent)
    from edgekd.backends import BACKENDS

    try:
        backend = BACKENDS.get(target.runtime)
    except EdgeKDError as exc:
        raise ConfigError(f"{path}: runtime: {exc}") from None
    options = validate_options(backend, target.runtime_options, str(path), ("runtime_options",))
    return target.model_copy(update={"runtime_options": options})
