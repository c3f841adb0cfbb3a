"""`edgekd verify BUNDLE`: check a deploy bundle end to end before anyone relies on it.

First every file against the manifest's sha256 (nothing is loaded before that passes), then
the artifact is loaded by its runtime and run on one input of the manifest's shape, and the
output is checked against the manifest's output shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.deploy import verify_bundle
from edgekd.errors import ArtifactError, RuntimeMissingError


def _spec(manifest: dict, where: str) -> tuple[list[int], int]:
    try:
        shape = [int(d) for d in manifest["input"]["shape"][1:]]
        classes = int(manifest["output"]["shape"][1])
        return shape, classes
    except (KeyError, TypeError, ValueError, IndexError):
        raise ArtifactError(
            f"'{where}': the manifest's input/output shapes are missing or not integers. "
            "Rebuild the bundle with `edgekd run`."
        ) from None


def check_bundle(path: Path) -> dict:
    """Verify hashes, load the artifact, run one sample; returns a summary."""
    from edgekd.backends import BACKENDS
    from edgekd.config.schema import TargetConfig

    manifest = verify_bundle(path)
    shape, classes = _spec(manifest, str(path))
    backend = BACKENDS.get(str(manifest.get("runtime")))(
        TargetConfig(name="verify", runtime=str(manifest.get("runtime")), threads=1)
    )
    status = backend.status()
    if not status.runs_here:
        raise RuntimeMissingError(f"cannot run bundle '{path}': {status.reason}")
    runner = backend.load(Path(path))
    x = np.zeros((1, *shape), dtype=np.float32)
    try:
        y = np.asarray(runner(x))
    except Exception as exc:  # each runtime raises its own error types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ArtifactError(
            f"bundle '{path}': the model rejects an input of the manifest's shape "
            f"{[1, *shape]} ({first}). The artifact and manifest.json do not belong together; "
            "rebuild the bundle."
        ) from None
    if y.shape != (1, classes):
        raise ArtifactError(
            f"bundle '{path}': the model returns shape {list(y.shape)}, but the manifest "
            f"promises [1, {classes}]. Rebuild the bundle."
        )
    return {"bundle": str(path), "runtime": manifest["runtime"], "input": [1, *shape]}
