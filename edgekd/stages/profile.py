"""The profile stage: tune, then measure one compiled artifact in a fresh worker process.

`run_profile` does both for one artifact (its latency rounds back to back, here or on the
target's SSH host). Where several artifacts of one target are measured here, the flow
tunes each and measures them together, their latency rounds interleaved
(`measure_interleaved`); each stage then only records its result (`record_profile`).
"""

from __future__ import annotations

import json
from pathlib import Path

from edgekd.config.schema import ProfileConfig, TargetConfig
from edgekd.records import Role


def profile_spec(backend, target: TargetConfig, comp, data, cfg: ProfileConfig, role=""):
    """What the worker needs for one compiled artifact, measured with the target's settings."""
    from edgekd.profile.protocol import make_spec

    # a cross-modal teacher is measured on its own view of the test split
    teacher_view = role == Role.TEACHER and data.info.get("teacher_view", False)
    return make_spec(
        comp.path,
        backend.artifact,
        target,
        cfg,
        data.info["teacher_input_shape" if teacher_view else "input_shape"],
        data_npz=data.path / "data.npz",
        files=comp.info.get("files"),
        x_key="xt_test" if teacher_view else "x_test",
        precision=comp.info.get("precision", "fp32"),
    )


def measure_interleaved(specs: list) -> list[dict]:
    """Every artifact tuned alone, then measured here with its latency rounds interleaved
    with the others' (`edgekd.profile.interleave`)."""
    from edgekd.profile.interleave import profile_interleaved
    from edgekd.profile.isolate import tuned_spec, with_tuning

    tuned = [tuned_spec(s) for s in specs]
    results = profile_interleaved([spec for spec, _ in tuned])
    return [with_tuning(r, tuning) for r, (_, tuning) in zip(results, tuned)]


def record_profile(result: dict, folder: Path) -> dict:
    """The stage's record: raw samples to a file of their own, the rest as its info."""
    result = dict(result)
    (folder / "latency_samples_ms.json").write_text(json.dumps(result.pop("samples_ms")))
    keep_test_logits(result, folder)
    result["placement"] = result["environment"].get("placement", {})
    return result


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
    tuned and then measured in fresh worker processes here or on the target's SSH host."""
    from edgekd.profile.isolate import profile_tuned

    return record_profile(
        profile_tuned(profile_spec(backend, target, comp, data, cfg, role)), folder
    )


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
