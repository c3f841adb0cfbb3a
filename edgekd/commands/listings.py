"""`edgekd targets | doctor | methods | models | datasets`: what is registered and what runs
here, generated from the registries (edgekd/catalog.py), never from a list kept by hand."""

from __future__ import annotations

from typing import Annotated

import typer


def targets(
    no_check: Annotated[
        bool,
        typer.Option("--no-check", help="Do not try to reach remote devices (ssh://) now."),
    ] = False,
) -> None:
    """List the known targets: runtime, precisions, host, and whether each runs here (a local
    target) or answers on its SSH port (a remote device)."""
    from edgekd.commands.show import show
    from edgekd.doctor import targets_rows

    columns = ["target", "runtime", "precisions", "host", "status", "file"]
    show("targets", columns, targets_rows(check=not no_check))


def doctor() -> None:
    """Say which runtimes are installed (with versions) and what to install for the rest."""
    from rich.console import Console

    from edgekd.commands.show import show, wrap
    from edgekd.doctor import extras_summary, runtimes_rows

    columns = ["runtime", "status", "installed packages", "to install"]
    show("runtimes", columns, runtimes_rows())
    print("\n".join(wrap(extras_summary(), Console().width, "", "  ")))


def methods() -> None:
    """List every distillation loss and scheme: kind, description, paper and options."""
    from edgekd.catalog import listing_rows
    from edgekd.commands.show import show
    from edgekd.distill.losses import LOSSES
    from edgekd.distill.schemes import SCHEMES

    rows = listing_rows(LOSSES, lambda cls: f"loss/{cls.kind}")
    rows += listing_rows(SCHEMES, lambda cls: cls.kind)
    show("distillation methods", ["name", "kind", "description", "options"], rows)


def models() -> None:
    """List every model family with its options, their types and defaults."""
    from edgekd.catalog import listing_rows
    from edgekd.commands.show import show
    from edgekd.models import MODELS

    show("models", ["name", "description", "options"], listing_rows(MODELS))


def datasets() -> None:
    """List every dataset with its options, their types and defaults."""
    from edgekd.catalog import listing_rows
    from edgekd.commands.show import show
    from edgekd.data import DATASETS

    show("datasets", ["name", "description", "options"], listing_rows(DATASETS))
