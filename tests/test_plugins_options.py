"""Plugin options are parsed once, at config load, into each plugin's own `Options`, and
cache keys hash their full normalised values: a default left out and one written in give
the same stage key."""

from __future__ import annotations

import copy

import pytest

from edgekd.config.load import load_pipeline
from edgekd.data import DATASETS
from edgekd.distill.losses import LOSSES
from edgekd.distill.schemes import SCHEMES
from edgekd.models import MODELS
from edgekd.store import StageStore


def test_loaded_config_carries_typed_options(tiny_config, write_pipeline):
    cfg = load_pipeline(write_pipeline(tiny_config))
    assert isinstance(cfg.data.options, DATASETS.get(cfg.data.dataset).Options)
    for spec in [cfg.teacher, *cfg.students]:
        assert isinstance(spec.options, MODELS.get(spec.model).Options)
    distill = cfg.students[0].distill
    assert isinstance(distill.options, SCHEMES.get(distill.scheme).Options)
    for loss in distill.losses:
        assert isinstance(loss.options, LOSSES.get(loss.name).Options)
    assert cfg.students[0].options.dropout == 0.0  # defaults filled in once, here


def with_explicit_defaults(cfg: dict) -> dict:
    """The same pipeline with default option values written in."""
    cfg = copy.deepcopy(cfg)
    cfg["data"]["options"] |= {"seed": 42, "train_split": 0.8}
    cfg["teacher"]["options"] |= {"kernel_size": 5, "stride": 2, "batchnorm": True}
    student = cfg["students"][0]
    student["options"] |= {"dropout": 0.0}
    student["distill"]["options"] = {}
    student["distill"]["losses"][0]["options"] = {"temperature": 4.0}
    return cfg


def keys(cfg, run_dir) -> dict[str, str]:
    """Stage keys over each resolved section of the config, and over all of it."""
    store = StageStore(run_dir)
    sections = {
        "data": {"data": cfg.data, "seed": cfg.seed},
        "teacher": {"spec": cfg.teacher, "seed": cfg.seed},
        "distill": {"spec": cfg.students[0], "seed": cfg.seed},
        "pipeline": cfg,
    }
    return {k: store.key(k, v, {}) for k, v in sections.items()}


def test_explicit_defaults_give_the_same_stage_keys(tiny_config, write_pipeline, tmp_path):
    tiny_config["students"][0]["distill"]["losses"][0]["options"] = {}  # temperature left out
    implicit = load_pipeline(write_pipeline(tiny_config, "implicit.yaml"))
    explicit = load_pipeline(write_pipeline(with_explicit_defaults(tiny_config), "explicit.yaml"))
    assert keys(implicit, tmp_path) == keys(explicit, tmp_path)


@pytest.mark.parametrize(
    "path,value",
    [
        (("data", "options", "seed"), 7),
        (("teacher", "options", "kernel_size"), 3),
        (("students", 0, "options", "dropout"), 0.1),
        (("students", 0, "distill", "losses", 0, "options", "temperature"), 2.0),
    ],
)
def test_a_changed_option_changes_the_key(tiny_config, write_pipeline, tmp_path, path, value):
    base = keys(load_pipeline(write_pipeline(tiny_config, "a.yaml")), tmp_path)
    node = tiny_config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    changed = keys(load_pipeline(write_pipeline(tiny_config, "b.yaml")), tmp_path)
    assert changed["pipeline"] != base["pipeline"]
    assert changed != base


def test_peer_model_options_are_typed_too(tiny_config, write_pipeline):
    """DML's extra peers name models; their options are parsed into the family's Options."""
    del tiny_config["teacher"]
    tiny_config["students"][0]["distill"] |= {
        "scheme": "dml",
        "options": {"models": [{"model": "cnn1d", "options": {"channels": [4]}}]},
    }
    cfg = load_pipeline(write_pipeline(tiny_config))
    (peer,) = cfg.students[0].distill.options.models
    assert isinstance(peer.options, MODELS.get("cnn1d").Options)
    assert peer.options.kernel_size == 5


def test_stage_record_keeps_the_full_options(tiny_config, write_pipeline):
    from edgekd.hashing import to_jsonable

    cfg = load_pipeline(write_pipeline(tiny_config))
    dumped = to_jsonable({"spec": cfg.students[0]})["spec"]
    assert dumped["options"] == {"hidden": [16], "dropout": 0.0}
    assert dumped["distill"]["losses"][0]["options"] == {"temperature": 4.0}
