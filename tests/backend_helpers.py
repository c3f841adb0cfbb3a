"""One tiny pipeline run over every backend, shared by the backend tests (run once per session).

The teacher is a small 1-D CNN (static int8 path) and the student an MLP (dynamic int8 path).
"""

from __future__ import annotations

import copy
import functools
import tempfile
from pathlib import Path
from typing import get_args

import yaml
from conftest import TINY

from edgekd.backends import BACKENDS
from edgekd.config.load import load_target
from edgekd.config.schema import Precision

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


def check_backend_contract(backend, onnx_path: Path, calib, out: Path, context=None) -> dict:
    """What every backend promises through the base class, whatever its runtime: a status
    with a reason, install text, versions, compile -> bundle files, load -> run, describe,
    a placement summary, a layer profile or None. Returns the compile info ({} if missing)."""
    import numpy as np
    import pytest

    from edgekd.errors import RuntimeMissingError
    from edgekd.records import BackendStatus, LayerProfile

    status = backend.status()
    assert isinstance(status.state, BackendStatus)
    assert status.runs_here or status.reason, "a backend that does not run here says why"
    assert backend.install_text().strip() and isinstance(backend.versions(), dict)
    assert backend.artifact and set(backend.precisions) <= set(get_args(Precision))
    script = backend.predict_script()
    assert script is None or script.is_file()
    if status.state is BackendStatus.MISSING:
        with pytest.raises(RuntimeMissingError):
            backend.load(out)
        return {}
    info = backend.compile(onnx_path, "fp32", calib, out, context)
    assert info["files"] and all((out / f).is_file() for f in info["files"])
    assert isinstance(backend.placement_summary(info, {}), str)
    if not status.runs_here:  # compiles for the device only
        with pytest.raises(RuntimeMissingError):
            backend.load(out)
        return info
    assert info.get("artifact", backend.artifact) in info["files"]
    runner = backend.load(out)
    y = np.asarray(runner(np.ascontiguousarray(calib[:3])))
    assert y.shape[0] == 3 and np.isfinite(y).all()
    placement = runner.describe()
    assert isinstance(placement, dict) and placement
    assert backend.placement_summary(info, placement).strip()
    layers = backend.layer_profile(out, np.ascontiguousarray(calib[:1]), 2)
    assert layers is None or (isinstance(layers, LayerProfile) and layers.top)
    return info
