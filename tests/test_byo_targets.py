"""The bring-your-own path on every local runtime: a user's teacher and student (.py files)
on an image folder plus an unlabeled folder, compiled for cpu-onnxruntime, cpu-openvino and
mobile-executorch, profiled and reported; each bundle's predict.py classifies a PNG given on
its command line with the bundle's own preprocessing, and agrees with the artifact.

It is also the regression test for a crash that only a whole pipeline process showed: after
OpenVINO's int8 compile (NNCF), the next signal handled in Python killed the process with
SIGSEGV (edgekd/backends/sigstack.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import run_cli
from test_byo_end_to_end import pipeline, project

from edgekd.data.images import Preprocess, list_images
from edgekd.deploy import load_bundle

TARGETS = ["cpu-onnxruntime", "cpu-openvino", "mobile-executorch"]


def predict(bundle: Path, *inputs: Path) -> list[dict]:
    res = subprocess.run(
        [sys.executable, str(bundle / "predict.py"), *map(str, inputs), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


@pytest.mark.slow
def test_user_models_on_every_local_runtime(tmp_path):
    root = project(tmp_path / "user")
    teacher = {"model": "models/teacher.py:build_teacher", "options": {"width": 8}}
    path = pipeline(root, teacher | {"train": {"epochs": 3, "batch_size": 16}}, "byo")
    cfg = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(cfg | {"targets": TARGETS}, sort_keys=False))
    res = run_cli("run", path, "--out", root / "runs" / "byo", cwd=tmp_path, timeout=1500)
    assert res.returncode == 0, res.stderr  # -11 before the signal-stack fix
    run = root / "runs" / "byo"
    report = json.loads((run / "report.json").read_text())
    measured = {(r["target"], r["model"]) for r in report["rows"] if r["status"] == "ok"}
    assert {(t, "tiny") for t in TARGETS} <= measured

    images = list_images(root / "data" / "shapes" / "disc")[:3]
    prep = Preprocess(resize=16, crop=16, mean=[0.5] * 3, std=[0.25] * 3)
    x = np.stack([prep(p) for p in images])
    for target in TARGETS:
        bundle = run / "deploy" / target / "tiny-fp32"
        from_png = predict(bundle, *images)
        _, runner = load_bundle(bundle)  # the artifact itself, on edgekd's own preprocessing
        expected = np.asarray(runner(x)).argmax(1)
        assert [p["class"] for p in from_png] == expected.tolist(), target
        assert all(p["input"].endswith(".png") for p in from_png)
