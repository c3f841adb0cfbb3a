"""`edgekd run` and `edgekd report`: run a pipeline, and read (or re-ask) its report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer


def run(
    pipeline: Annotated[Path, typer.Argument(metavar="PIPELINE", help="Pipeline YAML file.")],
    target: Annotated[
        Optional[list[str]],
        typer.Option(
            "--target",
            "-t",
            metavar="NAME",
            help="Target name or YAML path; repeat for several. Default: the pipeline's targets.",
        ),
    ] = None,
    out: Annotated[
        Optional[Path], typer.Option(metavar="DIR", help="Run folder. Default: runs/<name>.")
    ] = None,
    seed: Annotated[
        Optional[int],
        typer.Option(
            metavar="N",
            help="Override the pipeline's seed. The run then goes to runs/<name>-seed<N> "
            "(unless --out is given), so each seed keeps its own folder and cache.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    nproc: Annotated[
        int,
        typer.Option(
            min=1, metavar="N", help="Train with DDP on this many local processes (torchrun)."
        ),
    ] = 1,
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", help="Refuse, instead of waiting, if the run folder is in use."),
    ] = False,
) -> None:
    """Run a pipeline: train, distill, export, compile, profile and report.

    Writes runs/<name>/ (with --seed N: runs/<name>-seed<N>/): cached stages, one deploy
    bundle per target x model x precision, and report.md/json/html.
    """
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


def report(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder (runs/<name>).")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON only: report.json, or the comparison.")
    ] = False,
    compare: Annotated[
        Optional[Path],
        typer.Option(metavar="RUN2", help="A second run folder to compare with, row by row."),
    ] = None,
    budget_ms: Annotated[
        Optional[float],
        typer.Option(
            metavar="MS", help="Objective: the most accurate artifact with p90 <= this (ms)."
        ),
    ] = None,
    max_drop: Annotated[
        Optional[float],
        typer.Option(
            metavar="POINTS",
            help="Objective: the fastest artifact within this many accuracy points.",
        ),
    ] = None,
    target: Annotated[
        Optional[str],
        typer.Option(metavar="NAME", help="Only this target's pick; exit 1 if it has none."),
    ] = None,
) -> None:
    """Print a run's report; pick per target for another objective; compare two runs."""
    from edgekd.report.query import ReportQuery, run_report

    code = run_report(run_dir, ReportQuery(json_out, compare, budget_ms, max_drop, target))
    if code:
        raise typer.Exit(code)
