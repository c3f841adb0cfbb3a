"""`edgekd search`: size a pipeline's student for a latency budget on one target.

The flags build the pipeline's `search_students:` section (over the keys the YAML gives) and
the run goes through the same engine function as `edgekd run` (docs/search.md).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer


def search(
    pipeline: Annotated[Path, typer.Argument(metavar="PIPELINE", help="Pipeline YAML file.")],
    target: Annotated[
        str,
        typer.Option("--target", "-t", metavar="NAME", help="The target: a name or YAML path."),
    ],
    budget_ms: Annotated[
        float, typer.Option(metavar="MS", help="Budget: batch-1 p90 on the target, in ms.")
    ],
    student: Annotated[
        Optional[str],
        typer.Option(metavar="NAME", help="The student to size. Default: the first one."),
    ] = None,
    width: Annotated[
        Optional[list[float]],
        typer.Option(
            metavar="W",
            help="A value of the family's width option; repeat. Default: its own x1/4..x2.",
        ),
    ] = None,
    depth: Annotated[
        Optional[list[int]],
        typer.Option(metavar="D", help="A depth to try; repeat. Default: the student's own."),
    ] = None,
    precision: Annotated[
        Optional[str], typer.Option(metavar="P", help="fp32 (default), fp16, bf16 or int8.")
    ] = None,
    finalists: Annotated[
        Optional[int],
        typer.Option(metavar="K", help="Candidates distilled with the full recipe (default 2)."),
    ] = None,
    short_epochs: Annotated[
        Optional[int],
        typer.Option(metavar="N", help="Epochs of the short trials. Default: a quarter."),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option(metavar="DIR", help="Run folder. Default: runs/<name>-search."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", help="Refuse, instead of waiting, if the run folder is in use."),
    ] = False,
) -> None:
    """Size a student for a latency budget: time width x depth variants on the target before
    training, distil those within the budget briefly, the best fully, and run the pipeline
    with the most accurate (validation split).

    Writes runs/<name>-search/ (or --out): the pipeline's run with the searched student, its
    trial table in report.md/json/html. A budget no candidate meets exits 2 and names the
    fastest candidate's latency.
    """
    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline
    from edgekd.progress import Reporter
    from edgekd.report.load import load_report
    from edgekd.report.table import print_table

    start = time.perf_counter()
    cfg = load_pipeline(pipeline)
    given = {
        "student": student,
        "target": str(Path(target).absolute()) if _is_yaml(target) else target,
        "budget_ms": budget_ms,
        "widths": width,
        "depths": depth,
        "precision": precision,
        "finalists": finalists,
        "short_epochs": short_epochs,
    }
    cfg = with_search(cfg, {k: v for k, v in given.items() if v is not None})
    targets = list(dict.fromkeys([*cfg.targets, given["target"]]))
    out = out or Path("runs") / f"{cfg.name}-search"
    run_dir = run_pipeline(cfg, pipeline, targets, out, Reporter(quiet=quiet), wait=not no_wait)
    if run_dir is not None and not quiet:
        report = load_report(run_dir)
        print_table(report)
        print(summary(report, time.perf_counter() - start))


def with_search(cfg, flags: dict):
    """The pipeline with its `search_students:` section: the YAML's keys, then the flags."""
    from edgekd.config.schema import StudentSearchConfig
    from edgekd.config.validate import validate
    from edgekd.errors import ConfigError

    base = cfg.search_students.model_dump() if cfg.search_students is not None else {}
    try:
        section = validate(StudentSearchConfig, base | flags, "edgekd search", ("search_students",))
    except ConfigError as exc:  # a flag's value, or the YAML section's
        fix = "Fix the flag (or the pipeline's search_students) and run again."
        raise ConfigError(str(exc).replace("Fix the YAML and run again.", fix)) from None
    return cfg.model_copy(update={"search_students": section})


def _is_yaml(name: str) -> bool:
    return Path(name).suffix in (".yaml", ".yml")


def summary(report, seconds: float) -> str:
    from edgekd.report.search import options_text, pct

    s = report.student_search
    picked = s.picked if s is not None else None
    if picked is None:
        return f"search: wall time {seconds:.0f} s"
    return (
        f"search: {s.student} is now {picked.variant} ({options_text(picked)}): validation "
        f"accuracy {pct(picked.val_acc)}, test accuracy {pct(picked.test_acc)}, p90 "
        f"{picked.p90_ms:.4g} ms on {s.target} ({picked.latency_source}); "
        f"{len(s.candidates)} candidates, {sum(c.in_budget for c in s.candidates)} within "
        f"budget; wall time {seconds:.0f} s. Trial table: {report.pipeline} report, section "
        "'Student search'."
    )
