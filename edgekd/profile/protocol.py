"""What passes between edgekd and a profiling worker: the spec in, the result or error out.

The worker (`python -m edgekd.profile.worker SPEC.json`) runs here or on a remote host, so
this module imports only pydantic and edgekd's leaf modules. A user error in the worker is
written as {"error": {"type", "msg"}} and raised again here with the same type and message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edgekd.config.schema import ProfileConfig, TargetConfig
from edgekd.errors import (
    ArtifactError,
    ConfigError,
    EdgeKDError,
    LimitError,
    OutputError,
    RuntimeMissingError,
)
from edgekd.records import RuntimeSettings

SPEC_SCHEMA = "edgekd.profile-spec/4"
RESULT_SCHEMA = "edgekd.profile-result/3"
TUNE_SCHEMA = "edgekd.tune-result/1"
ERRORS: dict[str, type[EdgeKDError]] = {
    e.__name__: e
    for e in (RuntimeMissingError, ArtifactError, ConfigError, LimitError, OutputError)
}
Dtype = Literal["float32", "float16", "float64", "int64", "int32", "int8", "uint8", "bool"]
MAX_DIM = 1 << 20
PARENT_ENV = "EDGEKD_WORKER_PARENT"  # the pid of the edgekd that started a local worker
INT_LIMIT = 1 << 62


class DataRef(BaseModel):
    """Arrays in an .npz file (no pickles): inputs under `x`, labels under `y`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    npz: str
    x: str = "x_test"
    y: str = "y_test"


class PluginRef(BaseModel):
    """A backend registered from outside edgekd/backends: the worker imports its file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str
    name: str  # the class's name in that file


class InputSpec(BaseModel):
    """One model input as the worker feeds it: the latency query's full shape, the dtype,
    where integers are drawn from, and whether the first axis is a free batch that the
    throughput run may scale (False: the model's own, static batch)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = None  # None: the model's one input, fed as a plain array
    shape: list[int] = Field(max_length=9)
    dtype: Dtype = "float32"
    low: int = Field(0, ge=-INT_LIMIT, le=INT_LIMIT)  # integers: uniform in [low, high)
    high: int = Field(100, ge=-INT_LIMIT, le=INT_LIMIT)
    dynamic_batch: bool = True

    def text(self) -> str:
        drawn = f" in [{self.low}, {self.high})" if self.dtype.startswith(("int", "uint")) else ""
        return f"{self.name or 'input'} {self.shape} {self.dtype}{drawn}"

    def describe(self) -> dict:
        out = {"name": self.name or "input", "shape": self.shape, "dtype": self.dtype}
        if self.dtype.startswith(("int", "uint")):
            out["range"] = f"[{self.low}, {self.high})"
        return out


class ProfileSpec(BaseModel):
    """One artifact to measure, with the settings to measure it under.

    `mode`: `measure` (everything, the latency rounds back to back), `tune` (screen the
    backend's tuning space, return the fastest settings) or `serve` (load, then run latency
    rounds when told on stdin, so a coordinator can interleave a target's artifacts)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    schema_: str = Field(SPEC_SCHEMA, alias="schema")
    artifact_dir: str
    artifact: str  # the main file, for size and messages; the backend knows how to load it
    files: list[str] | None = None  # what belongs to the artifact; None: every file there
    target: TargetConfig
    profile: ProfileConfig
    inputs: list[InputSpec] = Field(min_length=1, max_length=64)
    data: DataRef | None = None  # accuracy is measured when given
    batch: int | None = Field(None, ge=1)  # throughput batch; None: profile.throughput_batch
    check_threads: bool = False  # threads were asked for: no more than the CPUs there
    out: str | None = None  # where the worker writes its result
    plugin: PluginRef | None = None  # the target's backend, when it is not edgekd's own
    precision: str = "fp32"  # the artifact's, for the backend's tuning space
    settings: RuntimeSettings | None = None  # None: the target's own (threads capped there)
    mode: Literal["measure", "tune", "serve"] = "measure"

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


def make_spec(
    artifact_dir: Path,
    artifact: str,
    target: TargetConfig,
    profile: ProfileConfig,
    input_shape: list[int] | None = None,
    data_npz: Path | None = None,
    batch: int | None = None,
    files: list[str] | None = None,
    x_key: str = "x_test",
    dtype: str = "float32",
    inputs: list[InputSpec] | None = None,
    check_threads: bool = False,
    precision: str = "fp32",
) -> ProfileSpec:
    """`input_shape` (one sample, batch left out) for a one-input model, or `inputs`."""
    if inputs is None:
        inputs = [InputSpec(shape=[1, *(int(d) for d in input_shape or [])], dtype=dtype)]
    data = DataRef(npz=str(Path(data_npz).resolve()), x=x_key) if data_npz else None
    return ProfileSpec(
        plugin=plugin_ref(target.runtime),
        artifact_dir=str(Path(artifact_dir).resolve()),
        artifact=artifact,
        files=files,
        target=target,
        profile=profile,
        inputs=inputs,
        data=data,
        batch=batch,
        check_threads=check_threads,
        precision=precision,
    )


def plugin_ref(runtime: str) -> PluginRef | None:
    """Where the worker finds a backend that edgekd/backends does not hold (registered by a
    test or a user's own code in this process), so it can load and measure its artifacts."""
    import inspect

    from edgekd.backends import BACKENDS

    cls = BACKENDS.get(runtime)
    if cls.__module__.split(".")[0] == "edgekd":
        return None
    return PluginRef(file=str(Path(inspect.getfile(cls)).resolve()), name=cls.__qualname__)


def error_payload(exc: EdgeKDError) -> dict:
    return {"error": {"type": type(exc).__name__, "msg": str(exc)}}


def read_result(out: Path, returncode: int, stderr: str, where: str) -> dict:
    """The worker's JSON, or its user error re-raised with the same type and message."""
    result = json.loads(out.read_text()) if out.is_file() else None
    if result and "error" in result:
        raise ERRORS.get(result["error"]["type"], EdgeKDError)(result["error"]["msg"])
    if returncode != 0 or result is None:
        tail = " | ".join(stderr.strip().splitlines()[-3:])[-600:]
        raise EdgeKDError(
            f"the profiling worker failed {where} (exit code {returncode}): {tail or 'no output'}."
            " Check that the runtime is installed there and the artifact loads."
        )
    return result
