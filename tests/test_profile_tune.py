"""Tuned settings that ship (issue 14, point 1): each backend declares the settings worth
trying, threads never above the CPUs this process may use; the tuner screens them and keeps
the fastest; the bundle's manifest records the winner and predict.py loads with it.

No timing thresholds: which candidate wins is decided by a fake timing table or left to
the machine; the tests check what was tried, what was recorded and what was applied."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from test_bundle_predict import bundle_for, predict

from edgekd.backends import BACKENDS
from edgekd.backends.base import Backend, thread_ladder, unique
from edgekd.config.schema import ProfileConfig, TargetConfig, TuneConfig
from edgekd.deploy import bundle_settings, tuned_record
from edgekd.profile import tune as tune_mod
from edgekd.profile.isolate import tuned_spec
from edgekd.profile.protocol import make_spec
from edgekd.records import RuntimeSettings

TUNABLE = ("onnxruntime", "openvino", "executorch", "ort-mobile")
FAST = ProfileConfig(
    tier="quick", warmup=1, min_queries=5, min_time_s=0.0, rounds=2,
    tune=TuneConfig(budget_s=0.05, rounds=2),
)  # fmt: skip


def cpus() -> int:
    return len(os.sched_getaffinity(0))


@pytest.mark.parametrize("ceiling", [1, 2, 3, 4, 5, 8, 12, 16, 64])
def test_the_thread_ladder_ends_at_the_ceiling_and_never_passes_it(ceiling):
    ladder = thread_ladder(ceiling)
    assert ladder[0] == 1 and ladder[-1] == ceiling and ladder == sorted(set(ladder))
    assert len(ladder) <= max(4, ceiling.bit_length() + 1)


@pytest.mark.parametrize("runtime", TUNABLE)
@pytest.mark.parametrize("asked", [None, 1, 4, 256])
def test_no_candidate_asks_for_more_threads_than_this_process_may_use(runtime, asked):
    backend = BACKENDS.get(runtime)(TargetConfig(name="t", runtime=runtime, threads=asked))
    for precision in backend.precisions:
        space = backend.tuning_space(precision)
        assert space[0] == backend.default_settings(), "the target's own settings come first"
        assert len(space) == len(unique(space))
        assert all(1 <= s.threads <= min(asked or cpus(), cpus()) for s in space)
        for s in space:  # every candidate is a valid set of the backend's options
            backend.with_settings(s)


@pytest.mark.parametrize("runtime", TUNABLE)
def test_on_one_cpu_only_one_thread_is_tried(runtime, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    backend = BACKENDS.get(runtime)(TargetConfig(name="t", runtime=runtime, threads=4))
    assert {s.threads for s in backend.tuning_space("fp32")} == {1}


def test_the_runtimes_tune_what_matters():
    def tried(runtime) -> dict[str, set]:
        b = BACKENDS.get(runtime)(TargetConfig(name="t", runtime=runtime))
        space = b.tuning_space("fp32")
        return {k: {s.options.get(k) for s in space} for s in space for k in s.options}

    ort = tried("onnxruntime")
    assert {"all", "extended"} <= ort["graph_optimization_level"]
    if cpus() > 1:  # spinning only matters for a pool of two threads or more
        assert ort["allow_spinning"] == {True, False}
    assert tried("openvino")["performance_hint"] == {"LATENCY", "THROUGHPUT"}


def test_a_backend_without_a_space_is_not_tuned():
    class Plain(Backend):
        pass

    b = Plain(TargetConfig(name="t", runtime="onnxruntime", threads=2))
    assert b.tuning_space("fp32") == [b.default_settings()]
    assert b.default_settings().threads == min(2, cpus())


def test_with_settings_replaces_threads_and_checks_options():
    from pydantic import ValidationError

    b = BACKENDS.get("onnxruntime")(TargetConfig(name="t", runtime="onnxruntime", threads=4))
    tuned = b.with_settings(RuntimeSettings(threads=1, options={"allow_spinning": False}))
    assert tuned.target.threads == 1 and tuned.options.allow_spinning is False
    assert b.target.threads == 4, "the original backend is left alone"
    with pytest.raises(ValidationError):
        b.with_settings(RuntimeSettings(threads=1, options={"no_such_option": 1}))


def test_the_fastest_median_wins_and_ties_go_to_the_target_settings():
    assert tune_mod.choose([[3.0, 3.0, 3.0], [1.0, 9.0, 1.0], [2.0, 2.0, 2.0]]) == 1
    assert tune_mod.choose([[1.0, 1.0], [1.0, 1.0]]) == 0


# ---------------------------------------------------------------- the tuner on a real model
@pytest.fixture(scope="module")
def mlp_onnx(tmp_path_factory):
    import torch

    folder = tmp_path_factory.mktemp("mlp")
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    torch.onnx.export(
        model.eval(), torch.zeros(1, 16), str(folder / "model.onnx"),
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "n"}}, dynamo=False,
    )  # fmt: skip
    return folder


def ort_spec(folder, threads=None, cfg=FAST):
    target = TargetConfig(name="cpu-onnxruntime", runtime="onnxruntime", threads=threads)
    return make_spec(folder, "model.onnx", target, cfg, [16])


def test_the_tuner_screens_every_candidate_and_records_the_winner(mlp_onnx):
    spec = ort_spec(mlp_onnx, threads=64)
    res = tune_mod.tune(spec, BACKENDS.get("onnxruntime")(spec.target))
    space = BACKENDS.get("onnxruntime")(spec.target).tuning_space("fp32")
    tried = [c["settings"] for c in res["candidates"]]
    assert tried == [s.model_dump(mode="json") for s in space]
    assert res["tuned_settings"] in tried
    assert all(len(c["round_p90_ms"]) == FAST.tune.rounds for c in res["candidates"])
    assert res["threads"] == {"asked": 64, "cpus": cpus(), "max_tried": cpus()}


def test_the_tuner_keeps_what_its_timings_say(mlp_onnx, monkeypatch):
    """With a scripted timing table the winner is the candidate with the lowest median."""
    spec = ort_spec(mlp_onnx)
    n = len(BACKENDS.get("onnxruntime")(spec.target).tuning_space("fp32"))
    table = [[5.0, 5.0]] * n
    table[-1] = [1.0, 1.0]
    monkeypatch.setattr(tune_mod, "screen", lambda cands, budget, rounds: table)
    res = tune_mod.tune(spec, BACKENDS.get("onnxruntime")(spec.target))
    assert res["tuned_settings"] == res["candidates"][-1]["settings"]


def test_a_process_wide_pool_is_never_shared_by_two_loaded_candidates(mlp_onnx):
    """ExecuTorch's XNNPACK pool is one per process: resizing it under a live runner crashes
    the process, so its candidates are loaded only while they are measured."""
    base = BACKENDS.get("onnxruntime")
    live: list[int] = []
    most = [0]

    class Runner:
        def __init__(self, inner):
            self.inner = inner
            live.append(1)
            most[0] = max(most[0], len(live))

        def __call__(self, x):
            return self.inner(x)

        def __del__(self):
            live.pop()

    class OnePool(base):
        process_thread_pool = True

        def load(self, artifact_dir):
            return Runner(super().load(artifact_dir))

    spec = ort_spec(mlp_onnx)
    res = tune_mod.tune(spec, OnePool(spec.target))
    assert len(res["candidates"]) > 1 and most[0] == 1


def test_tuning_is_skipped_where_settings_are_given(mlp_onnx):
    spec = ort_spec(mlp_onnx)
    given = spec.model_copy(update={"settings": RuntimeSettings(threads=1)})
    assert tuned_spec(given) == (given, None)
    pinned = spec.model_copy(update={"check_threads": True})  # --threads on the CLI
    assert tuned_spec(pinned) == (pinned, None)
    off = ort_spec(mlp_onnx, cfg=FAST.model_copy(update={"tune": TuneConfig(enabled=False)}))
    assert tuned_spec(off) == (off, None)


# ---------------------------------------------------------------- what ships
def test_the_manifest_records_the_winner_and_the_machine_it_was_chosen_on():
    info = {
        "tuned_settings": {"threads": 2, "options": {"graph_optimization_level": "all"}},
        "tuning": {"candidates": [{}, {}, {}]},
        "environment": {"cpu": "Xeon", "cpus": 2, "hostname": "vm"},
        "latency_rounds": {"p90_median_ms": 0.5},
    }
    rec = tuned_record(info)
    assert rec["tuned_settings"] == info["tuned_settings"]
    assert rec["tuned_on"] == {
        "cpu": "Xeon",
        "cpus": 2,
        "host": "vm",
        "candidates": 3,
        "p90_ms": 0.5,
    }
    assert tuned_record({"tuned_settings": None}) == {}
    capped = bundle_settings({"tuned_settings": {"threads": 4096, "options": {}}})
    assert capped.threads == cpus()


def tuned_bundle(tmp_path, tuned):
    """A verified bundle whose manifest then gets `tuned` (the manifest is not in its own
    hash list, so the edit stands until predict.py checks it)."""
    w = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    bundle = bundle_for(tmp_path / "b", (1, 8), w)
    m = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps(m | {"tuned_settings": tuned}))
    return bundle


def printed_settings(bundle, *args) -> dict:
    res = predict(bundle, "--print-settings", *args)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.mark.parametrize("spin", [True, False])
def test_predict_loads_the_runtime_with_the_tuned_settings(tmp_path, spin):
    tuned = {
        "threads": 1,
        "options": {"graph_optimization_level": "extended", "allow_spinning": spin},
    }
    applied = printed_settings(tuned_bundle(tmp_path, tuned))
    assert applied["source"] == "tuned_settings" and applied["threads"] == 1
    assert applied["graph_optimization_level"] == "ORT_ENABLE_EXTENDED"
    assert applied["allow_spinning"] is spin


def test_predict_caps_tuned_threads_at_the_cpus_here_and_threads_overrides(tmp_path):
    bundle = tuned_bundle(tmp_path, {"threads": 4096, "options": {}})
    assert printed_settings(bundle)["threads"] == cpus()
    forced = printed_settings(bundle, "--threads", "1")
    assert forced["threads"] == 1 and forced["source"] == "--threads"


@pytest.mark.parametrize(
    "tuned, expect",
    [
        ({"threads": "two", "options": {}}, "tuned_settings.threads"),
        ({"threads": 0, "options": {}}, "tuned_settings.threads"),
        ({"threads": 1, "options": []}, "tuned_settings and its options"),
        ({"threads": 1, "options": {"k": {"nested": 1}}}, "tuned_settings.options"),
        ("fast", "tuned_settings and its options"),
    ],
)
def test_bad_tuned_settings_are_one_paragraph_and_exit_2(tmp_path, tuned, expect):
    res = predict(tuned_bundle(tmp_path, tuned), "--print-settings")
    assert res.returncode == 2 and expect in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- a pipeline run end to end
def test_a_run_ships_its_tuned_settings_and_predict_loads_with_them():
    from backend_helpers import available_locally, rows, tiny_run

    run_dir, report = tiny_run()
    measured = [r for r in rows(report, status="ok") if r["latency_source"] == "measured-local"]
    assert measured
    for r in measured:
        m = json.loads((run_dir / r["bundle"] / "manifest.json").read_text())
        assert m["tuned_settings"] == r["tuned_settings"], r["bundle"]
        assert 1 <= m["tuned_settings"]["threads"] <= cpus()
        assert m["tuned_on"]["cpus"] == cpus() and m["tuned_on"]["candidates"] >= 1
    for r in rows(report, status="ok", target="cpu-onnxruntime"):
        applied = printed_settings(run_dir / r["bundle"])
        tuned = r["tuned_settings"]
        assert applied["source"] == "tuned_settings" and applied["threads"] == tuned["threads"]
        level = tuned["options"]["graph_optimization_level"]
        assert applied["graph_optimization_level"].endswith(level.upper())
    md = (run_dir / "report.md").read_text()
    if "mobile-executorch" in available_locally() and cpus() < 4:  # the phone asks for 4
        assert f"target asks 4 threads; {cpus()} CPUs here: measured with <= {cpus()}" in md
