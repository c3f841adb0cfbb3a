"""The edgekd command line: thin commands that build configs and call the engine.

The commands live in `edgekd.commands` (one module per group); this module holds the app,
the one way user errors are printed, and the help format.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand, TyperGroup

import edgekd
from edgekd.errors import EdgeKDError


def _plain_params(params) -> None:
    """Typer's rich help gives every parameter a type, flags included (`--quiet <bool>`): a
    flag takes no value, so it shows none; an option shows its metavar (`--seed N`), and an
    argument its name alone (`PIPELINE`, not `PIPELINE <path>`)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif param.param_type_name == "argument" and param.metavar:
            param.display_type_rich = lambda ctx: None


def _unwrap(text: str | None) -> str | None:
    """A docstring's paragraphs as single lines: the help reflows them to the terminal."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


class Command(TyperCommand):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.help = _unwrap(self.help)

    def format_help(self, ctx, formatter):
        _plain_params(self.get_params(ctx))
        super().format_help(ctx, formatter)


class Group(TyperGroup):
    def format_help(self, ctx, formatter):
        _plain_params(self.get_params(ctx))
        super().format_help(ctx, formatter)


app = typer.Typer(
    name="edgekd",
    cls=Group,
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


def _register() -> None:
    """Every command, in the order `edgekd --help` lists them."""
    from edgekd.commands import bundles, listings, pipeline, search

    for fn in (
        pipeline.run,
        pipeline.report,
        search.search,
        bundles.profile,
        bundles.verify,
        listings.targets,
        listings.doctor,
        listings.methods,
        listings.models,
        listings.datasets,
    ):
        app.command(cls=Command)(user_errors(fn))


_register()


def main() -> None:
    from edgekd.progress import quiet_third_party

    quiet_third_party()
    app()


if __name__ == "__main__":
    main()
