"""The width and depth knobs of a model family, and the candidate students they make.

A family is sized through its own options, read from its `Options` model (the user's
factory: from its parameters), so a new zoo family with a `width` option needs no entry
here. The width option is the first of WIDTH_OPTIONS the family has; a list-valued one
(mlp `hidden`, cnn1d `channels`: one value per layer) also gives the depth, as its length
(d layers of width w); otherwise the depth is the `depth` option, where there is one.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from edgekd.errors import ConfigError

WIDTH_OPTIONS = ("width", "width_mult", "widen_factor", "hidden", "channels")
DEPTH_OPTION = "depth"
DEFAULT_SCALES = (0.25, 0.5, 1.0, 2.0)  # of the student's own width, when no widths are given
MAX_CANDIDATES = 64
WHERE = "search_students"


@dataclass(frozen=True)
class Knobs:
    """Where a family's width and depth live, read from one student's options."""

    width: str  # the option that sets the width
    depth: str | None  # the option that sets the depth; None: the family has none
    per_layer: bool  # the width option is a list, one value per layer (its length: the depth)
    integer: bool  # widths are whole numbers
    own_width: float
    own_depth: int | None

    def describe(self, width, depth) -> dict[str, Any]:
        """The options a (width, depth) point sets."""
        if self.per_layer:
            return {self.width: [width] * depth}
        return {self.width: width} | ({self.depth: depth} if self.depth else {})

    def depth_name(self) -> str:
        return f"the length of {self.width}" if self.per_layer else str(self.depth)


def knobs(model: str, options: BaseModel, where: str = WHERE) -> Knobs:
    """The knobs of the student's family; a family without a width option is a ConfigError
    that names the options it has."""
    values, names = _option_values(model, options)
    width = next((n for n in WIDTH_OPTIONS if n in names), None)
    if width is None:
        raise ConfigError(
            f"{where}: model '{model}' has no width option to search (one of "
            f"{', '.join(WIDTH_OPTIONS)}); its options are {', '.join(names) or '(none)'}. "
            "Search a zoo family, or give your factory a `width` parameter that sets its size."
        )
    own = values.get(width)
    per_layer = isinstance(own, (list, tuple))
    first = own[0] if per_layer and own else own
    depth = None if per_layer else (DEPTH_OPTION if DEPTH_OPTION in names else None)
    own_depth = len(own) if per_layer else values.get(depth) if depth else None
    return Knobs(
        width=width,
        depth=DEPTH_OPTION if depth else None,
        per_layer=per_layer,
        integer=not isinstance(first, float),
        own_width=float(first) if isinstance(first, (int, float)) else 1.0,
        own_depth=int(own_depth) if isinstance(own_depth, int) else None,
    )


def _option_values(model: str, options: BaseModel) -> tuple[dict, list[str]]:
    """The student's option values and every option name the family takes (the user's
    factory: its keyword parameters, less those edgekd passes itself)."""
    from edgekd.config.coderef import is_code_ref

    if not is_code_ref(model):
        return options.model_dump(), list(type(options).model_fields)
    from edgekd.config.usercode import load_callable

    fn = load_callable(options.factory, f"{WHERE}: model {model}")
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    own = {"num_classes", "input_shape"}
    defaults = {
        n: p.default
        for n, p in params.items()
        if p.default is not inspect.Parameter.empty and n not in own
    }
    names = [
        n
        for n, p in params.items()
        if n not in own and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return defaults | dict(options.kwargs), names


def candidates(
    model: str, options: BaseModel, k: Knobs, widths, depths, where: str = WHERE
) -> list[tuple[str, BaseModel]]:
    """(variant name, options) for every width x depth, the student's other options kept;
    each parsed by the family, so a value it refuses fails here, before anything runs."""
    widths = [_width(w, k, where) for w in (widths or default_widths(k))]
    if depths and k.depth is None and not k.per_layer:
        raise ConfigError(
            f"{where}.depths: model '{model}' has no depth option (its width is "
            f"'{k.width}'); its options are {', '.join(_option_values(model, options)[1])}. "
            "Leave `depths` out for this family."
        )
    depths = list(dict.fromkeys(depths or ([k.own_depth] if k.own_depth else [None])))
    points = [(w, d) for w in dict.fromkeys(widths) for d in depths]
    if len(points) > MAX_CANDIDATES:
        raise ConfigError(
            f"{where}: {len(points)} width x depth candidates; at most {MAX_CANDIDATES} are "
            "searched. Give fewer widths or depths."
        )
    return [(variant(w, d), _parsed(model, options, k.describe(w, d), where)) for w, d in points]


def default_widths(k: Knobs) -> list:
    """The student's own width scaled by DEFAULT_SCALES (whole numbers where it takes them)."""
    out = [k.own_width * f for f in DEFAULT_SCALES]
    return [max(1, round(w)) for w in out] if k.integer else [round(w, 4) for w in out]


def _width(w, k: Knobs, where: str):
    if not k.integer:
        return float(w)
    if float(w) != math.floor(float(w)):
        raise ConfigError(
            f"{where}.widths: {w} is not a whole number; '{k.width}' takes whole numbers."
        )
    return int(w)


def variant(width, depth) -> str:
    """A candidate's short name: w64-d2 (width 64, depth 2), w0.5 (no depth option)."""
    return f"w{width:g}" + (f"-d{depth}" if depth is not None else "")


def _parsed(model: str, options: BaseModel, update: dict, where: str) -> BaseModel:
    from edgekd.config.coderef import is_code_ref

    if is_code_ref(model):
        return options.model_copy(update={"kwargs": {**options.kwargs, **update}})
    try:
        return type(options).model_validate(options.model_dump() | update)
    except ValidationError as err:
        first = err.errors()[0]
        shown = ", ".join(f"{k}={v}" for k, v in update.items())
        raise ConfigError(
            f"{where}: model '{model}' refuses the candidate {shown}: "
            f"{first['msg'].removeprefix('Value error, ')}. Change `widths` or `depths`."
        ) from None
