"""Reading YAML and turning pydantic validation errors into one paragraph a user can act on."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from edgekd.errors import ConfigError, format_choices


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
