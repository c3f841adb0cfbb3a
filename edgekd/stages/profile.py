"""The profile stage: measure one compiled artifact in a fresh worker process."""

from __future__ import annotations

import json
from pathlib import Path

from edgekd.config.schema import ProfileConfig, TargetConfig


def run_profile(
    backend, target: TargetConfig, comp, data, cfg: ProfileConfig, folder: Path, role: str = ""
) -> dict:
    """Latency, throughput, memory, accuracy and per-layer times of one compiled artifact,
    measured in a fresh worker process here or on the target's SSH host."""
    from edgekd.profile.isolate import make_spec, profile_artifact

    teacher_view = role == "teacher" and data.info.get("teacher_view", False)
    spec = make_spec(
        comp.path,
        backend.artifact,
        target,
        cfg,
        data.info["teacher_input_shape" if teacher_view else "input_shape"],
        data_npz=data.path / "data.npz",
        files=comp.info.get("files"),
    )
    if teacher_view:  # a cross-modal teacher is measured on its own view of the test split
        spec["data"]["x"] = "xt_test"
    result = profile_artifact(spec, target.host, target.ssh)
    (folder / "latency_samples_ms.json").write_text(json.dumps(result.pop("samples_ms")))
    result["placement"] = result["environment"].get("placement", {})
    return result
