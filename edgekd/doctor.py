"""`edgekd targets` and `edgekd doctor`: what each target and runtime can do on this machine,
as each backend reports it through its base class (status, reason, packages, install text)."""

from __future__ import annotations

from rich.table import Table


def targets_table() -> Table:
    """Every known target, whether its runtime runs here, and its file."""
    from edgekd.backends import BACKENDS
    from edgekd.config.load import available_targets, load_target

    table = Table(title="targets")
    for col in ("target", "runtime", "precisions", "installed here", "file"):
        table.add_column(col, overflow="fold")
    for name, path in available_targets().items():
        t = load_target(str(path))
        status = BACKENDS.get(t.runtime)(t).status()
        table.add_row(
            name,
            t.runtime,
            ",".join(t.precisions),
            "yes" if status.runs_here else f"no: {status.reason}",
            str(path),
        )
    return table


def runtimes_table() -> Table:
    """Every registered runtime: its status here, installed versions, what to install."""
    from edgekd.backends import BACKENDS, package_versions
    from edgekd.config.schema import TargetConfig

    table = Table(title="runtimes")
    for col in ("runtime", "status", "installed packages", "to install"):
        table.add_column(col, overflow="fold")
    for name, cls in BACKENDS.items():
        backend = cls(TargetConfig(name="doctor", runtime=name))
        status = backend.status()
        have = package_versions(*cls.packages)
        table.add_row(
            name,
            "ok" if status.runs_here else f"{status.state}: {status.reason}",
            ", ".join(f"{k} {v}" for k, v in have.items()) or "-",
            "-" if status.runs_here else backend.install_text(),
        )
    return table
