"""`edgekd profile PATH`: measure any deploy bundle or plain ONNX file, here or over SSH.

A bundle is verified against its manifest before anything loads. A plain ONNX file (any
number of inputs, symbolic dimensions fixed with --shape, integer inputs drawn from
--int-range) is profiled as is on an ONNX Runtime target, or compiled first for another
target. Where the target's runtime cannot run here, the result is a roofline estimate,
labelled as such. A device that cannot be reached is an error: this command measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekd.config.load import load_target
from edgekd.config.schema import ProfileConfig, SshConfig, TargetConfig
from edgekd.errors import ArtifactError, ConfigError
from edgekd.profile.protocol import InputSpec
from edgekd.records import LatencySource, RuntimeSettings


@dataclass(frozen=True)
class Request:
    """What the user asked for on the command line, beyond the path."""

    target: str | None = None
    threads: int | None = None
    batch: int | None = None
    host: str | None = None
    ssh: SshConfig | None = None
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    shapes: list[str] = field(default_factory=list)  # --shape
    int_ranges: list[str] = field(default_factory=list)  # --int-range


@dataclass(frozen=True)
class Job:
    """What to measure: where its files are, with which inputs, on which target."""

    target: TargetConfig
    dir: Path
    files: list[str]
    inputs: list[InputSpec]
    precision: str
    onnx: Path | None
    compile: bool = False  # a plain ONNX file, compiled into the target's artifact first
    settings: RuntimeSettings | None = None  # a bundle's tuned settings (used untuned)


def resolve_target(name: str | None, default: str, runtime: str) -> TargetConfig:
    from edgekd.config.load import available_targets

    if name is not None:
        return load_target(name)
    if default in available_targets():
        return load_target(default)
    return TargetConfig(name=default, runtime=runtime)


def profile_path(path: Path, req: Request | None = None) -> dict:
    from edgekd.backends import BACKENDS
    from edgekd.fsutil import clean_stale_temp
    from edgekd.profile.hosts import parse_host

    req = req or Request()
    if req.host not in (None, "local"):
        parse_host(req.host)  # a malformed address fails before anything is compiled
    clean_stale_temp()
    job = make_job(Path(path), req)
    update = {k: v for k, v in (("threads", req.threads), ("host", req.host)) if v is not None}
    target = job.target.model_copy(update=update | ({"ssh": req.ssh} if req.ssh else {}))
    backend = BACKENDS.get(target.runtime)(target)
    head = {"path": str(path), "target": target.name, "runtime": target.runtime}
    head |= {"host": target.host, "precision": job.precision}
    if target.host == "local":
        from edgekd.profile.limits import check_threads

        check_threads(req.threads)
        status = backend.status()
        if not status.runs_here:
            return head | estimate_only(job, target, status.reason)
    return head | measure(job, backend, target, req)


def measure(job: Job, backend, target: TargetConfig, req: Request) -> dict:
    from edgekd.fsutil import temp_dir
    from edgekd.profile.remote import RemoteError

    with temp_dir("compile") as tmp:
        artifact_dir, files = job.dir, job.files
        if job.compile:
            artifact_dir, files = compile_plain(backend, job, tmp)
        try:
            return run_job(artifact_dir, backend.artifact, target, req, job, files)
        except RemoteError as exc:
            if req.host is not None:  # asked for that host by name
                raise
            raise RemoteError(
                f"{exc} Target '{target.name}' is measured on its host {target.host}, and "
                "`edgekd profile` measures or fails (a pipeline run estimates such a device "
                "instead); pass --host local to measure on this machine."
            ) from None


def make_job(path: Path, req: Request) -> Job:
    """A verified bundle as it is, or a plain ONNX file to compile first."""
    if path.is_dir():
        return bundle_job(path, req)
    if path.suffix == ".onnx" and path.is_file():
        return onnx_job(path, req)
    raise ArtifactError(
        f"'{path}' is neither a deploy bundle (a folder with manifest.json) nor an .onnx "
        "file. Give runs/<name>/deploy/<target>/<model>-<precision> or a model.onnx."
    )


def run_job(artifact_dir, artifact, target, req: Request, job: Job, files) -> dict:
    """Tuned on the measuring host (profile.tune), or with the bundle's tuned settings."""
    from edgekd.profile.isolate import profile_tuned
    from edgekd.profile.protocol import make_spec

    spec = make_spec(
        artifact_dir, artifact, target, req.profile, batch=req.batch, files=files,
        inputs=job.inputs, check_threads=req.threads is not None, precision=job.precision,
    )  # fmt: skip
    if job.settings is not None and req.threads is None:
        spec = spec.model_copy(update={"settings": job.settings})
    result = profile_tuned(spec)
    return result | {"latency_source": result.pop("source")}


def bundle_job(path: Path, req: Request) -> Job:
    from edgekd.deploy import verify_bundle

    manifest = verify_bundle(path)
    if req.shapes or req.int_ranges:
        raise ConfigError(
            f"bundle '{path}' records its input ({manifest['input']['shape']}); --shape and "
            "--int-range are for plain ONNX files. Drop them, or profile the .onnx file."
        )
    target = resolve_target(req.target, manifest["target"], manifest["runtime"])
    if target.runtime != manifest["runtime"]:
        raise ConfigError(
            f"bundle '{path}' holds a {manifest['runtime']} artifact; target '{target.name}' "
            f"runs {target.runtime}. Pick a {manifest['runtime']} target, or profile the "
            "bundle's ONNX export instead."
        )
    onnx = path / manifest["artifact"]
    inp = manifest["input"]
    return Job(
        target=target,
        dir=path,
        files=[f for f in manifest["files"] if f != "predict.py"],
        inputs=[InputSpec(shape=[1, *inp["shape"][1:]], dtype=inp.get("dtype", "float32"))],
        precision=manifest["precision"],
        onnx=onnx if onnx.suffix == ".onnx" else None,
        settings=RuntimeSettings.model_validate(tuned)
        if (tuned := manifest.get("tuned_settings"))
        else None,
    )


def onnx_job(path: Path, req: Request) -> Job:
    from edgekd.backends import PLAIN_ONNX_TARGET
    from edgekd.profile.onnx_inputs import parse_ranges, parse_shapes, read_inputs, resolve

    shapes, ranges = parse_shapes(req.shapes), parse_ranges(req.int_ranges)
    inputs = resolve(path, read_inputs(path), shapes, ranges)
    return Job(
        target=resolve_target(req.target, *PLAIN_ONNX_TARGET),
        dir=path.parent,
        files=[path.name],
        inputs=inputs,
        precision="fp32",
        onnx=path,
        compile=True,  # into the target's artifact (may be a plain copy)
    )


def compile_plain(backend, job: Job, out: Path) -> tuple[Path, list[str]]:
    """fp32 needs no calibration data; backends that read its shape see the first input's."""
    from edgekd.profile.limits import check_input_bytes

    first = job.inputs[0]
    shape = [1, *first.shape[1:]]
    check_input_bytes(int(np.prod(shape, dtype=np.float64)) * 4, f"input '{first.name}'")
    calib = np.zeros(shape, np.float32)
    info = backend.compile(job.onnx, "fp32", calib, out)
    return out, info["files"]


def estimate_only(job: Job, target: TargetConfig, reason: str) -> dict:
    from edgekd.profile.estimate import estimate_latency

    if job.onnx is None:
        raise ArtifactError(
            f"target '{target.name}' cannot run here ({reason}), and no ONNX "
            "graph is at hand to estimate from."
        )
    est, why = estimate_latency(target, job.onnx, job.precision, reason)
    if est is None:
        raise ConfigError(f"target '{target.name}' cannot run here: {why}.")
    return {
        "latency_source": LatencySource.ESTIMATED.value,
        "estimate": est.model_dump(mode="json"),
        "reason": reason,
    }
