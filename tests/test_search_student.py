"""Student search under a latency budget: the knobs of every zoo family and the user's
factory, the candidates they make (and the values a family refuses), then a tiny search end
to end: candidates timed before any training, trials on the validation split only, the
finalists distilled as the student is (the winner's stage reused), a rerun that searches
nothing, the report's section and plot, and a budget nobody meets (exit 2, before training).
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from conftest import TINY

from edgekd.errors import ConfigError
from edgekd.models import MODELS
from edgekd.search.sizing import candidates, default_widths, knobs


def _opts(model: str, **values):
    return MODELS.get(model).parse_options(values)


@pytest.mark.parametrize(
    "model, options, width, depth, per_layer, integer",
    [
        ("mlp", {"hidden": [64, 64]}, "hidden", None, True, True),
        ("cnn1d", {"channels": [8, 8, 8]}, "channels", None, True, True),
        ("resnet", {}, "width", "depth", False, True),
        ("wrn", {}, "widen_factor", "depth", False, True),
        ("vgg", {"depth": 8, "width": 4}, "width", "depth", False, True),
        ("mobilenetv2", {"width_mult": 0.5}, "width_mult", None, False, False),
    ],
)
def test_every_zoo_family_has_a_width_knob(model, options, width, depth, per_layer, integer):
    k = knobs(model, _opts(model, **options))
    assert (k.width, k.depth, k.per_layer, k.integer) == (width, depth, per_layer, integer)


def test_a_list_valued_width_gives_the_depth_as_its_length():
    k = knobs("mlp", _opts("mlp", hidden=[64, 64]))
    assert (k.own_width, k.own_depth) == (64, 2)
    found = candidates("mlp", _opts("mlp", hidden=[64, 64], dropout=0.1), k, [16, 32], [1, 3])
    assert [v for v, _ in found] == ["w16-d1", "w16-d3", "w32-d1", "w32-d3"]
    assert found[1][1].hidden == [16, 16, 16] and found[1][1].dropout == 0.1  # others kept
    assert default_widths(k) == [16, 32, 64, 128]


def test_a_depth_option_and_a_float_width():
    k = knobs("resnet", _opts("resnet", depth=20, width=16))
    found = candidates("resnet", _opts("resnet"), k, [8, 16], [8, 14])
    assert [(o.width, o.depth) for _, o in found] == [(8, 8), (8, 14), (16, 8), (16, 14)]
    m = knobs("mobilenetv2", _opts("mobilenetv2"))
    assert default_widths(m) == [0.25, 0.5, 1.0, 2.0]
    assert [v for v, _ in candidates("mobilenetv2", _opts("mobilenetv2"), m, [0.5], None)] == [
        "w0.5"
    ]


@pytest.mark.parametrize(
    "model, widths, depths, message",
    [
        ("resnet", [16], [21], "refuses the candidate width=16, depth=21"),
        ("mobilenetv2", [0.5], [2], "has no depth option"),
        ("mlp", [16.5], None, "not a whole number"),
        ("mlp", list(range(1, 17)), list(range(1, 6)), "at most 64"),
    ],
)
def test_values_a_family_cannot_take_fail_before_anything_runs(model, widths, depths, message):
    opts = _opts(model)
    with pytest.raises(ConfigError, match=message):
        candidates(model, opts, knobs(model, opts), widths, depths)


def test_the_no_depth_message_names_the_family_options():
    opts = _opts("mobilenetv2")
    with pytest.raises(ConfigError) as err:
        candidates("mobilenetv2", opts, knobs("mobilenetv2", opts), [1.0], [3])
    assert "width_mult, expansion, last_channels" in str(err.value)


def _user(tmp_path, params: str):
    from edgekd.config.coderef import CodeRef

    (tmp_path / "nets.py").write_text(
        f"import torch.nn as nn\n\ndef build(num_classes, {params}):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(40, num_classes))\n"
    )
    ref = f"{tmp_path / 'nets.py'}:build"
    return ref, MODELS.get("user").Options(factory=CodeRef.model_validate(ref), kwargs={})


def test_a_user_factory_is_sized_through_its_width_parameter(tmp_path):
    ref, opts = _user(tmp_path, "width=32, depth=2, dropout=0.0")
    k = knobs(ref, opts)
    assert (k.width, k.depth, k.own_width, k.own_depth) == ("width", "depth", 32, 2)
    found = candidates(ref, opts, k, [8], [1])
    assert found[0][1].kwargs == {"width": 8, "depth": 1}


def test_a_user_factory_without_a_width_names_its_options(tmp_path):
    ref, opts = _user(tmp_path, "units=4, layers=2")
    with pytest.raises(ConfigError, match="no width option") as err:
        knobs(ref, opts)
    assert "its options are units, layers" in str(err.value)


# ---------------------------------------------------------------- a tiny search, end to end


def _pipeline(tmp_path, **search) -> object:
    cfg = copy.deepcopy(TINY)
    cfg["students"][0]["baseline"] = False
    section = {"student": "mlp-t", "target": "cpu-onnxruntime", "budget_ms": 1000.0}
    section |= {"widths": [8, 24], "depths": [1], "short_epochs": 1, "finalists": 2} | search
    cfg["search_students"] = section
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(pipeline, out, monkeypatch=None):
    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline
    from edgekd.progress import Reporter

    lines: list[str] = []
    reporter = Reporter(quiet=False)
    reporter.line = lines.append
    run_pipeline(load_pipeline(pipeline), pipeline, out=out, reporter=reporter)
    return lines


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    from edgekd.search import trial

    tmp = tmp_path_factory.mktemp("search")
    real = trial.run_trial

    def validation_only_trial(spec, teachers, splits, *args):
        assert splits.y["test"] is splits.y["val"], "a trial could read the test split"
        return real(spec, teachers, splits, *args)

    trial.run_trial = validation_only_trial
    try:
        lines = _run(_pipeline(tmp), tmp / "run")
    finally:
        trial.run_trial = real
    return tmp, lines


def test_candidates_are_timed_before_any_training_and_the_winner_becomes_the_student(searched):
    tmp, lines = searched
    done = [x.split()[1] for x in lines if x.startswith("[done]")]
    assert done.index("mlp-t-probe-w24-d1") < done.index("teacher")
    report = json.loads((tmp / "run" / "report.json").read_text())
    s = report["student_search"]
    assert [c["variant"] for c in s["candidates"]] == ["w8-d1", "w24-d1"]
    assert all(c["in_budget"] and c["latency_source"] == "measured-local" for c in s["candidates"])
    assert all(0 <= c["short_val_acc"] <= 1 and c["finalist"] for c in s["candidates"])
    (picked,) = [c for c in s["candidates"] if c["picked"]]
    others = [c for c in s["candidates"] if not c["picked"]]
    assert all(picked["val_acc"] >= c["val_acc"] for c in others)  # chosen on validation
    assert report["models"]["mlp-t"]["options"]["hidden"] == picked["options"]["hidden"]
    assert report["models"]["mlp-t"]["acc_test"] == picked["test_acc"]
    assert s["short_schedule"] == "1 epoch" and s["width_option"] == "hidden"


def test_the_winner_is_the_finalists_own_stage_not_trained_again(searched):
    tmp, lines = searched
    stages = [p.name for p in (tmp / "run" / "stages").iterdir()]
    distilled = [n for n in stages if n.rsplit("-", 1)[0] == "mlp-t"]
    assert len(distilled) == 2  # one per finalist; the student's stage is the winner's
    assert "[cached] mlp-t" in lines
    trial = next((tmp / "run" / "stages").glob("mlp-t-trial-w8-d1-*"))
    info = json.loads((trial / "stage.json").read_text())["info"]
    assert set(info) == {"val_acc", "val_samples", "epochs"} and info["epochs"] == 1


def test_the_report_shows_the_search_with_its_plot(searched):
    tmp, _ = searched
    md = (tmp / "run" / "report.md").read_text()
    assert "## Student search: mlp-t on cpu-onnxruntime" in md and "(picked)**" in md
    html = (tmp / "run" / "report.html").read_text()
    assert 'id="student-search"' in html and 'id="search-picked"' in html
    assert 'id="search-trials"' in html


def test_a_rerun_does_not_search_again(searched):
    tmp, _ = searched
    lines = _run(tmp / "p.yaml", tmp / "run")
    assert not [x for x in lines if x.startswith("[done]")], lines


def test_a_budget_nobody_meets_stops_before_training(tmp_path, cli):
    res = cli(
        "search", _pipeline(tmp_path), "--target", "cpu-onnxruntime", "--budget-ms", "0.000001",
        "--out", tmp_path / "run", "-q",
    )  # fmt: skip
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "no candidate of student 'mlp-t' (mlp) meets the 1e-06 ms budget" in res.stderr
    assert "the fastest, w" in res.stderr and "ms (measured-local)" in res.stderr
    assert not list((tmp_path / "run" / "stages").glob("teacher-*"))  # no training started


def test_a_device_that_is_not_attached_is_estimated_and_says_so(tmp_path, cli):
    res = cli(
        "search", _pipeline(tmp_path), "--target", "jetson-orin-nano", "--budget-ms",
        "0.000001", "--out", tmp_path / "run", "-q",
    )  # fmt: skip
    assert res.returncode == 2 and "ms (estimated)" in res.stderr, res.stderr
