"""The user's own factories (`file.py:fn`, `package.module:fn`): import, look up and call,
each failure one message naming the YAML key.

This is the one place a pipeline runs code, and only code the user named, as Olive's model
script does. A file is imported once per process and content (sha256): its folder goes on
`sys.path` first, so it can import its neighbours. Its content enters the cache key of every
stage that runs it (`source_digests`).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgekd.config.coderef import CodeRef
from edgekd.errors import ConfigError, EdgeKDError

_MODULES: dict[tuple[str, str], Any] = {}


def source_files(ref: CodeRef, where: str) -> list[Path]:
    """The file whose content a stage key holds: the .py file, or the module's source."""
    if ref.file is not None:
        check_file(ref, where)
        return [Path(ref.file)]
    try:
        spec = importlib.util.find_spec(ref.module)
    except ModuleNotFoundError:  # a parent package is missing
        raise ConfigError(_no_module(where, ref)) from None
    except Exception as exc:  # noqa: BLE001  a parent package failed to import
        raise ConfigError(_import_failed(where, ref, exc)) from None
    if spec is None:
        raise ConfigError(_no_module(where, ref))
    origin = Path(spec.origin) if spec.origin and spec.origin != "built-in" else None
    return [origin] if origin is not None and origin.is_file() else []


def source_digests(ref: CodeRef, where: str) -> list[list[str]]:
    from edgekd.config.paths import content_digests

    return content_digests(source_files(ref, where), where)


def check_file(ref: CodeRef, where: str) -> None:
    from edgekd.config.paths import require_file

    require_file(Path(ref.file), where)
    if Path(ref.file).suffix != ".py":
        raise ConfigError(f"{where}: '{ref.file}' is not a .py file; name a Python file.")


def load_callable(ref: CodeRef, where: str) -> Callable:
    """The function `ref` names; its file or module is imported (run) once per content."""
    module = _import(ref, where)
    found = getattr(module, ref.name, None)
    if found is None or not callable(found):
        names = sorted(
            n
            for n, v in vars(module).items()
            if callable(v) and not n.startswith("_") and _defined_in(v, module)
        )
        what = "is not callable" if found is not None else "is not defined there"
        listed = ", ".join(names) if names else "(none)"
        raise ConfigError(
            f"{where}: '{ref.name}' {what} in {_shown(ref)}. Callables it defines: {listed}."
        )
    return found


def call(fn: Callable, kwargs: dict, ref: CodeRef, where: str) -> Any:
    """`fn(**kwargs)`; an exception it raises becomes one message with its file:line."""
    try:
        return fn(**kwargs)
    except EdgeKDError:
        raise
    except Exception as exc:  # noqa: BLE001  anything the user's code raises
        raise ConfigError(
            f"{where}: {ref} raised {type(exc).__name__}: {first_line(exc)}"
            f"{raised_at(exc, ref)}. Fix the factory or its options."
        ) from None


def accepted(fn: Callable, names: tuple[str, ...]) -> set[str]:
    """Which of `names` `fn` takes as keyword arguments (so num_classes is passed only to a
    factory that asks for it)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return set()
    return {n for n in names if n in params}


def _defined_in(value: Any, module) -> bool:
    return getattr(value, "__module__", None) == module.__name__


def _import(ref: CodeRef, where: str):
    if ref.module is not None:
        try:
            return importlib.import_module(ref.module)
        except ModuleNotFoundError as exc:
            if exc.name and ref.module.startswith(exc.name):  # the module itself is missing
                raise ConfigError(_no_module(where, ref)) from None
            raise ConfigError(_import_failed(where, ref, exc)) from None
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(_import_failed(where, ref, exc)) from None
    from edgekd.hashing import sha256_file

    check_file(ref, where)
    path = Path(ref.file).resolve()
    key = (str(path), sha256_file(path))
    if key in _MODULES:
        return _MODULES[key]
    name = f"edgekd_user_{path.stem}_{key[1][:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up here
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001  SyntaxError, SystemExit, ... from the file
        del sys.modules[name]
        raise ConfigError(_import_failed(where, ref, exc)) from None
    _MODULES[key] = module
    return module


def _no_module(where: str, ref: CodeRef) -> str:
    return (
        f"{where}: no module '{ref.module}' can be imported (from the working folder or the "
        f"installed packages). Install the package, or name the file: path/to/file.py:"
        f"{ref.name}."
    )


def _import_failed(where: str, ref: CodeRef, exc: BaseException) -> str:
    return (
        f"{where}: importing {_shown(ref)} failed: {type(exc).__name__}: {first_line(exc)}"
        f"{raised_at(exc, ref)}. Fix the error there (naming a Python file in a pipeline runs it)."
    )


def _shown(ref: CodeRef) -> str:
    return f"'{ref.file}'" if ref.file is not None else f"module '{ref.module}'"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else "(no message)"


def raised_at(exc: BaseException, ref: CodeRef) -> str:
    """' (at file:line)': the innermost frame in the user's file, or a syntax error's line."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" (at {exc.filename}:{exc.lineno})"
    frames = traceback.extract_tb(exc.__traceback__)
    own = Path(ref.file).resolve() if ref.file is not None else None
    mine = [f for f in frames if own is not None and Path(f.filename).resolve() == own]
    if not mine:
        mine = [
            f
            for f in frames
            if "edgekd" not in Path(f.filename).parts and not f.filename.startswith("<")
        ]
    return f" (at {mine[-1].filename}:{mine[-1].lineno})" if mine else ""
