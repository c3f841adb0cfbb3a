"""One tiny pipeline run over every backend, shared by the backend tests (run once per session).

The teacher is a small 1-D CNN (static int8 path) and the student an MLP (dynamic int8 path).
"""

from __future__ import annotations

import copy
import functools
import tempfile
from pathlib import Path

import yaml
from conftest import TINY

from edgekd.backends import BACKENDS
from edgekd.config.load import load_target

# runtime -> the shipped target that measures it on this machine
LOCAL_TARGETS = {
    "onnxruntime": "cpu-onnxruntime",
    "openvino": "cpu-openvino",
    "executorch": "mobile-executorch",
    "ort-mobile": "mobile-ort",
}
DEVICE_TARGETS = ["jetson-orin-nano", "raspberry-pi-5"]


def available_locally() -> list[str]:
    return [
        t for r, t in LOCAL_TARGETS.items() if BACKENDS.get(r)(load_target(t)).status().runs_here
    ]


@functools.cache
def tiny_run() -> tuple[Path, dict]:
    """Run the tiny pipeline for every available local target plus the device targets;
    returns the run folder and its report as the JSON a user reads."""
    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline
    from edgekd.progress import Reporter
    from edgekd.report.load import load_report

    root = Path(tempfile.mkdtemp(prefix="edgekd-backends-"))
    cfg = copy.deepcopy(TINY)
    cfg["students"][0]["baseline"] = False
    cfg["targets"] = available_locally() + DEVICE_TARGETS
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run_dir = run_pipeline(load_pipeline(path), path, None, root / "run", Reporter(quiet=True))
    return run_dir, load_report(run_dir).to_json()  # read back through the typed Report


def rows(report: dict, **match) -> list[dict]:
    return [r for r in report["rows"] if all(r.get(k) == v for k, v in match.items())]
