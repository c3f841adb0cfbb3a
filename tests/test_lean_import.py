"""`import edgekd` and `edgekd --help` must not pull heavy libraries (STYLE.md, habit 4)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ["torch", "onnx", "onnxruntime", "openvino", "executorch", "tensorrt", "matplotlib"]


def _imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {m for m in out.stdout.strip().split(",") if m}


def test_import_edgekd_is_lean():
    assert _imported_after("import edgekd, edgekd.errors, edgekd.registry") == set()


def test_cli_module_is_lean():
    assert _imported_after("import edgekd.cli") == set()


def test_help_and_version_run(cli):
    res = cli("--help")
    assert res.returncode == 0 and "run" in res.stdout
    res = cli("--version")
    assert res.returncode == 0 and res.stdout.startswith("edgekd ")
