"""`edgekd targets` and `edgekd doctor`: what each target and runtime can do from this
machine, as each backend reports it through its base class (status, reason, packages,
install text), and whether a remote device answers on its SSH port right now."""

from __future__ import annotations

import socket
import threading
import time

REACH_TIMEOUT_S = 2.0


def targets_rows(check: bool = True) -> list[list[str]]:
    """Every known target: runtime, precisions, host, status and file. A local target's
    status is whether its runtime runs here; a remote one's, whether its host answers."""
    from edgekd.backends import BACKENDS
    from edgekd.config.load import available_targets, load_target

    loaded = [(name, path, load_target(str(path))) for name, path in available_targets().items()]
    remote = sorted({t.host for _, _, t in loaded if t.host != "local"})
    answers = reachability(remote) if check else dict.fromkeys(remote, "not checked (--no-check)")
    rows = []
    for name, path, t in loaded:
        if t.host == "local":
            status = BACKENDS.get(t.runtime)(t).status()
            state = "runs here" if status.runs_here else f"not here: {status.reason}"
        else:
            state = answers[t.host]
        rows.append([name, t.runtime, ", ".join(t.precisions), t.host, state, str(path)])
    return rows


def reachability(hosts: list[str], timeout: float = REACH_TIMEOUT_S) -> dict[str, str]:
    """Per ssh:// host: does it answer on its port within `timeout`? All are tried at once,
    in daemon threads, so a name that never resolves cannot hold the listing up."""
    answers: dict[str, str] = {}
    threads = [
        threading.Thread(target=_probe, args=(h, timeout, answers), daemon=True) for h in hosts
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout + 0.5
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    silent = f"unreachable: no answer within {timeout:g} s"
    return {h: answers.get(h, silent) for h in hosts}


def _probe(url: str, timeout: float, answers: dict[str, str]) -> None:
    from edgekd.profile.hosts import RemoteError, parse_host

    try:
        host = parse_host(url)
        with socket.create_connection((host.hostname, host.port), timeout=timeout) as sock:
            sock.settimeout(min(1.0, timeout))
            try:
                banner = sock.recv(64)
            except OSError:
                banner = b""
    except RemoteError:
        answers[url] = "not an SSH address"
        return
    except OSError as exc:
        answers[url] = f"unreachable: {exc.strerror or exc}"
        return
    what = "SSH answers" if banner.startswith(b"SSH-") else "port open, no SSH banner"
    answers[url] = f"reachable ({what} on port {host.port})"


def runtimes_rows() -> list[list[str]]:
    """Every registered runtime: its status here, installed versions, what to install."""
    from edgekd.backends import BACKENDS, package_versions
    from edgekd.config.schema import TargetConfig

    rows = []
    for name, cls in BACKENDS.items():
        backend = cls(TargetConfig(name="doctor", runtime=name))
        status = backend.status()
        have = package_versions(*cls.packages)
        rows.append(
            [
                name,
                "ok" if status.runs_here else f"{status.state}: {status.reason}",
                ", ".join(f"{k} {v}" for k, v in have.items()) or "-",
                "-" if status.runs_here else install_command(backend),
            ]
        )
    return rows


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
