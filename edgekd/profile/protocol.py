"""What passes between edgekd and a profiling worker: the spec in, the result or error out.

The worker (`python -m edgekd.profile.worker SPEC.json`) runs here or on a remote host, so
this module imports only pydantic and edgekd's leaf modules. A user error in the worker is
written as {"error": {"type", "msg"}} and raised again here with the same type and message.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from edgekd.config.schema import ProfileConfig, TargetConfig
from edgekd.errors import ArtifactError, EdgeKDError, RuntimeMissingError

SPEC_SCHEMA = "edgekd.profile-spec/2"
RESULT_SCHEMA = "edgekd.profile-result/1"
ERRORS: dict[str, type[EdgeKDError]] = {
    "RuntimeMissingError": RuntimeMissingError,
    "ArtifactError": ArtifactError,
}


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


class ProfileSpec(BaseModel):
    """One artifact to measure, with the settings to measure it under."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    schema_: str = Field(SPEC_SCHEMA, alias="schema")
    artifact_dir: str
    artifact: str  # the main file, for size and messages; the backend knows how to load it
    files: list[str] | None = None  # what belongs to the artifact; None: every file there
    target: TargetConfig
    profile: ProfileConfig
    input_shape: list[int]  # without the batch dimension
    data: DataRef | None = None  # accuracy is measured when given
    batch: int | None = None  # throughput batch; None: profile.throughput_batch
    dtype: str = "float32"
    out: str | None = None  # where the worker writes its result
    plugin: PluginRef | None = None  # the target's backend, when it is not edgekd's own

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


def make_spec(
    artifact_dir: Path,
    artifact: str,
    target: TargetConfig,
    profile: ProfileConfig,
    input_shape: list[int],
    data_npz: Path | None = None,
    batch: int | None = None,
    files: list[str] | None = None,
    x_key: str = "x_test",
    dtype: str = "float32",
) -> ProfileSpec:
    data = DataRef(npz=str(Path(data_npz).resolve()), x=x_key) if data_npz else None
    return ProfileSpec(
        plugin=plugin_ref(target.runtime),
        artifact_dir=str(Path(artifact_dir).resolve()),
        artifact=artifact,
        files=files,
        target=target,
        profile=profile,
        input_shape=[int(d) for d in input_shape],
        data=data,
        batch=batch,
        dtype=dtype,
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
