"""A new user's path, end to end through the CLI: a teacher and a student defined in the
user's own .py files, images in class folders plus an unlabeled folder, compiled for
cpu-onnxruntime, profiled and reported; then the teacher loaded from a checkpoint instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

from edgekd.data.sets.image_folder import write_examples

TEACHER = """
import torch.nn as nn


class SmallCNN(nn.Module):
    def __init__(self, num_classes, width=8):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def build_teacher(num_classes, width=8):
    return SmallCNN(num_classes, width)
"""

STUDENT = """
import torch.nn as nn


def tiny(num_classes, input_shape, hidden=16):
    c, h, w = input_shape
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))
"""

TRAIN = {"epochs": 3, "batch_size": 16, "lr": 0.01}
PROFILE = {"tier": "quick", "warmup": 2, "min_queries": 20, "throughput_batch": 4}


def project(root: Path) -> Path:
    """The user's folder: models/, data/ (3 classes of 16x16 shapes), unlabeled/."""
    (root / "models").mkdir(parents=True)
    (root / "models" / "teacher.py").write_text(TEACHER)
    (root / "models" / "student.py").write_text(STUDENT)
    write_examples(root / "data" / "shapes", 12, 16)
    write_examples(root / "data" / "more", 4, 16, seed=1)  # unlabeled: class folders ignored
    return root


def pipeline(root: Path, teacher: dict, name: str) -> Path:
    cfg = {
        "name": name,
        "seed": 0,
        "device": "auto",
        "data": {
            "dataset": "image-folder",
            "options": {
                "path": "data/shapes",
                "resize": 16,
                "crop": 16,
                "mean": [0.5, 0.5, 0.5],
                "std": [0.25, 0.25, 0.25],
                "test_fraction": 0.25,
            },
            "calib_size": 8,
            "transfer": {"folder": "data/more"},
        },
        "teacher": teacher,
        "students": [
            {
                "name": "tiny",
                "model": "models/student.py:tiny",
                "options": {"hidden": 16},
                "train": TRAIN,
                "distill": {"ce_weight": 0.5, "losses": [{"name": "kd", "weight": 0.5}]},
            }
        ],
        "targets": ["cpu-onnxruntime"],
        "profile": PROFILE,
    }
    path = root / f"{name}.yaml"  # paths in it are relative to its folder
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def stage(run: Path, label: str) -> dict:
    (record,) = [
        json.loads(p.read_text())
        for p in run.glob("stages/*/stage.json")
        if json.loads(p.read_text())["label"] == label
    ]
    return record


@pytest.mark.slow
def test_user_models_on_an_image_folder_with_a_transfer_set(tmp_path):
    root = project(tmp_path / "user")
    teacher = {"model": "models/teacher.py:build_teacher", "options": {"width": 8}, "train": TRAIN}
    path = pipeline(root, teacher, "byo")
    res = run_cli("run", path, "--out", root / "runs" / "byo", cwd=tmp_path, timeout=900)
    assert res.returncode == 0, res.stderr
    run = root / "runs" / "byo"
    report = json.loads((run / "report.json").read_text())
    models = {r["model"] for r in report["rows"]}
    assert {"teacher", "tiny", "tiny-scratch"} <= models
    assert all(r["target"] == "cpu-onnxruntime" for r in report["rows"])
    data = stage(run, "data")["info"]
    assert data["input_shape"] == [3, 16, 16] and data["labels"] == ["bar", "disc", "square"]
    prep = data["preprocessing"]
    assert prep["mean"] == [0.5] * 3 and prep["layout"] == "NCHW" and prep["crop"] == [16, 16]
    distilled = stage(run, "tiny")
    assert distilled["info"]["transfer_samples"] == 12  # 3 classes x 4 unlabeled images
    assert "transfer" in distilled["inputs"]
    assert "transfer" not in stage(run, "teacher")["inputs"]
    code = json.loads(next(run.glob("stages/teacher-*/model-code.json")).read_text())
    assert code[0][0].endswith("teacher.py")
    bundles = list((run / "deploy" / "cpu-onnxruntime").iterdir())
    assert bundles and all((b / "manifest.json").is_file() for b in bundles)
    manifest = json.loads((bundles[0] / "manifest.json").read_text())
    assert manifest["preprocessing"]["std"] == [0.25] * 3

    # the same teacher, loaded from a checkpoint of its trained weights
    weights = next(run.glob("stages/teacher-*/model.pt"))
    (root / "teacher.pt").write_bytes(weights.read_bytes())
    teacher = {"model": "models/teacher.py:build_teacher", "options": {"width": 8}}
    path = pipeline(root, teacher | {"checkpoint": "teacher.pt"}, "byo-ckpt")
    res = run_cli("run", path, "--out", root / "runs" / "ckpt", cwd=tmp_path, timeout=900)
    assert res.returncode == 0, res.stderr
    loaded = stage(root / "runs" / "ckpt", "teacher")["info"]
    assert loaded["method"] == "checkpoint"
    assert loaded["acc_test"] == stage(run, "teacher")["info"]["acc_test"]
