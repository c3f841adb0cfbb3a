"""`edgekd profile` and `edgekd verify`: measure a bundle or any ONNX file; check a bundle."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

VERIFY_CANNOT_LOAD = 3  # every hash checked, but the runtime is not installed here


def profile(
    path: Annotated[
        Path,
        typer.Argument(metavar="PATH", help="A deploy bundle folder or a plain .onnx file."),
    ],
    target: Annotated[
        Optional[str],
        typer.Option("--target", "-t", metavar="NAME", help="Target name or YAML path."),
    ] = None,
    threads: Annotated[
        Optional[int],
        typer.Option(min=1, metavar="N", help="Runtime threads (at most the CPUs there)."),
    ] = None,
    batch: Annotated[
        Optional[int],
        typer.Option(
            min=1, metavar="B", help="Throughput batch (a static-batch model uses its own)."
        ),
    ] = None,
    shape: Annotated[
        Optional[list[str]],
        typer.Option(
            metavar="NAME=1x128",
            help="Input shape for an ONNX file: NAME=1x128 (repeat per input), or 1x3x224x224 "
            "for a one-input model. Fixes symbolic dimensions.",
        ),
    ] = None,
    int_range: Annotated[
        Optional[list[str]],
        typer.Option(
            metavar="LOW:HIGH",
            help="Where integer inputs are drawn from, [LOW, HIGH): 0:30000, or NAME=0:30000 "
            "for one input. Default 0:100.",
        ),
    ] = None,
    host: Annotated[
        Optional[str],
        typer.Option(metavar="HOST", help="local, or ssh://user@host[:port] to measure there."),
    ] = None,
    tier: Annotated[
        str,
        typer.Option(metavar="TIER", help="quick (seconds) or report (>= 1,024 queries)."),
    ] = "report",
    known_hosts: Annotated[
        Optional[Path],
        typer.Option(metavar="FILE", help="known_hosts file (default ~/.ssh/known_hosts)."),
    ] = None,
    identity: Annotated[
        Optional[Path], typer.Option(metavar="FILE", help="SSH private key file.")
    ] = None,
    remote_python: Annotated[
        str,
        typer.Option(
            metavar="PYTHON",
            help="Python on the host (needs numpy, pydantic, pyyaml, runtime).",
        ),
    ] = "python3",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    out: Annotated[
        Optional[Path],
        typer.Option(
            metavar="FILE", help="Also write the full result (raw samples) to this new file."
        ),
    ] = None,
) -> None:
    """Measure a deploy bundle or any ONNX file: latency, throughput, memory, per-layer times.

    A device that cannot be reached (--host, or the target's own host) is an error, not an
    estimate; a runtime that cannot run here gives a labelled roofline estimate.
    """
    import json

    from edgekd.config.schema import ProfileConfig, SshConfig
    from edgekd.config.validate import validate
    from edgekd.fsutil import check_new_file, write_json_atomic
    from edgekd.profile.command import Request, profile_path

    _exit_cleanly_on_sigterm()
    if out is not None:
        check_new_file(out, "--out")
    cfg = validate(ProfileConfig, {"tier": tier}, "--tier")
    ssh = SshConfig(known_hosts=known_hosts, identity=identity, python=remote_python)
    req = Request(target, threads, batch, host, ssh, cfg, shape or [], int_range or [])
    res = profile_path(path, req)
    if out is not None:
        write_json_atomic(out, res)
    res.pop("samples_ms", None)
    if json_out:
        print(json.dumps(res, indent=2))
    else:
        from edgekd.profile.show import print_profile

        print_profile(res)


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM raises SystemExit, so temporary folders are removed on the way out."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def verify(
    bundle: Annotated[
        Path,
        typer.Argument(metavar="BUNDLE", help="A deploy bundle folder (with manifest.json)."),
    ],
) -> None:
    """Check a deploy bundle: sha256 of every file, then load and run it once.

    Exit status: 0 verified, loaded and run; 2 a check failed (the bundle must not be used);
    3 verified, but its runtime cannot load here (e.g. a TensorRT bundle off the device).
    """
    from edgekd.deploy.check import check_bundle

    info = check_bundle(bundle)
    if info.loaded:
        print(f"ok: {info.bundle} ({info.runtime}, input {info.input})")
        return
    print(
        f"verified; cannot load here (needs {info.needs}): every file of {info.bundle} matches "
        f"its sha256, but {info.runtime} does not run on this machine. To load it: "
        f"{info.install}"
    )
    raise typer.Exit(VERIFY_CANNOT_LOAD)
