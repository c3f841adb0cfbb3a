"""The inputs of any ONNX file, made concrete for profiling, as benchmark_app and trtexec do.

`--shape input_ids=1x128` (repeatable; also `NAME:1x128`, `NAME[1,128]`, or a bare
`1x3x224x224` for a one-input model) fixes symbolic dimensions; `--int-range 0:30000`
(or `NAME=0:30000`) sets where integer inputs are drawn from, [low, high). A first dimension
the model leaves symbolic is its batch: queried at 1 and grown for throughput. A model whose
first dimension is fixed has a static batch: it is queried and measured at that batch.
Anything still unknown is an error that names the input and what to pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from edgekd.errors import ArtifactError, ConfigError
from edgekd.profile.protocol import INT_LIMIT, MAX_DIM, Dtype, InputSpec

DEFAULT_INT_RANGE = (0, 100)
_DIMS = re.compile(r"^\d+([x,]\d+)*$")


@dataclass(frozen=True)
class GraphInput:
    name: str
    dtype: str  # numpy name, or the ONNX type name where numpy has none
    dims: list[int | str] | None  # int: fixed; str: symbolic (its name, or "?"); None: unknown


def read_inputs(path: Path) -> list[GraphInput]:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ArtifactError(
            f"'{path}' is not a readable ONNX file ({type(exc).__name__}). Check the path."
        ) from None
    inits = {t.name for t in model.graph.initializer}
    return [graph_input(i) for i in model.graph.input if i.name not in inits]


def graph_input(value) -> GraphInput:
    from onnx import TensorProto, helper

    t = value.type.tensor_type
    try:
        dtype = str(helper.tensor_dtype_to_np_dtype(t.elem_type))
    except (KeyError, TypeError, ValueError):
        dtype = "object"
    if dtype == "object":  # strings and types numpy cannot hold: say the ONNX name
        dtype = TensorProto.DataType.Name(t.elem_type).lower() if t.elem_type else "unknown"
    if not t.HasField("shape"):
        return GraphInput(value.name, dtype, None)
    dims = [d.dim_value if d.dim_value > 0 else (d.dim_param or "?") for d in t.shape.dim]
    return GraphInput(value.name, dtype, dims)


def parse_shapes(texts: list[str] | None) -> dict[str | None, list[int]]:
    """--shape values as {input name (None: unnamed): dims}."""
    out: dict[str | None, list[int]] = {}
    for text in texts or []:
        name, dims = split_named(text.strip(), "--shape", "1x128")
        if dims.startswith("[") and dims.endswith("]"):
            dims = dims[1:-1]
        if not _DIMS.match(dims):
            raise ConfigError(
                f"--shape '{text}': dimensions are positive integers joined by x, as in "
                "--shape input_ids=1x128 (or --shape 1x3x224x224 for a one-input model)."
            )
        values = [int(d) for d in re.split("[x,]", dims)]
        if not all(1 <= d <= MAX_DIM for d in values) or len(values) > 9:
            raise ConfigError(f"--shape '{text}': use 1 to 9 dimensions, each 1..{MAX_DIM}.")
        out[name] = values
    return out


def parse_ranges(texts: list[str] | None) -> dict[str | None, tuple[int, int]]:
    """--int-range values as {input name (None: every integer input): (low, high)}."""
    out: dict[str | None, tuple[int, int]] = {}
    for text in texts or []:
        name, span = split_named(text.strip(), "--int-range", "0:30000", sep="=")
        m = re.fullmatch(r"(-?\d+):(-?\d+)", span)
        low, high = (int(m[1]), int(m[2])) if m else (0, 0)
        if not m or not -INT_LIMIT <= low < high <= INT_LIMIT:
            raise ConfigError(
                f"--int-range '{text}': write LOW:HIGH with LOW < HIGH (integers are drawn from "
                "[LOW, HIGH)), e.g. --int-range 0:30000 or --int-range input_ids=0:30000."
            )
        out[name] = (low, high)
    return out


def split_named(text: str, flag: str, example: str, sep: str = "=:[") -> tuple[str | None, str]:
    """NAME=VALUE (and, for shapes, NAME:VALUE or NAME[VALUE]) or a bare VALUE."""
    if "=" in text:
        name, value = text.rsplit("=", 1)
    elif "[" in sep and text.endswith("]") and "[" in text and not text.startswith("["):
        name, value = text[: text.index("[")], text[text.index("[") :]
    elif ":" in sep and ":" in text:
        name, value = text.rsplit(":", 1)
    else:
        return None, text
    if not name:
        raise ConfigError(f"{flag} '{text}': name the input before '=', e.g. {flag} x={example}.")
    return name, value


def resolve(path: Path, inputs: list[GraphInput], shapes: dict, ranges: dict) -> list[InputSpec]:
    """Every input with a concrete shape, its dtype and integer range, or a clear error."""
    names = [i.name for i in inputs]
    shapes = dict(shapes)
    if None in shapes:
        if len(inputs) != 1:
            raise ConfigError(
                f"'{path}' has {len(inputs)} inputs ({', '.join(names)}); name each shape, "
                f"e.g. --shape {names[0] if names else 'x'}=1x128."
            )
        shapes[names[0]] = shapes.pop(None)
    for name in [*shapes, *(n for n in ranges if n is not None)]:
        if name not in names:
            raise ConfigError(
                f"'{path}' has no input named '{name}'; its inputs are {', '.join(names)}."
            )
    return [concrete(path, i, shapes.get(i.name), ranges) for i in inputs]


def concrete(path: Path, inp: GraphInput, given: list[int] | None, ranges: dict) -> InputSpec:
    if inp.dtype not in get_args(Dtype):
        raise ArtifactError(
            f"input '{inp.name}' of '{path}' has type {inp.dtype}; edgekd profiles float, "
            "integer and boolean inputs only."
        )
    shape = fixed_shape(path, inp, given)
    low, high = ranges.get(inp.name, ranges.get(None, DEFAULT_INT_RANGE))
    dynamic = bool(inp.dims) and isinstance(inp.dims[0], str)
    return InputSpec(
        name=inp.name, shape=shape, dtype=inp.dtype, low=low, high=high, dynamic_batch=dynamic
    )


def fixed_shape(path: Path, inp: GraphInput, given: list[int] | None) -> list[int]:
    """The given shape checked against the model's, or the model's with batch 1."""
    if inp.dims is None:
        if given is None:
            raise ConfigError(
                f"input '{inp.name}' of '{path}' records no shape; pass --shape {inp.name}=..."
            )
        return given
    if given is not None:
        clash = len(given) != len(inp.dims) or any(
            isinstance(d, int) and d != g for d, g in zip(inp.dims, given)
        )
        if clash:
            raise ConfigError(
                f"--shape {inp.name}={'x'.join(map(str, given))} does not fit input "
                f"'{inp.name}' of shape {shape_text(inp.dims)}; keep its rank and fixed dims."
            )
        return given
    if any(isinstance(d, str) for d in inp.dims[1:]):
        labels = [d for d in inp.dims if isinstance(d, str)]
        raise ConfigError(
            f"input '{inp.name}' has symbolic dims {labels} (shape {shape_text(inp.dims)}); "
            f"pass --shape {inp.name}={example(inp.dims)} with the sizes you want measured."
        )
    return [d if isinstance(d, int) else 1 for d in inp.dims]


def example(dims: list[int | str]) -> str:
    """A shape to suggest: batch 1, fixed dims kept, other symbolic ones a typical size."""
    typical = 128 if len(dims) <= 3 else 224
    sizes = [d if isinstance(d, int) else (1 if i == 0 else typical) for i, d in enumerate(dims)]
    return "x".join(map(str, sizes))


def shape_text(dims: list[int | str]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"
