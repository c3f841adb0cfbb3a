"""Recipe search: points and the recipes they stand for, trials scored on the validation
split only (a test split that raises on any access is never touched), the trial cap and
the time budget, resume by replay, optuna's seeded TPE, and the cached stage that a rerun
reuses while the student is distilled with the winner."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from conftest import TINY

from edgekd.config.schema import SearchConfig, StudentConfig
from edgekd.progress import Reporter
from edgekd.search.space import candidate, grid

STUDENT = {
    "name": "s",
    "model": "mlp",
    "options": {"hidden": [16]},
    "train": {"epochs": 2, "batch_size": 64, "lr": 0.01},
    "distill": {
        "ce_weight": 0.5,
        "losses": [
            {"name": "kd", "weight": 0.9, "options": {"temperature": 4.0}},
            {"name": "dist", "weight": 0.3},
        ],
    },
}


def student(space: dict, **search) -> StudentConfig:
    from edgekd.config.checks import _resolve_student

    spec = copy.deepcopy(STUDENT) | {"search": {"space": space, **search}}
    return _resolve_student(StudentConfig.model_validate(spec), "students[0]", "test")


def test_grid_lists_every_combination_in_a_fixed_order():
    s = student({"ce_weight": [0, 1], "temperature": [1, 4], "loss": ["kd"]}, trials=2)
    assert grid(s.search.space) == [
        {"loss": "kd", "temperature": t, "ce_weight": c} for t in (1.0, 4.0) for c in (0.0, 1.0)
    ]


def test_a_point_changes_the_first_loss_and_nothing_else():
    s = student({"temperature": [2]}, trials=1)
    d = candidate(s.distill, {"temperature": 2.0, "weight": 0.5, "ce_weight": 0.0})
    assert d.ce_weight == 0.0 and d.losses[0].weight == 0.5
    assert d.losses[0].options.temperature == 2.0 and d.losses[1] == s.distill.losses[1]
    dist = candidate(s.distill, {"loss": "dist", "temperature": 2.0})
    assert dist.losses[0].name == "dist" and dist.losses[0].options.tau == 2.0  # its own name
    assert dist.losses[0].options.beta == 1.0  # the new loss's defaults, not kd's options
    assert candidate(s.distill, {}) == s.distill


def test_a_search_needs_a_bound_and_something_to_search():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="trials"):
        SearchConfig.model_validate({"space": {"temperature": [1]}})
    with pytest.raises(ValidationError, match="at least one"):
        SearchConfig.model_validate({"space": {}, "trials": 3})


class Untouchable:
    """Stands in for the test split: any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the test split was read during the search ({name})")

    def __len__(self):
        raise AssertionError("the test split was read during the search (len)")

    def __getitem__(self, _):
        raise AssertionError("the test split was read during the search (rows)")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Tiny mnist1d splits with the test split made untouchable, and a 1-epoch teacher."""
    from dataclasses import replace

    from pluginlib import _teacher

    from edgekd.data import DATASETS, make_splits

    root = tmp_path_factory.mktemp("search")
    plugin = DATASETS.get("mnist1d")
    raw = plugin.load(plugin.parse_options(TINY["data"]["options"]))
    splits = make_splits(raw, 0.1, 64, 0)
    teacher = _teacher(splits, root / "t", 0)
    sealed = replace(
        splits,
        x={**splits.x, "test": Untouchable()},
        y={**splits.y, "test": Untouchable()},
    )
    return sealed, teacher


def search(setup, folder, s: StudentConfig, sampler: str = "grid") -> dict:
    from edgekd.search.recipe import run_search

    splits, teacher = setup
    folder.mkdir(exist_ok=True)
    return run_search(s, [teacher], splits, 0, folder, "s-search", Reporter(True), sampler=sampler)


def test_the_search_never_reads_the_test_split(setup, tmp_path):
    from edgekd.stages.train import run_distill

    s = student({"temperature": [1, 4], "ce_weight": [0, 0.5]}, trials=3, fraction=0.5)
    info = search(setup, tmp_path / "a", s)
    assert info["trials"] == 3 and info["grid_size"] == 4 and info["stopped_by"] == "trials"
    table = json.loads((tmp_path / "a" / "trials.json").read_text())
    assert len(table["rows"]) == 3 and table["winner"] == info["winner"]
    assert max(r["val_acc"] for r in table["rows"]) == info["winner"]["val_acc"]
    assert "val_acc" in (tmp_path / "a" / "trials.md").read_text()
    assert not [p for p in (tmp_path / "a").iterdir() if p.is_dir()]  # trial folders gone
    with pytest.raises(AssertionError, match="test split"):  # control: a plain stage reads it
        run_distill(s, [setup[1]], setup[0], 0, tmp_path, "s", Reporter(True))


def test_the_budget_stops_the_search_after_the_first_trial(setup, tmp_path):
    s = student({"temperature": [1, 2, 4]}, budget_s=1e-6, fraction=0.5)
    info = search(setup, tmp_path / "b", s)
    assert info["trials"] == 1 and info["stopped_by"] == "budget"


def test_a_resumed_search_replays_the_trials_it_ran(setup, tmp_path, monkeypatch):
    import edgekd.search.recipe as recipe

    s = student({"temperature": [1, 4], "weight": [0.5, 1.0]}, trials=3, fraction=0.5)
    whole = search(setup, tmp_path / "whole", s)
    rows = json.loads((tmp_path / "whole" / "trials.json").read_text())["rows"]
    (tmp_path / "resumed").mkdir()
    (tmp_path / "resumed" / "resume-trials.json").write_text(json.dumps(rows[:2]))
    calls, real = [], recipe.run_trial
    monkeypatch.setattr(recipe, "run_trial", lambda *a: calls.append(a[4].name) or real(*a))
    resumed = search(setup, tmp_path / "resumed", s)
    assert calls == ["resume-trial-2"]  # trials 0 and 1 came from the saved table
    again = json.loads((tmp_path / "resumed" / "trials.json").read_text())["rows"]
    assert [(r["point"], r["val_acc"]) for r in again] == [(r["point"], r["val_acc"]) for r in rows]
    assert resumed["winner"]["point"] == whole["winner"]["point"]


def test_tpe_is_seeded(setup, tmp_path):
    pytest.importorskip("optuna")
    s = student({"temperature": [1, 2, 4, 8], "ce_weight": [0, 0.5]}, trials=3, fraction=0.5)
    one = search(setup, tmp_path / "one", s, sampler="tpe")
    two = search(setup, tmp_path / "two", s, sampler="tpe")
    rows = [json.loads((tmp_path / d / "trials.json").read_text())["rows"] for d in ("one", "two")]
    assert [r["point"] for r in rows[0]] == [r["point"] for r in rows[1]]
    assert one["winner"] == {**two["winner"], "seconds": one["winner"]["seconds"]}
    assert one["sampler"] == "tpe"


def test_auto_uses_the_grid_without_optuna(monkeypatch):
    import edgekd.config.training as training
    from edgekd.search.recipe import resolve_sampler

    monkeypatch.setattr(training, "optuna_installed", lambda: False)
    assert resolve_sampler("auto") == "grid" and resolve_sampler("tpe") == "tpe"
    monkeypatch.setattr(training, "optuna_installed", lambda: True)
    assert resolve_sampler("auto") == "tpe"


def test_a_pipeline_searches_once_and_distils_the_winner(tmp_path, monkeypatch):
    """The search is a cached stage (a rerun reuses it); the distilled student's key holds
    the winning recipe; every function the search stage runs is covered by its key."""
    from test_cache_keys import _trace_stage_calls

    from edgekd import codegraph
    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline
    from edgekd.store import stage_code_roots

    cfg = copy.deepcopy(TINY) | {"targets": []}
    cfg["students"][0]["search"] = {
        "space": {"temperature": [1, 4], "loss": ["kd", "dkd"]},
        "trials": 2,
        "fraction": 0.5,
        "sampler": "grid",
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    calls = _trace_stage_calls(monkeypatch)
    run_pipeline(load_pipeline(path), path, out=tmp_path / "run", reporter=Reporter(True))
    covered = {
        codegraph.module_file(m).relative_to(codegraph.ROOT).as_posix()
        for m in codegraph.closure(stage_code_roots("search"))
    }
    assert calls["search"] and not [f for f in calls["search"] if f.split(":")[0] not in covered]
    stages = tmp_path / "run" / "stages"
    found = list(stages.glob("mlp-t-search-*"))
    assert len(found) == 1 and (found[0] / "trials.md").is_file()
    winner = json.loads((found[0] / "stage.json").read_text())["info"]["winner"]
    distilled = next(
        json.loads(p.read_text())
        for p in stages.glob("*/stage.json")
        if json.loads(p.read_text())["kind"] == "distill"
    )
    loss = distilled["config"]["spec"]["distill"]["losses"][0]
    assert loss["name"] == winner["point"]["loss"]
    assert loss["options"]["temperature"] == winner["point"]["temperature"]
    assert distilled["config"]["spec"]["search"] is None
    before = {p.name for p in stages.iterdir()}
    marks = []
    reporter = Reporter(True)
    reporter.line = marks.append
    run_pipeline(load_pipeline(path), path, out=tmp_path / "run", reporter=reporter)
    assert {p.name for p in stages.iterdir()} == before
    assert "[cached] mlp-t-search" in marks and not [m for m in marks if "trial" in m]


def test_a_diverged_trial_is_booked_as_failed_and_the_search_goes_on(setup, tmp_path, monkeypatch):
    import edgekd.search.recipe as recipe
    from edgekd.errors import TrainingError

    def run_trial(spec, *args):
        if spec.distill.losses[0].options.temperature == 8.0:
            raise TrainingError("s: the loss became nan at epoch 1.")
        return 0.5

    monkeypatch.setattr(recipe, "run_trial", run_trial)
    s = student({"temperature": [8, 1]}, trials=2, sampler="grid")
    info = search(setup, tmp_path / "c", s)
    rows = json.loads((tmp_path / "c" / "trials.json").read_text())["rows"]
    assert {r["point"]["temperature"]: "failed" in r for r in rows} == {8.0: True, 1.0: False}
    assert info["winner"]["point"] == {"temperature": 1.0}
    assert "failed" in (tmp_path / "c" / "trials.md").read_text()
    with pytest.raises(TrainingError, match="every trial failed"):
        search(setup, tmp_path / "d", student({"temperature": [8]}, trials=1))
