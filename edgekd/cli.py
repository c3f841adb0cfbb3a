"""The edgekd command line: thin commands that build configs and call the engine."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

import edgekd
from edgekd.errors import EdgeKDError

app = typer.Typer(
    name="edgekd",
    help="Distill, export, compile and profile small models for edge devices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def user_errors(fn):
    """Print an EdgeKDError as one paragraph on stderr and exit with its code; no traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EdgeKDError as exc:
            _say(exc)
        except (OSError, MemoryError, RecursionError) as exc:
            from edgekd.syserrors import user_error

            err = user_error(exc)
            if err is None:
                raise  # not something the user's machine or paths caused: a bug
            _say(err)
        except KeyboardInterrupt:
            print(
                "interrupted; finished stages are kept and the next run resumes.", file=sys.stderr
            )
            raise typer.Exit(130) from None

    return wrapper


def _say(exc: EdgeKDError):
    """One paragraph on stderr, then exit with the error's code."""
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 says it once
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True, soft_wrap=True).print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True
        )
    raise typer.Exit(exc.exit_code) from None


def _version(value: bool) -> None:
    if value:
        print(f"edgekd {edgekd.__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        Optional[bool],
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
) -> None:
    """Distill, export, compile and profile small models for edge devices."""


@app.command()
@user_errors
def run(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline YAML file.")],
    target: Annotated[
        Optional[list[str]],
        typer.Option(
            "--target",
            "-t",
            help="Target name or YAML path; repeat for several. Default: the pipeline's targets.",
        ),
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder. Default: runs/<name>.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override the pipeline's seed.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    nproc: Annotated[
        int,
        typer.Option(min=1, help="Train with DDP on this many local processes (torchrun)."),
    ] = 1,
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", help="Refuse, instead of waiting, if the run folder is in use."),
    ] = False,
) -> None:
    """Run a pipeline: train, distill, export, compile, profile and report."""
    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline
    from edgekd.progress import Reporter
    from edgekd.report.load import load_report
    from edgekd.report.table import print_table

    cfg = load_pipeline(pipeline, seed=seed)
    if seed is not None and out is None:
        out = Path("runs") / f"{cfg.name}-seed{seed}"
    if nproc > 1:
        from edgekd.config.load import load_targets
        from edgekd.distill.distributed import launch, strip_nproc

        load_targets(target or cfg.targets, pipeline)  # fail before spawning
        raise typer.Exit(launch(nproc, strip_nproc(sys.argv[1:])))
    run_dir = run_pipeline(cfg, pipeline, target, out, Reporter(quiet=quiet), wait=not no_wait)
    if run_dir is not None and not quiet:
        print_table(load_report(run_dir))


@app.command()
@user_errors
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (runs/<name>).")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON only: report.json, or the comparison.")
    ] = False,
    compare: Annotated[
        Optional[Path], typer.Option(help="A second run folder to compare with, row by row.")
    ] = None,
    budget_ms: Annotated[
        Optional[float],
        typer.Option(help="Objective: the most accurate artifact with p90 <= this (ms)."),
    ] = None,
    max_drop: Annotated[
        Optional[float],
        typer.Option(help="Objective: the fastest artifact within this many accuracy points."),
    ] = None,
    target: Annotated[
        Optional[str], typer.Option(help="Only this target's pick; exit 1 if it has none.")
    ] = None,
) -> None:
    """Print a run's report; pick per target for another objective; compare two runs."""
    from edgekd.report.query import ReportQuery, run_report

    code = run_report(run_dir, ReportQuery(json_out, compare, budget_ms, max_drop, target))
    if code:
        raise typer.Exit(code)


@app.command()
@user_errors
def profile(
    path: Annotated[Path, typer.Argument(help="A deploy bundle folder or a plain .onnx file.")],
    target: Annotated[
        Optional[str], typer.Option("--target", "-t", help="Target name or YAML path.")
    ] = None,
    threads: Annotated[
        Optional[int], typer.Option(min=1, help="Runtime threads (at most the CPUs there).")
    ] = None,
    batch: Annotated[
        Optional[int],
        typer.Option(min=1, help="Throughput batch (a static-batch model uses its own)."),
    ] = None,
    shape: Annotated[
        Optional[list[str]],
        typer.Option(
            help="Input shape for an ONNX file: NAME=1x128 (repeat per input), or 1x3x224x224 "
            "for a one-input model. Fixes symbolic dimensions."
        ),
    ] = None,
    int_range: Annotated[
        Optional[list[str]],
        typer.Option(
            help="Where integer inputs are drawn from, [LOW, HIGH): 0:30000, or NAME=0:30000 "
            "for one input. Default 0:100."
        ),
    ] = None,
    host: Annotated[
        Optional[str], typer.Option(help="local, or ssh://user@host[:port] to measure there.")
    ] = None,
    tier: Annotated[str, typer.Option(help="quick (seconds) or report (>= 1,024 queries).")] = (
        "report"
    ),
    known_hosts: Annotated[
        Optional[Path], typer.Option(help="known_hosts file (default ~/.ssh/known_hosts).")
    ] = None,
    identity: Annotated[Optional[Path], typer.Option(help="SSH private key file.")] = None,
    remote_python: Annotated[
        str, typer.Option(help="Python on the host (needs numpy, pydantic, pyyaml, runtime).")
    ] = "python3",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    out: Annotated[
        Optional[Path],
        typer.Option(help="Also write the full result (raw samples) to this new file."),
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


VERIFY_CANNOT_LOAD = 3  # every hash checked, but the runtime is not installed here


@app.command()
@user_errors
def verify(
    bundle: Annotated[Path, typer.Argument(help="A deploy bundle folder (with manifest.json).")],
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


@app.command()
@user_errors
def targets() -> None:
    """List the known targets and whether their runtime is installed here."""
    from rich.console import Console

    from edgekd.doctor import targets_table

    Console().print(targets_table())


@app.command()
@user_errors
def doctor() -> None:
    """Say which runtimes are installed (with versions) and what to install for the rest."""
    from rich.console import Console

    from edgekd.doctor import extras_summary, runtimes_table

    console = Console()
    console.print(runtimes_table())
    console.print(extras_summary(), highlight=False, markup=False)


@app.command()
@user_errors
def methods() -> None:
    """List every distillation loss and scheme with its kind, description and paper."""
    from rich.console import Console
    from rich.table import Table

    from edgekd.distill.losses import LOSSES
    from edgekd.distill.schemes import SCHEMES

    table = Table(title="distillation methods")
    for col in ("name", "kind", "description", "paper", "options"):
        table.add_column(col, overflow="fold")
    rows = [(n, f"loss/{c.kind}", c) for n, c in LOSSES.items()]
    rows += [(n, c.kind, c) for n, c in SCHEMES.items()]
    for name, kind, cls in rows:
        fields = cls.Options.model_fields.items()
        opts = ", ".join(f"{k}={_default_text(f)}" for k, f in fields)
        table.add_row(name, kind, cls.description, cls.paper, opts)
    Console().print(table)


def _default_text(field) -> str:
    if field.is_required():
        return "(required)"
    return repr(field.get_default(call_default_factory=True))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
