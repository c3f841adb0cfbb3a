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
            if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 says it once
                raise typer.Exit(exc.exit_code) from None
            from rich.console import Console
            from rich.markup import escape

            Console(stderr=True, soft_wrap=True).print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True
            )
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            print(
                "interrupted; finished stages are kept and the next run resumes.", file=sys.stderr
            )
            raise typer.Exit(130) from None

    return wrapper


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
    threads: Annotated[Optional[int], typer.Option(min=1, help="Runtime threads.")] = None,
    batch: Annotated[Optional[int], typer.Option(min=1, help="Throughput batch.")] = None,
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
        Optional[Path], typer.Option(help="Also write the full result (raw samples) here.")
    ] = None,
) -> None:
    """Measure a deploy bundle or an ONNX file: latency, memory, per-layer times."""
    import json

    from edgekd.config.schema import ProfileConfig, SshConfig
    from edgekd.config.validate import validate
    from edgekd.fsutil import write_json_atomic
    from edgekd.profile.command import profile_path

    cfg = validate(ProfileConfig, {"tier": tier}, "--tier")
    ssh = SshConfig(known_hosts=known_hosts, identity=identity, python=remote_python)
    res = profile_path(path, target, threads, batch, host, ssh, cfg)
    if out is not None:
        write_json_atomic(out, res)
    res.pop("samples_ms", None)
    if json_out:
        print(json.dumps(res, indent=2))
    else:
        from edgekd.profile.show import print_profile

        print_profile(res)


@app.command()
@user_errors
def verify(
    bundle: Annotated[Path, typer.Argument(help="A deploy bundle folder (with manifest.json).")],
) -> None:
    """Check a deploy bundle: sha256 of every file, then load and run it once."""
    from edgekd.deploy.check import check_bundle

    info = check_bundle(bundle)
    print(f"ok: {info['bundle']} ({info['runtime']}, input {info['input']})")


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

    from edgekd.doctor import runtimes_table

    Console().print(runtimes_table())


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
