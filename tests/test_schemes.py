"""Every registered scheme runs one short epoch on tiny data and exports the plain student."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from pluginlib import check_scheme, prepare_teachers, scheme_student

from edgekd.config.schema import StudentConfig
from edgekd.distill.schemes import SCHEMES, Scheme
from edgekd.models import build_model
from edgekd.progress import Reporter

# Every registered scheme with every option set it declares as an example.
CASES = [(name, i) for name, cls in SCHEMES.items() for i in range(len(cls.examples))]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The tiny data and two 1-epoch teachers, shared by every scheme (and a paired set)."""
    return prepare_teachers(tmp_path_factory.mktemp("schemes"))


def student_for(name: str, example: int = 0) -> StudentConfig:
    spec = scheme_student(name, SCHEMES.get(name).examples[example])
    return StudentConfig.model_validate(spec)


def test_every_registered_scheme_documents_itself():
    for name, cls in SCHEMES.items():
        assert issubclass(cls, Scheme), name
        assert cls.description and cls.paper and cls.kind != Scheme.kind, name
        assert cls.Options.model_config.get("extra") == "forbid", name
        assert cls.examples, name


@pytest.mark.parametrize(("name", "example"), CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_scheme_runs_and_exports_the_plain_student(name, example, prepared, tmp_path, monkeypatch):
    from edgekd.distill.losses.response import KDLoss

    steps, original, per_sample = [], KDLoss.forward, KDLoss.per_sample

    def record(self, out):  # every Outputs a scheme builds says which optimizer step it feeds
        steps.append((out.step, out.steps_per_epoch))
        return original(self, out)

    def record_rows(self, out):  # multi-teacher's per-sample weighting calls this instead
        steps.append((out.step, out.steps_per_epoch))
        return per_sample(self, out)

    monkeypatch.setattr(KDLoss, "forward", record)
    monkeypatch.setattr(KDLoss, "per_sample", record_rows)
    options = SCHEMES.get(name).examples[example]
    info = check_scheme(SCHEMES.get(name), name, options, prepared, tmp_path)
    assert steps and all(s is not None and n for s, n in steps), steps[:3]
    assert steps[0][0] == 0 and max(s for s, _ in steps) == steps[-1][1] - 1  # 1 epoch
    if name == "data-free":
        assert info["synthetic_samples"] == 96 and info["training_samples_read"] == 0


def test_dml_updates_every_peer(prepared, tmp_path):
    from edgekd.distill.schemes import DistillJob
    from edgekd.distill.schemes.online import DeepMutualLearning

    splits, _ = prepared["mnist1d"]
    spec = student_for("dml")  # its example: 3 peers
    torch.manual_seed(0)
    build = lambda: build_model(spec.model, spec.options, splits.input_shape, 10)  # noqa: E731
    job = DistillJob(
        build(), [], splits, spec.distill, spec.train, 0, tmp_path, "dml", Reporter(True), build
    )
    scheme = DeepMutualLearning()
    before = {}

    original = DeepMutualLearning._peer

    def remember(job_, opts, k):
        peer = original(job_, opts, k)
        before[k] = copy.deepcopy(peer.state_dict())
        return peer

    before[0] = copy.deepcopy(job.student.state_dict())
    DeepMutualLearning._peer = staticmethod(remember)
    try:
        scheme.run(job)
    finally:
        DeepMutualLearning._peer = staticmethod(original)
    assert len(scheme.peers) == 3
    for k, peer in enumerate(scheme.peers):
        moved = [not torch.equal(v, before[k][n]) for n, v in peer.state_dict().items()]
        assert any(moved), f"peer {k} was not updated"
    # peers start from different initialisations, so they are not copies of each other
    w0, w1 = (p.state_dict()["fc.weight"] for p in scheme.peers[:2])
    assert not torch.allclose(w0, w1)
    assert len(job.info["peers"]) == 3


def test_cs_kd_partners_share_the_class():
    from edgekd.distill.schemes.cskd import SameClass

    y = np.array([0, 1, 0, 1, 2, 0])
    draw, rows = SameClass(y, seed=0), np.arange(6)
    got = draw(rows, step=0)
    assert (y[got] == y).all()
    assert (got != rows)[y != 2].all() and got[4] == 4  # a lone sample is its own partner
    # a function of (seed, step, row): the same for any batch holding the row, any order
    assert np.array_equal(draw(rows[::-1], 0), got[::-1]) and draw(rows[3:], 0)[0] == got[3]
    draws = np.stack([draw(rows, step) for step in range(200)])
    assert set(draws[:, 0]) == {2, 5}  # every other row of the class comes up
    assert not np.array_equal(draws[0], draws[1]) or not np.array_equal(draws[1], draws[2])


def test_tf_kd_virtual_teacher_distribution():
    from edgekd.distill.schemes.tfkd import virtual_teacher_logits

    y = torch.tensor([0, 3, 9])
    p = torch.softmax(virtual_teacher_logits(y, 10, 0.9), dim=1)
    assert torch.allclose(p.sum(1), torch.ones(3))
    assert torch.equal(p.argmax(1), y)
    assert torch.allclose(p[torch.arange(3), y], torch.full((3,), 0.9))
    rest = p.clone()
    rest[torch.arange(3), y] = float("nan")
    assert torch.allclose(rest[~rest.isnan()], torch.tensor(0.1 / 9))


def test_deepinversion_bn_loss_decreases(prepared):
    from edgekd.distill.schemes.data_free import Options, synthesize

    _, teachers = prepared["mnist1d"]
    opts = Options(num_samples=64, batch_size=64, steps=40, lr=0.05, jitter=0)
    x, y, history = synthesize(teachers[0], (1, 40), 10, opts, seed=0)
    assert x.shape == (64, 1, 40) and y.shape == (64,)
    assert len(history) == 40 and history[-1] < 0.75 * history[0]
    assert (np.diff(history) < 0).mean() > 0.9  # it falls nearly every step
    jittered = synthesize(teachers[0], (1, 40), 10, opts.model_copy(update={"jitter": 2}), 0)
    assert jittered[2][-1] < 0.75 * jittered[2][0]  # shifted inputs each step: still falls
    assert not np.array_equal(jittered[0], x)
    noise, _, none = synthesize(
        teachers[0], (1, 40), 10, Options(method="noise", num_samples=64), 0
    )
    assert len(none) == 0 and abs(float(noise.std()) - 1.0) < 0.1


def test_deepinversion_refuses_a_teacher_without_batchnorm():
    from edgekd.distill.schemes.data_free import Options, synthesize
    from edgekd.errors import ConfigError

    mlp = build_model("mlp", {"hidden": [8]}, (1, 40), 10)
    with pytest.raises(ConfigError, match="BatchNorm"):
        synthesize(mlp, (1, 40), 10, Options(num_samples=4, batch_size=4, steps=1), 0)


def test_multi_teacher_weights():
    from edgekd.distill.schemes.multi_teacher import combine, teacher_weights

    y = torch.tensor([0, 1])
    good = torch.tensor([[5.0, 0.0], [0.0, 5.0]])  # right on both samples
    bad = torch.tensor([[0.0, 5.0], [5.0, 0.0]])  # wrong on both
    t = torch.stack([good, bad, torch.zeros(2, 2)])
    w = teacher_weights(t, y)
    assert torch.allclose(w.sum(0), torch.ones(2))
    assert (w[0] > w[2]).all() and (w[2] > w[1]).all()
    assert torch.allclose(combine(t, y, "mean"), t.mean(0))
    assert torch.equal(combine(t, y, "confidence").argmax(1), y)


def test_paired_views_are_row_aligned(prepared):
    splits, _ = prepared["mnist1d-pair"]
    assert splits.input_shape == (1, 21) and splits.teacher_view().input_shape == (1, 40)
    signal = splits.x_teacher["test"][:5]
    spectrum = np.log1p(np.abs(np.fft.rfft(signal, axis=-1)))
    assert np.allclose(splits.x["test"][:5], spectrum, atol=1e-5)


def test_methods_lists_every_scheme_with_kind_paper_and_options():
    from typer.testing import CliRunner

    from edgekd.cli import app

    res = CliRunner().invoke(app, ["methods"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    for name, cls in SCHEMES.items():
        line = next(ln for ln in res.output.splitlines() if f" {name} " in ln)
        assert cls.kind in line and cls.paper.split(".")[0] in line
    assert "correct_prob=0.99" in res.output and "taps=(required)" in res.output
