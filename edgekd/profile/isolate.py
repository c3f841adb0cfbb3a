"""Run the profiling worker for one artifact in a fresh local subprocess, or over SSH.

`profile_artifact` is what the pipeline and `edgekd profile` call: it writes the worker's
spec, runs `python -m edgekd.profile.worker` (here, or on the target's host) and returns
the worker's result with `source` set to measured-local or measured-remote. `tune_artifact`
runs the same worker in tune mode, where the artifact is measured: the fastest of the
settings its backend declares.
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


def tune_artifact(spec: ProfileSpec, host: str = "local", ssh: SshConfig | None = None) -> dict:
    """The tuning worker's result (`edgekd.profile.tune`), here or on `host`."""
    clean_stale_temp()
    tuning = spec.model_copy(update={"mode": "tune"})
    if host == "local":
        return run_local(tuning)
    return run_remote(tuning, host, ssh or SshConfig())


def tuned_spec(spec: ProfileSpec) -> tuple[ProfileSpec, dict | None]:
    """The spec with the fastest settings where `profile.tune` is on, and the tuning
    record (None: the spec's own settings stand: tuning is off, the user named the threads,
    or a bundle is measured with the settings it ships)."""
    from edgekd.records import RuntimeSettings

    if not spec.profile.tune.enabled or spec.settings is not None or spec.check_threads:
        return spec, None
    tuning = tune_artifact(spec, spec.target.host, spec.target.ssh)
    best = RuntimeSettings.model_validate(tuning["tuned_settings"])
    return spec.model_copy(update={"settings": best}), tuning


def with_tuning(result: dict, tuning: dict | None) -> dict:
    """The tuning record beside the measurement: the winner as `tuned_settings` (None when
    tuning was off), every candidate's figures as `tuning`."""
    best = tuning["tuned_settings"] if tuning else None
    return result | {"tuned_settings": best, "tuning": tuning}


def profile_tuned(spec: ProfileSpec) -> dict:
    """One artifact tuned, then measured with the winner, on the spec's target host."""
    spec, tuning = tuned_spec(spec)
    result = profile_artifact(spec, spec.target.host, spec.target.ssh)
    return with_tuning(result, tuning)


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
