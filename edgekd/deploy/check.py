"""`edgekd verify BUNDLE`: check a deploy bundle end to end before anyone relies on it.

First every file against the manifest's sha256 (nothing is loaded before that passes), then
the artifact is loaded by its runtime and run on one input of the manifest's shape, and the
output is checked against the manifest's output shape. Where the runtime cannot load here
(a TensorRT bundle on a machine without TensorRT), the result says so: verified, not loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekd.deploy import verify_bundle
from edgekd.errors import ArtifactError


@dataclass(frozen=True)
class Checked:
    bundle: str
    runtime: str
    input: list[int]
    loaded: bool  # False: every hash matched, but this machine cannot load the runtime
    needs: str = ""  # what is missing here to load it
    install: str = ""  # how to install that


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


def check_bundle(path: Path) -> Checked:
    """Verify hashes, then load the artifact and run one sample where its runtime runs."""
    from edgekd.backends import BACKENDS
    from edgekd.config.schema import TargetConfig

    manifest = verify_bundle(path)
    shape, classes = _spec(manifest, str(path))
    runtime = str(manifest["runtime"])
    backend = BACKENDS.get(runtime)(TargetConfig(name="verify", runtime=runtime, threads=1))
    head = (str(path), runtime, [1, *shape])
    if not backend.status().runs_here:
        needs = ", ".join(backend.missing()) or runtime
        return Checked(*head, loaded=False, needs=needs, install=backend.install_text())
    run_once(backend, Path(path), manifest, shape, classes)
    return Checked(*head, loaded=True)


def run_once(backend, path: Path, manifest: dict, shape: list[int], classes: int) -> None:
    from edgekd.profile.limits import check_input_bytes

    dtype = manifest["input"].get("dtype", "float32")
    check_input_bytes(int(np.prod(shape)) * np.dtype(dtype).itemsize, "the manifest's input")
    runner = backend.load(path)
    x = np.zeros((1, *shape), dtype=dtype)
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
