"""`edgekd profile PATH`: measure any deploy bundle or plain ONNX file, here or over SSH.

A bundle is verified against its manifest before anything loads. A plain ONNX file is
profiled as is on an ONNX Runtime target, or compiled first for another target. Where the
target's runtime cannot run here, the result is a roofline estimate, labelled as such.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edgekd.config.load import load_target
from edgekd.config.schema import ProfileConfig, SshConfig, TargetConfig
from edgekd.errors import ArtifactError, ConfigError
from edgekd.records import LatencySource


def resolve_target(name: str | None, default: str, runtime: str) -> TargetConfig:
    from edgekd.config.load import available_targets

    if name is not None:
        return load_target(name)
    if default in available_targets():
        return load_target(default)
    return TargetConfig(name=default, runtime=runtime)


def onnx_input_shape(path: Path) -> list[int]:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ArtifactError(
            f"'{path}' is not a readable ONNX file ({type(exc).__name__}). Check the path."
        ) from None
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ArtifactError(f"'{path}' has {len(inputs)} inputs; edgekd profiles one-input models.")
    dims = inputs[0].type.tensor_type.shape.dim[1:]
    if not all(d.HasField("dim_value") for d in dims):
        raise ArtifactError(
            f"'{path}': only the first (batch) input dimension may be symbolic; re-export "
            "the model with fixed sizes for the other dimensions."
        )
    return [d.dim_value for d in dims]


def profile_path(
    path: Path,
    target_name: str | None = None,
    threads: int | None = None,
    batch: int | None = None,
    host: str | None = None,
    ssh: SshConfig | None = None,
    profile: ProfileConfig | None = None,
) -> dict:
    from edgekd.backends import BACKENDS

    path = Path(path)
    profile = profile or ProfileConfig()
    job = make_job(path, target_name)
    target = job["target"]
    update = {k: v for k, v in (("threads", threads), ("host", host)) if v is not None}
    target = target.model_copy(update=update | ({"ssh": ssh} if ssh else {}))
    backend = BACKENDS.get(target.runtime)(target)
    status = backend.status()
    head = {"path": str(path), "target": target.name, "runtime": target.runtime}
    head |= {"host": target.host, "precision": job["precision"]}
    if target.host == "local" and not status.runs_here:
        return head | estimate_only(job, target, status.reason)
    from edgekd.profile.remote import RemoteError

    with tempfile.TemporaryDirectory(prefix="edgekd-compile-") as tmp:
        artifact_dir, files = job["dir"], job["files"]
        if job.get("compile"):
            artifact_dir, files = compile_plain(backend, job, Path(tmp))
        try:
            return head | run_job(
                artifact_dir, backend.artifact, target, profile, job, batch, files
            )
        except RemoteError as exc:
            if host is not None:  # asked for that host by name: say why it failed
                raise
            return head | estimate_only(job, target, str(exc))


def make_job(path: Path, target_name: str | None) -> dict:
    """What to measure: a verified bundle as it is, or a plain ONNX file to compile first."""
    if path.is_dir():
        return bundle_job(path, target_name)
    if path.suffix == ".onnx" and path.is_file():
        return onnx_job(path, target_name)
    raise ArtifactError(
        f"'{path}' is neither a deploy bundle (a folder with manifest.json) nor an .onnx "
        "file. Give runs/<name>/deploy/<target>/<model>-<precision> or a model.onnx."
    )


def run_job(artifact_dir, artifact, target, profile, job, batch, files) -> dict:
    from edgekd.profile.isolate import profile_artifact
    from edgekd.profile.protocol import make_spec

    spec = make_spec(
        artifact_dir, artifact, target, profile, job["shape"], None, batch, files,
        dtype=job.get("dtype", "float32"),
    )  # fmt: skip
    result = profile_artifact(spec, target.host, target.ssh)
    return result | {"latency_source": result.pop("source")}


def bundle_job(path: Path, target_name: str | None) -> dict:
    from edgekd.deploy import verify_bundle

    manifest = verify_bundle(path)
    target = resolve_target(target_name, manifest["target"], manifest["runtime"])
    if target.runtime != manifest["runtime"]:
        raise ConfigError(
            f"bundle '{path}' holds a {manifest['runtime']} artifact; target '{target.name}' "
            f"runs {target.runtime}. Pick a {manifest['runtime']} target, or profile the "
            "bundle's ONNX export instead."
        )
    files = [f for f in manifest["files"] if f != "predict.py"]
    onnx = path / manifest["artifact"]
    return {
        "target": target,
        "dir": path,
        "files": files,
        "shape": manifest["input"]["shape"][1:],
        "dtype": manifest["input"].get("dtype", "float32"),
        "precision": manifest["precision"],
        "onnx": onnx if onnx.suffix == ".onnx" else None,
    }


def onnx_job(path: Path, target_name: str | None) -> dict:
    from edgekd.backends import PLAIN_ONNX_TARGET

    target = resolve_target(target_name, *PLAIN_ONNX_TARGET)
    shape = onnx_input_shape(path)
    return {
        "target": target,
        "dir": path.parent,
        "files": [path.name],
        "shape": shape,
        "precision": "fp32",
        "onnx": path,
        "compile": True,  # into the target's artifact (may be a plain copy)
    }


def compile_plain(backend, job: dict, out: Path) -> tuple[Path, list[str]]:
    calib = np.random.default_rng(0).standard_normal([64, *job["shape"]]).astype(np.float32)
    info = backend.compile(job["onnx"], "fp32", calib, out)
    return out, info["files"]


def estimate_only(job: dict, target: TargetConfig, reason: str) -> dict:
    from edgekd.profile.estimate import estimate_latency

    if job.get("onnx") is None:
        raise ArtifactError(
            f"target '{target.name}' cannot run here ({reason}), and no ONNX "
            "graph is at hand to estimate from."
        )
    est, why = estimate_latency(target, job["onnx"], job["precision"], reason)
    if est is None:
        raise ConfigError(f"target '{target.name}' cannot run here: {why}.")
    return {
        "latency_source": LatencySource.ESTIMATED.value,
        "estimate": est.model_dump(mode="json"),
        "reason": reason,
    }
