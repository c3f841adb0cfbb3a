"""Augmentation in training: the label mix reaches the cross-entropy of every step, resume
stays bitwise, every scheme with a teacher runs it on exactly the student's augmented batch
(with the teacher-output cache off), and `data.augment` enters the training stages' keys."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch
from pluginlib import KD, prepare_teachers, scheme_setup
from torch import nn

from edgekd.config.schema import AugmentSpec, TrainConfig
from edgekd.data.augment import get_augmentation
from edgekd.data.augment.mixing import cross_entropy, current_mix
from edgekd.distill.schemes import SCHEMES
from edgekd.progress import Reporter

SHIFT_MIXUP = [AugmentSpec(name="shift", options={"max": 2}), AugmentSpec(name="mixup")]


def test_each_step_sees_its_batch_label_mix(tmp_path):
    from edgekd.distill.trainer import fit

    x = torch.randn(40, 1, 12).numpy()
    y = (torch.arange(40) % 4).numpy()
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    seen = []

    def batch_loss(idx, xb, yb):
        mix = current_mix()
        seen.append((idx.clone(), yb.clone(), mix))
        return cross_entropy(model(xb), yb)

    cfg = TrainConfig(epochs=2, batch_size=8)
    aug = get_augmentation(SHIFT_MIXUP)
    fit(model, batch_loss, model, x, y, None, cfg, 0, tmp_path, "m", Reporter(True), augment=aug)
    assert len(seen) == 10 and current_mix() is None
    for idx, yb, mix in seen:
        assert mix is not None and 0.0 <= mix.lam <= 1.0
        assert torch.equal(yb, torch.as_tensor(y)[idx])
        assert sorted(mix.other.tolist()) == sorted(yb.tolist())  # the batch's labels, permuted


def test_resume_with_a_mixing_chain_is_bitwise(tmp_path):
    from test_plugins_augmentations import Interrupt, StopAfterFirstEpoch

    from edgekd.distill.trainer import CKPT, fit

    x = torch.randn(48, 1, 16).numpy()
    y = (torch.arange(48) % 3).numpy()
    cfg = TrainConfig(epochs=3, batch_size=16)

    def train(folder, reporter):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
        aug = get_augmentation(SHIFT_MIXUP)
        batch_loss = lambda _i, xb, yb: cross_entropy(model(xb), yb)  # noqa: E731
        fit(model, batch_loss, model, x, y, None, cfg, 0, folder, "m", reporter, augment=aug)
        return model.state_dict()

    (tmp_path / "whole").mkdir()
    (tmp_path / "resumed").mkdir()
    whole = train(tmp_path / "whole", Reporter(quiet=True))
    with pytest.raises(Interrupt):
        train(tmp_path / "resumed", StopAfterFirstEpoch())
    assert torch.load(tmp_path / "resumed" / CKPT, weights_only=True)["epoch"] == 1
    resumed = train(tmp_path / "resumed", Reporter(quiet=True))
    for k in whole:
        assert torch.equal(whole[k], resumed[k]), k


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepare_teachers(tmp_path_factory.mktemp("teachers"))


TEACHER_SCHEMES = [n for n, s in SCHEMES.items() if s.needs_teacher]
# The audit's finding: these train their student on inputs of their own (the paired view;
# synthesised inputs), which the pipeline's augmentation does not touch.
NOT_AUGMENTED = {"cross-modal", "data-free"}


@pytest.mark.parametrize("name", TEACHER_SCHEMES)
def test_the_teacher_reads_the_students_augmented_batch(name, prepared, tmp_path, monkeypatch):
    """With augmentation on, every teacher call inside a training step reads exactly the
    batch the student trains on, the cache is off, and the cross-entropy reads the mix."""
    import edgekd.distill.schemes as schemes_module
    import edgekd.distill.trainer as trainer
    from edgekd.stages.train import run_distill

    scheme = SCHEMES.get(name)
    options = scheme.examples[0]
    dataset, student = scheme_setup(name, options, KD)
    splits, teachers = prepared[dataset]
    splits = replace(splits, augment=SHIFT_MIXUP)
    state = {"batch": None, "augmented": 0, "teacher_calls": 0, "ce_mixed": 0}

    real_augment, real_wrap = trainer._augment, trainer.ddp.wrap_step

    def augment(*args):
        xb, mixed = real_augment(*args)
        state["augmented"] += 1
        return xb, mixed

    def wrap_step(trainable, batch_loss, device):
        def step(idx, xb, yb):
            state["batch"] = xb if state["augmented"] else None
            try:
                return batch_loss(idx, xb, yb)
            finally:
                state["batch"], state["augmented"] = None, 0

        return real_wrap(trainable, step, device)

    def teacher_hook(_module, inputs):
        if state["batch"] is not None:
            assert torch.equal(inputs[0], state["batch"]), "the teacher read another batch"
            state["teacher_calls"] += 1

    def ce(logits, y, labeled=None):
        if state["batch"] is not None:
            assert current_mix() is not None
            state["ce_mixed"] += 1
        return cross_entropy(logits, y, labeled)

    monkeypatch.setattr(trainer, "_augment", augment)
    monkeypatch.setattr(trainer.ddp, "wrap_step", wrap_step)
    monkeypatch.setattr(schemes_module, "cross_entropy", ce)
    handles = [t.register_forward_pre_hook(teacher_hook) for t in teachers]
    try:
        info = run_distill(student, teachers, splits, 0, tmp_path, name, Reporter(True))
    finally:
        for h in handles:
            h.remove()
    if name in NOT_AUGMENTED:
        assert state["teacher_calls"] == 0
        return
    assert state["teacher_calls"] > 0 and state["ce_mixed"] > 0
    assert info.get("teacher_outputs_cached", False) is False


def test_data_augment_enters_the_training_keys(tmp_path, tiny_config, write_pipeline):
    """`[]` and an absent list (mnist1d has no default) key alike; a list retrains what
    trains, with the teacher cache off, and leaves the data stage alone."""
    import json

    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline

    tiny_config |= {"targets": []}
    for s in tiny_config["students"]:
        s["train"]["epochs"] = 1
    tiny_config["teacher"]["train"]["epochs"] = 1

    runs = []

    def run(augment, out):
        cfg = copy.deepcopy(tiny_config)
        if augment is not None:
            cfg["data"]["augment"] = augment
        path = write_pipeline(cfg, f"p{len(runs)}.yaml")
        runs.append(path)
        run_pipeline(load_pipeline(path), path, out=out, reporter=Reporter(True))
        return {p.name for p in (out / "stages").iterdir()}

    plain = run(None, tmp_path / "run")
    assert run([], tmp_path / "run") == plain  # nothing new: [] means none, as before
    noisy = run([{"name": "noise", "options": {"std": 0.1}}], tmp_path / "run")
    new = noisy - plain
    assert {n.rsplit("-", 1)[0] for n in new} == {"teacher", "mlp-t", "mlp-t-scratch"}
    records = [json.loads(p.read_text()) for p in tmp_path.glob("run/stages/*/stage.json")]
    trained = [r for r in records if r["kind"] in ("train", "distill")]
    assert {r["kind"] for r in trained if "augment" in r["config"]} == {"train", "distill"}
    for r in trained:
        if "augment" in r["config"]:
            assert r["config"]["augment"][0]["name"] == "noise"
    distilled = [r for r in trained if r["kind"] == "distill"]
    assert [r["info"]["teacher_outputs_cached"] for r in distilled if "augment" in r["config"]] == [
        False
    ]
    assert [
        r["info"]["teacher_outputs_cached"] for r in distilled if "augment" not in r["config"]
    ] == [True]


def test_a_teachers_own_augment_trains_the_teacher_only(tmp_path, tiny_config, write_pipeline):
    """`teacher.augment` changes how the teacher trains and nothing else: the students keep
    `data.augment` (none here), so the scratch twin is reused and the distilled student
    (new: its teacher is) keeps the teacher-output cache."""
    import json

    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline

    tiny_config |= {"targets": []}
    for s in tiny_config["students"]:
        s["train"]["epochs"] = 1
    tiny_config["teacher"]["train"]["epochs"] = 1

    def run(cfg, name):
        path = write_pipeline(cfg, name)
        run_pipeline(load_pipeline(path), path, out=tmp_path / "run", reporter=Reporter(True))
        return {p.name for p in (tmp_path / "run" / "stages").iterdir()}

    plain = run(copy.deepcopy(tiny_config), "plain.yaml")
    cfg = copy.deepcopy(tiny_config)
    cfg["teacher"]["augment"] = [{"name": "noise", "options": {"std": 0.1}}]
    new = run(cfg, "teacher-aug.yaml") - plain
    assert {n.rsplit("-", 1)[0] for n in new} == {"teacher", "mlp-t"}
    records = {
        p.parent.name: json.loads(p.read_text())
        for p in (tmp_path / "run" / "stages").glob("*/stage.json")
    }
    teacher = next(records[n] for n in new if n.startswith("teacher"))
    assert teacher["config"]["augment"][0]["name"] == "noise"
    student = next(records[n] for n in new if n.startswith("mlp-t"))
    assert "augment" not in student["config"] and student["info"]["teacher_outputs_cached"]
