"""`edgekd targets` and `edgekd doctor`: what each target and runtime can do on this machine,
as each backend reports it through its base class (status, reason, packages, install text)."""

from __future__ import annotations

from rich.markup import escape
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
            "yes" if status.runs_here else escape(f"no: {status.reason}"),
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
            "ok" if status.runs_here else escape(f"{status.state}: {status.reason}"),
            ", ".join(f"{k} {v}" for k, v in have.items()) or "-",
            "-" if status.runs_here else escape(install_command(backend)),
        )
    return table


def install_command(backend) -> str:
    """The edgekd extra where PyPI has the runtime for this platform, else the backend's
    own instructions (JetPack, a vendor installer)."""
    cls = type(backend)
    if cls.extra and cls.installs_from_pypi_here():
        return f"pip install 'edgekd[{cls.extra}]' (or: {backend.install_text()})"
    return backend.install_text() + " (no PyPI wheel for this platform)"


def extras_summary() -> str:
    """What `pip install 'edgekd[all]'` brings here, and what it cannot."""
    from edgekd.backends import BACKENDS
    from edgekd.backends.base import this_platform

    extras = [(n, c) for n, c in BACKENDS.items() if c.extra]
    covered = [n for n, c in extras if c.installs_from_pypi_here()]
    rest = [n for n, c in extras if not c.installs_from_pypi_here()]
    text = f"pip install 'edgekd[all]' installs on {this_platform()}: {', '.join(covered) or '-'}"
    if rest:
        text += f"; not from PyPI here: {', '.join(rest)} (see 'to install' above)"
    return text + "."
