"""Run the profiling worker for one artifact in a fresh local subprocess, or over SSH.

`profile_artifact` is what the pipeline and `edgekd profile` call: it writes the worker's
spec, runs `python -m edgekd.profile.worker` (here, or on the target's host) and returns
the worker's result with `source` set to measured-local or measured-remote.
"""

from __future__ import annotations

import os
import subprocess
import sys

from edgekd.config.schema import SshConfig
from edgekd.errors import EdgeKDError
from edgekd.fsutil import clean_stale_temp, temp_dir
from edgekd.profile.protocol import PARENT_ENV, ProfileSpec, read_result
from edgekd.profile.remote import run_remote
from edgekd.records import LatencySource


def profile_artifact(spec: ProfileSpec, host: str = "local", ssh: SshConfig | None = None) -> dict:
    """Measure in a fresh process here, or on `host` (ssh://user@host[:port])."""
    clean_stale_temp()  # what workers killed with their edgekd left behind
    if host == "local":
        return run_local(spec) | {"source": LatencySource.MEASURED_LOCAL.value}
    result = run_remote(spec, host, ssh or SshConfig())
    return result | {"source": LatencySource.MEASURED_REMOTE.value}


def run_local(spec: ProfileSpec, python: str | None = None) -> dict:
    """The worker in a child that dies with this process (see worker.end_with_parent)."""
    with temp_dir("profile") as tmp:
        out = tmp / "result.json"
        spec_path = tmp / "spec.json"
        spec_path.write_text(spec.model_copy(update={"out": str(out)}).to_json())
        timeout = spec.profile.timeout_s
        try:
            proc = subprocess.run(
                [python or sys.executable, "-m", "edgekd.profile.worker", str(spec_path)],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=os.environ | {PARENT_ENV: str(os.getpid())},
            )
        except subprocess.TimeoutExpired:
            raise EdgeKDError(
                f"profiling '{spec.artifact_dir}' took longer than profile.timeout_s="
                f"{timeout:g}s and was stopped. Raise timeout_s or use tier: quick."
            ) from None
        return read_result(out, proc.returncode, proc.stderr, "here")
