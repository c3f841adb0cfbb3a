"""A bundle runs where only its requirements.txt is installed (issue 16, point 5).

The ONNX Runtime bundle of a real run is copied to a folder of its own, a fresh virtual
environment gets `pip install -r requirements.txt` from the package index and nothing else
(no edgekd, no torch), and predict.py checks the bundle, classifies, and reproduces the
accuracy the report measured. It needs the package index (as CI has), so it is slow, never
skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv

import numpy as np
import pytest
from backend_helpers import rows, tiny_run


def clean_env() -> dict[str, str]:
    """No PYTHONPATH or user site: the venv's own packages, and nothing of this checkout."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith(("HTTP", "http"))}
    return env | {"PYTHONNOUSERSITE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.mark.slow
def test_the_onnxruntime_bundle_runs_with_only_its_requirements(tmp_path):
    run_dir, report = tiny_run()
    row = rows(report, target="cpu-onnxruntime", model="mlp-t", precision="int8")[0]
    bundle = tmp_path / "bundle"
    shutil.copytree(run_dir / row["bundle"], bundle)
    x = np.load(next((run_dir / "stages").glob("data-*")) / "data.npz")
    np.save(tmp_path / "x.npy", x["x_test"])
    np.save(tmp_path / "y.npy", x["y_test"])

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    pip = subprocess.run(
        [python, "-m", "pip", "install", "-q", "-r", str(bundle / "requirements.txt")],
        capture_output=True, text=True, timeout=900, env=clean_env(),
    )  # fmt: skip
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-2000:]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [python, "-I", str(bundle / "predict.py"), *args],
            capture_output=True, text=True, timeout=300, env=clean_env(), cwd=tmp_path,
        )  # fmt: skip

    alone = subprocess.run(
        [python, "-I", "-c", "import edgekd"], capture_output=True, env=clean_env(), cwd=tmp_path
    )
    assert alone.returncode != 0, "edgekd must not be importable in the clean environment"
    assert run("--check").stdout.startswith("verified")
    top = run(str(tmp_path / "x.npy"), "--top-k", "3")
    assert top.returncode == 0, top.stderr
    assert len(top.stdout.splitlines()) == len(x["y_test"])
    acc = run(str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"))
    assert acc.returncode == 0, acc.stderr
    assert json.loads(acc.stdout)["accuracy"] == pytest.approx(row["acc_artifact"], abs=0.005)
