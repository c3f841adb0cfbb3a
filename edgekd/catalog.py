"""What each registry holds, with every option's type and default, read from the plugins.

The CLI listings and docs/plugins.md are generated from here, so no list of datasets, models,
losses, schemes, augmentations or runtimes is kept by hand anywhere.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class OptionDoc:
    name: str
    type: str
    default: str  # "(required)" when the option has no default
    help: str


@dataclass(frozen=True)
class PluginDoc:
    kind: str  # the registry's kind, e.g. "model"
    name: str
    description: str
    paper: str
    options: tuple[OptionDoc, ...]


def registries() -> dict[str, Any]:
    """The plugin registries by section title, in the order the docs list them."""
    from edgekd.backends import BACKENDS
    from edgekd.data import DATASETS
    from edgekd.data.augment import AUGMENTATIONS
    from edgekd.distill.losses import LOSSES
    from edgekd.distill.schemes import SCHEMES
    from edgekd.models import MODELS

    return {
        "datasets": DATASETS,
        "augmentations": AUGMENTATIONS,
        "models": MODELS,
        "distillation losses": LOSSES,
        "distillation schemes": SCHEMES,
        "runtimes": BACKENDS,
    }


def plugin_docs(registry) -> list[PluginDoc]:
    out = []
    for name, cls in registry.items():
        out.append(
            PluginDoc(registry.kind, name, cls.description, cls.paper, option_docs(cls.Options))
        )
    return out


def option_docs(options: type[BaseModel]) -> tuple[OptionDoc, ...]:
    return tuple(
        OptionDoc(name, type_text(f.annotation), default_text(f), f.description or "")
        for name, f in options.model_fields.items()
    )


def option_text(o: OptionDoc) -> str:
    """One option as the CLI lists it: `hidden=[100, 100] (list[int])`, then its meaning."""
    text = f"{o.name}={o.default} ({o.type})"
    return f"{text}: {o.help}" if o.help else text


def listing_rows(registry, kind=None) -> list[list[str]]:
    """Per plugin: name, [kind,] description with its paper, and its options one a line."""
    rows = []
    for doc in plugin_docs(registry):
        about = f"{doc.description} ({doc.paper})" if doc.paper else doc.description
        options = "\n".join(option_text(o) for o in doc.options) or "-"
        head = [doc.name] if kind is None else [doc.name, kind(registry.get(doc.name))]
        rows.append([*head, about, options])
    return rows


def default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "(required)"
    return repr(field.get_default(call_default_factory=True))


def type_text(ann: Any) -> str:
    """A short, readable type: `list[int]`, `'auto' | 'on'`, `float | None`."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is typing.Annotated:
        return type_text(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else type_text(a) for a in args)
    if origin is not None:
        inner = ", ".join(type_text(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(ann, "__name__", str(ann))


def markdown() -> str:
    """docs/plugins.md: every registry's plugins with their options."""
    parts = [
        "# Plugins\n",
        "Generated from the registries by `python scripts/gen_plugin_docs.py`; do not edit by "
        "hand (tests/test_docs_generated.py checks it is current). A pipeline names a plugin "
        "and gives its options as a mapping; an unknown option is an error.\n",
    ]
    for title, registry in registries().items():
        parts.append(f"\n## {title.capitalize()}\n")
        for doc in plugin_docs(registry):
            paper = f" ({doc.paper})" if doc.paper else ""
            parts.append(f"\n### `{doc.name}`\n\n{doc.description}{paper}\n")
            if doc.options:
                parts.append("\n| option | type | default | meaning |\n|---|---|---|---|\n")
                parts += [
                    f"| `{o.name}` | `{_cell(o.type)}` | `{_cell(o.default)}` | {_cell(o.help)} |\n"
                    for o in doc.options
                ]
    return "".join(parts)


def _cell(text: str) -> str:
    """A table cell: a `|` would end the cell, even inside a code span (GFM)."""
    return text.replace("|", "\\|").replace("\n", " ")
