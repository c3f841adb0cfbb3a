"""Every registered loss runs from a pipeline YAML: a cnn1d teacher -> cnn1d student, 1 epoch.

One run folder is shared by the module, so data and teacher stages are computed once and each
loss adds one distilled student (content-addressed stages make the reruns cheap).
"""

from __future__ import annotations

import json

import pytest
import torch

from edgekd.config.load import load_pipeline
from edgekd.distill.losses import LOSSES
from edgekd.engine import run_pipeline
from edgekd.models import build_model
from edgekd.progress import Reporter


def options_of(loss: str) -> dict:
    """The loss's first example: it names layers of the cnn1d student below (channels
    [4, 4]) and of the tiny pipeline's cnn1d teacher: features.0 -> (C, 20), features.1 ->
    (C, 10), pool -> (C, 1)."""
    return dict(LOSSES.get(loss).examples[0])


STUDENT = {"model": "cnn1d", "options": {"channels": [4, 4]}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("losses-run")


def pipeline_for(tiny: dict, loss: str) -> dict:
    cfg = tiny | {"name": "tiny-losses"}
    cfg["teacher"] = cfg["teacher"] | {"train": {"epochs": 1, "batch_size": 64, "lr": 0.01}}
    cfg["students"] = [
        STUDENT
        | {
            "name": f"s-{loss}",
            "baseline": False,
            "train": {"epochs": 1, "batch_size": 64, "lr": 0.01},
            "distill": {
                "ce_weight": 1.0,
                "losses": [{"name": loss, "weight": 1.0, "options": options_of(loss)}],
            },
        }
    ]
    return cfg


@pytest.mark.parametrize("loss", LOSSES.names())
def test_loss_runs_from_pipeline_yaml(loss, tiny_config, write_pipeline, run_dir):
    path = write_pipeline(pipeline_for(tiny_config, loss), f"{loss}.yaml")
    out = run_pipeline(load_pipeline(path), path, out=run_dir, reporter=Reporter(quiet=True))
    report = json.loads((out / "report.json").read_text())
    assert report["models"][f"s-{loss}"]["role"] == "distilled"
    assert report["models"][f"s-{loss}"]["method"] == loss
    rows = [r for r in report["rows"] if r["model"] == f"s-{loss}"]
    assert rows and all(r["status"] == "ok" and r["role"] == "distilled" for r in rows)
    # The exported student is the plain student: no adapter, embed head or memory bank.
    stage = next(p for p in (out / "stages").iterdir() if p.name.startswith(f"s-{loss}-"))
    saved = torch.load(stage / "model.pt", weights_only=True)
    fresh = build_model(STUDENT["model"], STUDENT["options"], (1, 40), 10).state_dict()
    assert list(saved) == list(fresh)
    assert all(saved[k].shape == fresh[k].shape for k in fresh)
    assert report["models"][f"s-{loss}"]["params"] == sum(
        v.numel() for k, v in fresh.items() if "running" not in k and "num_batches" not in k
    )


def test_losses_compose_in_one_student(tiny_config, write_pipeline, run_dir):
    """Response + feature + relation losses summed for one student; their taps are merged."""
    cfg = pipeline_for(tiny_config, "kd")
    losses = [
        {"name": "kd", "weight": 0.5},
        {"name": "at", "weight": 0.1, "options": options_of("at")},
        {"name": "fitnets", "weight": 0.1, "options": options_of("fitnets")},
        {"name": "crd", "weight": 0.8, "options": options_of("crd")},
    ]
    cfg["students"][0] |= {"name": "s-combo", "distill": {"ce_weight": 0.5, "losses": losses}}
    path = write_pipeline(cfg, "combo.yaml")
    out = run_pipeline(load_pipeline(path), path, out=run_dir, reporter=Reporter(quiet=True))
    report = json.loads((out / "report.json").read_text())
    assert report["models"]["s-combo"]["method"] == "kd+at+fitnets+crd"


def test_example_pipeline_validates():
    """pipelines/mnist1d_feature_kd.yaml parses and every loss option in it is valid."""
    from conftest import REPO

    cfg = load_pipeline(REPO / "pipelines" / "mnist1d_feature_kd.yaml")
    names = {loss.name for s in cfg.students for loss in s.distill.losses}
    assert {"kd", "at", "dkd", "fitnets", "crd"} <= names
