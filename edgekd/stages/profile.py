"""The profile stage: measure one compiled artifact in a fresh worker process."""

from __future__ import annotations

import json
from pathlib import Path

from edgekd.config.schema import ProfileConfig, TargetConfig
from edgekd.records import Role


def run_profile(
    backend,
    target: TargetConfig,
    comp,
    data,
    cfg: ProfileConfig,
    folder: Path,
    role: Role | str = "",
) -> dict:
    """Latency, throughput, memory, accuracy and per-layer times of one compiled artifact,
    measured in a fresh worker process here or on the target's SSH host."""
    from edgekd.profile.isolate import profile_artifact
    from edgekd.profile.protocol import make_spec

    # a cross-modal teacher is measured on its own view of the test split
    teacher_view = role == Role.TEACHER and data.info.get("teacher_view", False)
    spec = make_spec(
        comp.path,
        backend.artifact,
        target,
        cfg,
        data.info["teacher_input_shape" if teacher_view else "input_shape"],
        data_npz=data.path / "data.npz",
        files=comp.info.get("files"),
        x_key="xt_test" if teacher_view else "x_test",
    )
    result = profile_artifact(spec, target.host, target.ssh)
    (folder / "latency_samples_ms.json").write_text(json.dumps(result.pop("samples_ms")))
    keep_test_logits(result, folder)
    result["placement"] = result["environment"].get("placement", {})
    return result


TEST_LOGITS = "test_logits.npy"


def keep_test_logits(result: dict, folder: Path) -> None:
    """The artifact's test logits, from the worker's result into a file of the stage (its
    record names the file): agreement with the teacher is computed from them beside the
    stage, so the stage's key holds nothing of the teacher."""
    encoded = result.pop("test_logits", None)
    if encoded is not None:
        import numpy as np

        from edgekd.profile.accuracy import decode_array

        np.save(folder / TEST_LOGITS, decode_array(encoded))
        result["test_logits"] = TEST_LOGITS
