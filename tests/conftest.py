"""Shared fixtures: a tiny pipeline that runs end to end in seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

# Under pytest-xdist (README: `-n auto`, one worker per core) each worker, and every process it
# starts, trains on one thread: N workers then fill N cores instead of fighting over them
# (OpenMP threads that outnumber the cores spin and make training several times slower). Set
# before any test module imports torch.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

TINY = {
    "name": "tiny",
    "seed": 0,
    "data": {
        "dataset": "mnist1d",
        "options": {"num_samples": 600},
        "val_fraction": 0.1,
        "calib_size": 64,
    },
    "teacher": {
        "model": "cnn1d",
        "options": {"channels": [16, 16]},
        "train": {"epochs": 2, "batch_size": 64, "lr": 0.01},
    },
    "students": [
        {
            "name": "mlp-t",
            "model": "mlp",
            "options": {"hidden": [16]},
            "train": {"epochs": 2, "batch_size": 64, "lr": 0.01},
            "distill": {
                "ce_weight": 0.1,
                "losses": [{"name": "kd", "weight": 0.9, "options": {"temperature": 4.0}}],
            },
        }
    ],
    "targets": ["cpu-onnxruntime"],
    "profile": {
        "tier": "quick",
        "warmup": 2,
        "min_queries": 20,
        "min_time_s": 0.0,
        "throughput_batch": 8,
        "throughput_time_s": 0.05,
    },
}


@pytest.fixture
def tiny_config() -> dict:
    """A fresh copy of the tiny pipeline as a dict, to modify per test."""
    import copy

    return copy.deepcopy(TINY)


@pytest.fixture
def write_pipeline(tmp_path):
    """Write a pipeline dict to tmp_path/<name>.yaml and return its path."""

    def write(cfg: dict, name: str = "pipeline.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    return write


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 600):
    """Run `python -m edgekd ARGS` in a subprocess, as a user would from the repo root."""
    return subprocess.run(
        [sys.executable, "-m", "edgekd", *map(str, args)],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
