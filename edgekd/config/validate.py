"""Reading YAML and turning pydantic validation errors into one paragraph a user can act on."""

from __future__ import annotations

import math
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from edgekd.config.paths import require_file
from edgekd.config.yamlread import MAX_BYTES, MAX_DEPTH, YamlLimitError, load_text, read_bounded
from edgekd.errors import ConfigError, format_choices

MAX_REPORTED = 5  # problems listed in one message; the rest are counted
INT64_MAX = 2**63 - 1  # every int a config gives ends up in torch, numpy or C


def read_yaml(path: Path) -> dict:
    """The mapping in YAML file `path`, read within the bounds of `edgekd.config.yamlread`;
    anything else (missing, a folder, too large, malformed, duplicate keys, aliases that
    expand too far, too deep) is one ConfigError naming the file and the line."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"{path}: no such file. Check the path and try again.")
    require_file(path, "YAML file")
    try:
        raw = read_bounded(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc}).") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(
            f"{path}: larger than {MAX_BYTES // 1024} KiB; a pipeline or target YAML is a few "
            "kB. Check that this is the file you meant."
        )
    try:
        data = load_text(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; expected a YAML file.") from None
    except Exception as exc:  # noqa: BLE001  every way a YAML parse fails is the user's input
        raise ConfigError(f"{path}: {_yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level.")
    return data


def _yaml_problem(exc: BaseException) -> str:
    """One sentence for a failed parse: where, what, and what to do."""
    if isinstance(exc, YamlLimitError):
        return f"{exc.problem}. Fix the YAML and run again."
    if isinstance(exc, RecursionError):
        return f"values are nested too deeply (more than {MAX_DEPTH} levels). Flatten the YAML."
    if isinstance(exc, MemoryError):
        return "the document does not fit in memory. Check that this is the file you meant."
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    if isinstance(exc, yaml.YAMLError):
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    else:  # ValueError/OverflowError from a constructor, e.g. a 5,000-digit int
        text = (str(exc).splitlines() or [type(exc).__name__])[0]
        problem = f"a value cannot be read ({text.split(';')[0][:160]})"
    return f"malformed YAML{where}: {problem}. Fix the syntax."


def format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        part = part if isinstance(part, int) else key_text(part)
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def key_text(key: Any, limit: int = 64) -> str:
    """A key as a message shows it: printable, on one line, cut short."""
    text = str(key) if isinstance(key, str) else short_repr(key, limit)
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    errors = err.errors()
    for e in errors[:MAX_REPORTED]:
        loc = tuple(e["loc"])
        where = format_loc(prefix + loc)
        if e["type"] == "extra_forbidden":
            parent = _model_at(cls, loc[:-1])
            valid = sorted(parent.model_fields) if parent else []
            key = key_text(loc[-1])
            parts.append(
                f"unknown key '{key}' at {where}; valid keys: {format_choices(key, valid)}"
            )
        elif e["type"] == "missing":
            parts.append(f"missing required key {where}")
        else:
            parts.append(f"{where}: {e['msg']} (got {short_repr(e.get('input'))})")
    if len(errors) > MAX_REPORTED:
        parts.append(f"and {len(errors) - MAX_REPORTED} more")
    return f"{source}: " + "; ".join(parts) + ". Fix the YAML and run again."


def short_repr(value: Any, limit: int = 80) -> str:
    """repr for a message: cut short, and safe for a 5,000-digit int (whose repr raises)."""
    try:
        text = repr(value)
    except ValueError:
        return "<an integer too large to print>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate(cls: type[BaseModel], data: Any, source: str, prefix: tuple = ()) -> Any:
    """`data` as a `cls`; every failure is one ConfigError naming the keys. Numbers are
    checked after pydantic, so this holds for every model, plugin `Options` included."""
    try:
        model = cls.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_message(err, cls, source, prefix)) from None
    except (RecursionError, MemoryError) as exc:
        raise ConfigError(f"{source}: the values are too large or deep ({exc!r}).") from None
    check_numbers(model, source, prefix)
    return model


def check_numbers(value: Any, source: str, loc: tuple = ()) -> None:
    """Refuse NaN and infinities anywhere (a NaN learning rate trains a NaN model that
    "passes" every gate) and ints beyond 64 bits (they overflow inside torch and numpy)."""
    if isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"{source}: {format_loc(loc)} is {value}; give a finite number. "
            "Fix the YAML and run again."
        )
    if isinstance(value, int) and abs(value) > INT64_MAX:
        raise ConfigError(
            f"{source}: {format_loc(loc)} is {short_repr(value)}, beyond the 64-bit range; "
            "give a smaller number. Fix the YAML and run again."
        )
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            check_numbers(getattr(value, name), source, (*loc, name))
    elif isinstance(value, dict):
        for k, v in value.items():
            check_numbers(v, source, (*loc, k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_numbers(v, source, (*loc, i))


def validate_options(plugin: Any, options: dict, source: str, loc: tuple) -> Any:
    """Validate a plugin's `options` against its `Options` model; returns the parsed model."""
    return validate(plugin.Options, options, source, loc)
