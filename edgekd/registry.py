"""Name -> plugin registries that explain themselves on a bad lookup.

A plugin registers itself with one decorator line in its own file; `load_plugins` imports
every module of a plugin package, so there is no hand-kept list to drift.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from edgekd.errors import UnknownNameError

T = TypeVar("T")


class NoOptions(BaseModel):
    """Options of a plugin that has none: any key given is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Plugin:
    """What every plugin carries, so no caller probes for a feature with getattr.

    `Options` is parsed once, at config load, from the YAML's `options:` mapping; `examples`
    are option sets the shared conformance tests (tests/pluginlib.py) run the plugin with,
    so adding a plugin needs no edit to a test list. Each kind's base class (e.g. ModelFamily,
    Dataset, Augmentation, DistillLoss, Scheme) adds the defaults of its own contract.
    """

    Options: ClassVar[type[BaseModel]] = NoOptions
    description: ClassVar[str] = ""
    paper: ClassVar[str] = ""  # the method's paper with its year, where it comes from one
    examples: ClassVar[tuple[dict[str, Any], ...]] = ({},)

    @classmethod
    def parse_options(cls, options: dict[str, Any] | BaseModel | None) -> BaseModel:
        """The typed options; an already parsed instance is returned as is."""
        if isinstance(options, cls.Options):
            return options
        return cls.Options.model_validate(options or {})


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str | None = None):
        self.kind = kind
        self._package = package
        self._items: dict[str, T] = {}
        self._loaded = package is None

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            self._items[name] = obj
            return obj

        return deco

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            load_plugins(self._package)

    def get(self, name: str) -> T:
        self._load()
        if name not in self._items:
            raise UnknownNameError(self.kind, name, self._items)
        return self._items[name]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        self._load()
        return iter(sorted(self._items.items()))

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._items

    @contextmanager
    def registered(self, name: str, obj: T) -> Iterator[T]:
        """Register `obj` under `name` for the duration of a `with` block (tests)."""
        self._load()
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._items[name] = obj
        try:
            yield obj
        finally:
            del self._items[name]


def load_plugins(package: str) -> None:
    """Import every module in `package` (recursively) so their decorators run."""
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        importlib.import_module(info.name)
