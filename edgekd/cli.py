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

            Console(stderr=True, soft_wrap=True).print(
                f"[bold red]error:[/] {exc}", highlight=False, markup=True
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
    from edgekd.config import load_pipeline
    from edgekd.engine import run_pipeline
    from edgekd.progress import Reporter
    from edgekd.report.build import load_report
    from edgekd.report.table import print_table

    cfg = load_pipeline(pipeline, seed=seed)
    if seed is not None and out is None:
        out = Path("runs") / f"{cfg.name}-seed{seed}"
    if nproc > 1:
        from edgekd.config import load_target
        from edgekd.distill.distributed import launch, strip_nproc

        [load_target(t, pipeline) for t in (target or cfg.targets)]  # fail before spawning
        raise typer.Exit(launch(nproc, strip_nproc(sys.argv[1:])))
    run_dir = run_pipeline(cfg, pipeline, target, out, Reporter(quiet=quiet), wait=not no_wait)
    if run_dir is not None and not quiet:
        print_table(load_report(run_dir))


@app.command()
@user_errors
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (runs/<name>).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print report.json instead.")] = False,
) -> None:
    """Print a run's report as a table."""
    import json

    from edgekd.report.build import load_report
    from edgekd.report.table import print_table

    rep = load_report(run_dir)
    if json_out:
        print(json.dumps(rep, indent=2))
    else:
        print_table(rep)


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
    from rich.table import Table

    from edgekd.backends import BACKENDS
    from edgekd.config import available_targets, load_target

    table = Table(title="targets")
    for col in ("target", "runtime", "precisions", "installed here", "file"):
        table.add_column(col, overflow="fold")
    for name, path in available_targets().items():
        t = load_target(str(path))
        reason = BACKENDS.get(t.runtime)(t).available()
        table.add_row(
            name,
            t.runtime,
            ",".join(t.precisions),
            "yes" if reason is None else f"no: {reason}",
            str(path),
        )
    Console().print(table)


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
    for name, cls in LOSSES.items():
        opts = ", ".join(f"{k}={f.default!r}" for k, f in cls.Options.model_fields.items())
        table.add_row(name, f"loss/{cls.kind}", cls.description, cls.paper, opts)
    for name, cls in SCHEMES.items():
        table.add_row(name, "scheme", cls.description, cls.paper, "")
    Console().print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
