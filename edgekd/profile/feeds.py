"""The inputs a worker feeds an artifact: test data, or seeded random inputs from the spec.

Kept apart from the worker's measurement steps; like the worker, it needs only numpy and
pydantic, so it runs on a remote device too.
"""

from __future__ import annotations

import contextlib

import numpy as np

from edgekd.errors import ArtifactError, EdgeKDError
from edgekd.profile.limits import check_input_bytes
from edgekd.profile.protocol import InputSpec, ProfileSpec

Feed = np.ndarray | dict  # one array, or {input name: array} for a model with several


def random_array(inp: InputSpec, shape: list[int], rng) -> np.ndarray:
    """Seeded noise for floats, uniform integers in [low, high), random booleans."""
    if inp.dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if inp.dtype.startswith(("int", "uint")):
        return rng.integers(inp.low, inp.high, size=shape).astype(inp.dtype)
    return rng.standard_normal(shape).astype(inp.dtype)


def as_feed(spec: ProfileSpec, arrays: list[np.ndarray]) -> Feed:
    """A plain array for a one-input model named by position, else {input name: array}."""
    if len(spec.inputs) == 1 and spec.inputs[0].name is None:
        return arrays[0]
    return {inp.name: a for inp, a in zip(spec.inputs, arrays)}


def sample_input(spec: ProfileSpec, x: np.ndarray | None) -> Feed:
    """The latency query: the first test input when data is given, else random inputs."""
    if x is not None:
        return np.ascontiguousarray(x[:1])
    check_input_bytes(feed_bytes(spec.inputs, None), "the inputs of one query")
    rng = np.random.default_rng(0)
    return as_feed(spec, [random_array(i, i.shape, rng) for i in spec.inputs])


def throughput_input(spec: ProfileSpec, sample: Feed, batch_n: int) -> tuple[Feed, str]:
    """The sample grown to `batch_n` along the batch axis; a model with a static batch is
    measured at its own batch instead."""
    if not scalable(spec.inputs):
        return sample, "static (the model's own batch)"
    check_input_bytes(feed_bytes(spec.inputs, batch_n), f"--batch {batch_n} inputs")
    arrays = [sample] if isinstance(sample, np.ndarray) else list(sample.values())
    grown = [
        np.ascontiguousarray(np.resize(a, (batch_n, *a.shape[1:]))) if i.shape else a
        for i, a in zip(spec.inputs, arrays)
    ]
    return as_feed(spec, grown), "requested"


def scalable(inputs: list[InputSpec]) -> bool:
    return all(i.dynamic_batch for i in inputs if i.shape)


def feed_bytes(inputs: list[InputSpec], batch_n: int | None) -> int:
    total = 0
    for i in inputs:
        dims = [batch_n, *i.shape[1:]] if batch_n and i.shape else i.shape
        total += int(np.prod(dims, dtype=np.float64)) * np.dtype(i.dtype).itemsize
    return total


def feed_size(feed: Feed) -> int:
    first = feed if isinstance(feed, np.ndarray) else next(iter(feed.values()))
    return int(first.shape[0]) if first.ndim else 1


def load_data(spec: ProfileSpec) -> tuple[np.ndarray | None, np.ndarray | None]:
    if spec.data is None:
        return None, None
    with np.load(spec.data.npz, allow_pickle=False) as z:
        return z[spec.data.x], z[spec.data.y]


@contextlib.contextmanager
def inputs_checked(spec: ProfileSpec):
    """A model that rejects its inputs is a user error that names them (a shape or integer
    range the model does not take), whichever runtime's own exception type says so."""
    try:
        yield
    except EdgeKDError:
        raise
    except Exception as exc:  # each runtime raises its own types for a rejected input
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        fed = "; ".join(i.text() for i in spec.inputs)
        raise ArtifactError(
            f"the model rejects the inputs it was given ({fed}): {first}. Pass the shapes "
            "and integer ranges it expects (--shape NAME=1x128, --int-range LOW:HIGH)."
        ) from None
