"""Run the profiling worker for one artifact in a fresh local subprocess, or over SSH.

`profile_artifact` is what the pipeline and `edgekd profile` call: it writes the worker's
spec, runs `python -m edgekd.profile.worker` (here, or on the target's host) and returns
the worker's result with `source` set to measured-local or measured-remote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from edgekd.errors import ArtifactError, EdgeKDError, RuntimeMissingError
from edgekd.profile.worker import SPEC_SCHEMA

ERRORS = {"RuntimeMissingError": RuntimeMissingError, "ArtifactError": ArtifactError}


def make_spec(
    artifact_dir: Path,
    artifact: str,
    target,
    profile,
    input_shape: list[int],
    data_npz: Path | None = None,
    batch: int | None = None,
    files: list[str] | None = None,
) -> dict:
    return {
        "schema": SPEC_SCHEMA,
        "artifact_dir": str(Path(artifact_dir).resolve()),
        "artifact": artifact,
        "files": files,
        "target": target.model_dump(mode="json"),
        "profile": profile.model_dump(mode="json"),
        "input_shape": [int(d) for d in input_shape],
        "data": {"npz": str(Path(data_npz).resolve())} if data_npz else None,
        "batch": batch,
    }


def profile_artifact(spec: dict, host: str = "local", ssh=None) -> dict:
    """Measure in a fresh process here, or on `host` (ssh://user@host[:port])."""
    if host == "local":
        return run_local(spec) | {"source": "measured-local"}
    from edgekd.config.schema import SshConfig
    from edgekd.profile.remote import run_remote

    return run_remote(spec, host, ssh or SshConfig()) | {"source": "measured-remote"}


def run_local(spec: dict, python: str | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="edgekd-profile-") as tmp:
        spec = spec | {"out": str(Path(tmp) / "result.json")}
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        timeout = spec["profile"]["timeout_s"]
        try:
            proc = subprocess.run(
                [python or sys.executable, "-m", "edgekd.profile.worker", str(spec_path)],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise EdgeKDError(
                f"profiling '{spec['artifact_dir']}' took longer than profile.timeout_s="
                f"{timeout:g}s and was stopped. Raise timeout_s or use tier: quick."
            ) from None
        return read_result(Path(spec["out"]), proc.returncode, proc.stderr, "here")


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
