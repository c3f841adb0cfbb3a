"""Listings (issue 16, point 7): `edgekd models` and `edgekd datasets` list every plugin with
its options, types and defaults, from the registries; `edgekd targets` shows each target's
host and, for a remote device, whether it answers; at 80 columns no word is broken.
"""

from __future__ import annotations

import re
import socket
import threading

import pytest
import yaml
from typer.testing import CliRunner

from edgekd.catalog import listing_rows
from edgekd.cli import app
from edgekd.data import DATASETS
from edgekd.distill.losses import LOSSES
from edgekd.doctor import reachability, runtimes_rows, targets_rows
from edgekd.models import MODELS

BORDERS = re.compile(r"[│┃┏┓┗┛┡┩└┘━─┳┻╇╈╋┼]")


def cli(*args: str, columns: int = 80):
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.output
    return res.output


def words(text: str) -> set[str]:
    return set(BORDERS.sub(" ", text).split())


@pytest.mark.parametrize("command, registry", [("models", MODELS), ("datasets", DATASETS)])
@pytest.mark.parametrize("columns", [80, 200])
def test_every_plugin_is_listed_with_its_options_types_and_defaults(command, registry, columns):
    out = words(cli(command, columns=columns))
    for name, cls in registry.items():
        assert name in out, name
        for field in cls.Options.model_fields:
            option = next(r for r in listing_rows(registry) if r[0] == name)[-1]
            line = next(ln for ln in option.splitlines() if ln.startswith(f"{field}="))
            assert set(line.split()) <= out, (name, line)  # name=default (type): every word


LISTINGS = {
    "models": lambda: listing_rows(MODELS),
    "datasets": lambda: listing_rows(DATASETS),
    "methods": lambda: listing_rows(LOSSES, lambda c: f"loss/{c.kind}"),
    "doctor": runtimes_rows,
    "targets": lambda: targets_rows(check=False),
}


@pytest.mark.parametrize("command", sorted(LISTINGS))
def test_no_word_is_broken_at_80_columns(command):
    """Every word of every cell appears whole in the output, and no line is wider than 80
    (a wide table falls back to one block per entry)."""
    args = [command, "--no-check"] if command == "targets" else [command]
    text = cli(*args, columns=80)
    out = words(text)
    for row in LISTINGS[command]():
        for cell in row:
            missing = [w for w in cell.split() if w not in out]
            assert not missing, (command, missing[:5])
    wide = [ln for ln in text.splitlines() if len(ln) > 80 and len(ln.split()) > 1]
    assert not wide, wide[:3]


def test_a_wide_terminal_still_gets_a_table():
    assert "┃ name" in cli("models", columns=200)


# ------------------------------------------------------------------------- targets
@pytest.fixture
def ssh_like_server():
    """A TCP server on localhost that greets like sshd, then hangs up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"SSH-2.0-OpenSSH_test\r\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_reachability_says_which_hosts_answer(ssh_like_server):
    up, down = f"ssh://pi@127.0.0.1:{ssh_like_server}", f"ssh://pi@127.0.0.1:{closed_port()}"
    answers = reachability([up, down], timeout=2.0)
    assert answers[up] == f"reachable (SSH answers on port {ssh_like_server})"
    assert answers[down].startswith("unreachable: ")


def test_targets_show_the_host_and_reachable_for_a_remote_device(
    tmp_path, monkeypatch, ssh_like_server
):
    (tmp_path / "targets").mkdir()
    device = {
        "name": "my-pi",
        "runtime": "onnxruntime",
        "host": f"ssh://pi@127.0.0.1:{ssh_like_server}",
    }
    (tmp_path / "targets" / "my-pi.yaml").write_text(yaml.safe_dump(device))
    monkeypatch.chdir(tmp_path)
    rows = {r[0]: r for r in targets_rows(check=True)}
    assert rows["my-pi"][3] == device["host"]
    assert rows["my-pi"][4] == f"reachable (SSH answers on port {ssh_like_server})"
    assert rows["cpu-onnxruntime"][3:5] == ["local", "runs here"]
    unchecked = {r[0]: r for r in targets_rows(check=False)}
    assert unchecked["my-pi"][4] == "not checked (--no-check)"
    out = cli("targets", columns=400)  # wide enough for any tmp path (pytest-xdist's are long)
    line = next(ln for ln in out.splitlines() if " my-pi " in ln)
    assert device["host"] in line and "reachable (SSH answers" in line
    assert "installed here" not in out
