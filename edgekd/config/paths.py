"""The user's files and folders that a YAML names: found by type, resolved one way, checked
before they are read, and hashed by content.

A config field typed `UserFile` or `UserFolder` (edgekd.config.schema) names something of the
user's. Wherever it appears (pipeline keys, a plugin's `Options`, a target's `ssh:`), a
relative path means: relative to the folder of the YAML file that wrote it, never the
working directory, so a pipeline runs the same from anywhere. Stages that read such files put
their sha256 in their cache key, so a file replaced behind the same path is read again.
"""

from __future__ import annotations

import os
import stat
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edgekd.config.schema import UserPath
from edgekd.errors import ConfigError, EdgeKDError


def marker(field) -> UserPath | None:
    """The UserPath marker of a pydantic field, also inside Optional[...] or list[...]."""
    for meta in field.metadata:
        if isinstance(meta, UserPath):
            return meta
    return _marker_in(field.annotation)


def _marker_in(ann: Any) -> UserPath | None:
    for arg in typing.get_args(ann):
        if isinstance(arg, UserPath):
            return arg
        found = _marker_in(arg)
        if found is not None:
            return found
    return None


def user_paths(model: BaseModel, loc: tuple = ()) -> Iterator[tuple[tuple, Path, UserPath]]:
    """Every (key path, path, marker) that `model` and the models inside it name."""
    for name, field in type(model).model_fields.items():
        yield from _walk(getattr(model, name), (*loc, name), marker(field))


def _walk(value: Any, loc: tuple, mark: UserPath | None):
    if isinstance(value, Path) and mark is not None:
        yield loc, value, mark
    elif isinstance(value, BaseModel):
        yield from user_paths(value, loc)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(v, (*loc, i), mark)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, (*loc, k), mark)


def resolve_against(path: Path, base: Path) -> Path:
    """`~` expanded; a relative path joined to `base` (the YAML file's folder)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path(base).absolute() / path


def resolve_user_paths(value: Any, base: Path, mark: UserPath | None = None) -> Any:
    """`value` with every user path in it resolved against `base` (models are copied)."""
    if isinstance(value, Path) and mark is not None:
        return resolve_against(value, base)
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        update = {}
        for name, field in fields.items():
            old = getattr(value, name)
            new = resolve_user_paths(old, base, marker(field))
            if new is not old:
                update[name] = new
        return value.model_copy(update=update) if update else value
    if isinstance(value, (list, tuple)):
        new = [resolve_user_paths(v, base, mark) for v in value]
        changed = any(a is not b for a, b in zip(new, value))
        return type(value)(new) if changed else value
    return value


def require_file(path: Path, what: str, error: type[EdgeKDError] = ConfigError) -> None:
    """Raise `error` unless `path` is a regular file we may read; the message says which
    of missing, a folder, a device or pipe, or unreadable it is."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(f"{what}: file '{path}' does not exist. Check the path.") from None
    except OSError as exc:
        raise error(f"{what}: cannot read '{path}' ({exc.strerror}).") from None
    except ValueError:  # a NUL byte: no file can have this name
        raise error(f"{what}: '{path}' is not a valid file name (it holds a NUL byte).") from None
    if stat.S_ISDIR(mode):
        raise error(f"{what}: '{path}' is a folder; give the path of a file.")
    if not stat.S_ISREG(mode):
        raise error(f"{what}: '{path}' is not a regular file (a device, pipe or socket).")
    if not os.access(path, os.R_OK):
        raise error(f"{what}: '{path}' is not readable (permission denied); check its mode.")


def require_folder(path: Path, what: str, error: type[EdgeKDError] = ConfigError) -> None:
    if not Path(path).is_dir():
        state = "is not a folder" if Path(path).exists() else "does not exist"
        raise error(f"{what}: folder '{path}' {state}. Check the path.")


def files_named(model: BaseModel) -> list[Path]:
    """The files `model`'s user paths stand for: each file, and every file under a folder."""
    out: list[Path] = []
    for _loc, path, mark in user_paths(model):
        if mark.kind == "folder" and Path(path).is_dir():
            out += sorted(p for p in Path(path).rglob("*") if p.is_file())
        else:
            out.append(Path(path))
    return out


def content_digests(
    files: list[Path], what: str, error: type[EdgeKDError] = ConfigError
) -> list[list[str]]:
    """[path, sha256] of each file, checked readable first: what a cache key holds so that
    a file replaced behind the same path is never served from the cache."""
    from edgekd.hashing import sha256_file

    out = []
    for f in files:
        require_file(f, what, error)
        try:
            out.append([str(f), sha256_file(f)])
        except OSError as exc:
            raise error(f"{what}: cannot read '{f}' ({exc.strerror or exc}).") from None
    return out
