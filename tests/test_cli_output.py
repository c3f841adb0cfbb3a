"""What the CLI prints (issue 16, point 7): help without type noise on flags, `--seed`
documented, `[done]`/`[cached]` markers that survive a terminal, progress for compile and
profile steps, and third-party notices kept out, narrowly.
"""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys

import pytest
import yaml
from conftest import TINY
from rich.console import Console
from typer.testing import CliRunner

from edgekd.cli import app
from edgekd.progress import Reporter

COMMANDS = [None, "run", "report", "profile", "verify", "targets", "doctor", "methods"]
COMMANDS += ["models", "datasets"]
TYPE_NOISE = re.compile(r"<(bool|str|int|float|path|list\[[^\]]*\]|int range|float range)>")


def help_text(command: str | None) -> str:
    args = ["--help"] if command is None else [command, "--help"]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize("command", COMMANDS, ids=[c or "edgekd" for c in COMMANDS])
def test_help_has_no_type_noise(command):
    text = help_text(command)
    assert not TYPE_NOISE.search(text), TYPE_NOISE.search(text).group(0)
    assert "--help" in text and "Show this message and exit." in text


def test_flags_show_no_value_and_options_their_metavar():
    text = help_text("run")
    lines = {ln.split()[1]: ln for ln in text.splitlines() if ln.startswith("│ --")}
    assert lines["--quiet"].split()[2:4] == ["-q", "No"]  # the help follows the flag
    assert lines["--no-wait"].split()[2] == "Refuse,"
    assert lines["--seed"].split()[2] == "N" and lines["--target"].split()[3] == "NAME"


def test_seed_says_where_the_run_goes():
    assert "runs/<name>-seed<N>" in " ".join(help_text("run").replace("│", " ").split())


def _terminal_reporter() -> tuple[Reporter, io.StringIO]:
    reporter = Reporter()
    buf = io.StringIO()
    reporter.console = Console(file=buf, force_terminal=True, width=100)
    reporter.live = True
    return reporter, buf


def test_markers_survive_on_a_terminal():
    reporter, buf = _terminal_reporter()
    reporter.line("[done] compile-mlp-s-cpu-onnxruntime-int8 (3.2s)")
    reporter.line("[cached] profile-mlp-s-cpu-onnxruntime-int8")
    with reporter.task("[student] mlp", total=2) as advance:
        advance(loss=1.0)
        advance(loss=0.5)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())
    assert "[done] compile-mlp-s-cpu-onnxruntime-int8 (3.2s)" in text
    assert "[cached] profile-mlp-s-cpu-onnxruntime-int8" in text
    assert "[student] mlp" in text


QUIET_PROBE = """
import logging, warnings
from edgekd.progress import quiet_third_party
quiet_third_party()
log = logging.getLogger("torch.utils._pytree")
log.warning("%s is an Enum subclass and is now natively supported by torch.compile", "E")
log.warning("a different pytree warning stays")
logging.getLogger("torchao").warning("Failed to load /x/_C_mxfp8.so: no CUDA")
logging.getLogger("torchao").warning("a different torchao warning stays")
warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use TreeSpec", FutureWarning)
warnings.warn("an unrelated FutureWarning stays", FutureWarning)
"""


def test_only_the_named_third_party_notices_are_hidden():
    out = subprocess.run([sys.executable, "-c", QUIET_PROBE], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for kept in ("pytree warning stays", "torchao warning stays", "unrelated FutureWarning"):
        assert kept in out.stderr
    for hidden in ("Enum subclass", "_C_mxfp8", "LeafSpec"):
        assert hidden not in out.stderr


def _run_on_a_terminal(args: list[str], cwd) -> str:
    """Run `python -m edgekd ARGS` with a pseudo-terminal as stdout and stderr."""
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="120", LINES="40")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgekd", *args],
        stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=cwd, env=env,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=900)
    os.close(master)
    assert proc.returncode == 0, b"".join(chunks)[-3000:]
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))


def test_a_run_on_a_terminal_shows_every_stage_with_its_marker(tmp_path):
    cfg = TINY | {"students": [TINY["students"][0] | {"baseline": False}]}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    text = _run_on_a_terminal(["run", str(tmp_path / "p.yaml"), "--out", "run"], tmp_path)
    for stage in ("data", "teacher", "mlp-t", "export-mlp-t"):
        assert re.search(rf"\[done\] {stage}(-|\s|\()", text), stage
    for kind in ("compile", "profile"):
        for precision in ("fp32", "int8"):
            name = f"{kind}-mlp-t-cpu-onnxruntime-{precision}"
            assert re.search(rf"\[done\] {name} \(\d+\.\ds\)", text), name
    assert "_pytree" not in text and "Warning" not in text
    again = _run_on_a_terminal(["run", str(tmp_path / "p.yaml"), "--out", "run"], tmp_path)
    assert "[cached] profile-mlp-t-cpu-onnxruntime-int8" in again
