"""Multi-teacher with confidence weighting is CA-MKD (issue 12, point 7): each teacher's
per-sample loss is weighted by that teacher's confidence on the sample's label, and feature
losses read every teacher through an adapter of its own."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from pluginlib import prepare_teachers, scheme_setup, scheme_student

from edgekd.config.schema import StudentConfig
from edgekd.distill.schemes import DistillJob
from edgekd.distill.schemes.multi_teacher import MultiTeacher
from edgekd.errors import ConfigError
from edgekd.models import build_model
from edgekd.progress import Reporter

T = 4.0
KD = {"name": "kd", "weight": 0.9, "options": {"temperature": T}}
FIT = {
    "name": "fitnets",
    "weight": 2.0,
    "options": {"student_layer": "features.1", "teacher_layer": "features.1"},
}


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    return prepare_teachers(tmp_path_factory.mktemp("mt"))["mnist1d"][0]


def _step(splits, losses, options, tmp_path, monkeypatch, n=32):
    """The scheme's loss on the first n training rows (not trained), its trainable modules,
    its teachers and student."""
    spec = StudentConfig.model_validate(scheme_student("multi-teacher", options, losses=losses))
    torch.manual_seed(0)
    widths = ([16, 16], [4, 12], [8, 6])  # teachers of different widths: adapters differ
    teachers = [build_model("cnn1d", {"channels": c}, (1, 40), 10).eval() for c in widths]
    student = build_model("cnn1d", {"channels": [8, 8]}, (1, 40), 10)
    seen = {}

    def capture(job, trainable, batch_loss, *args, **kwargs):
        seen.update(trainable=trainable)
        idx = torch.arange(n)
        xb = torch.from_numpy(splits.x["train"].take(idx.numpy()))
        try:
            seen["loss"] = batch_loss(idx, xb, torch.from_numpy(splits.y["train"][:n]))
        except ConfigError as exc:
            seen["error"] = exc
        return []

    monkeypatch.setattr(DistillJob, "fit", capture)
    job = DistillJob(
        student, teachers, splits, spec.distill, spec.train, 0, tmp_path, "mt", Reporter(True), None
    )
    job.clock.step, job.clock.steps_per_epoch = 0, 10
    MultiTeacher().run(job)
    return seen, teachers, student


def _kl(s, t):
    """Per-sample KL(teacher || student) at temperature T, times T^2."""
    log_s, log_t = F.log_softmax(s / T, 1), F.log_softmax(t / T, 1)
    return (log_t.exp() * (log_t - log_s)).sum(1) * T**2


def test_confidence_weights_each_teachers_per_sample_loss(splits, tmp_path, monkeypatch):
    seen, teachers, student = _step(splits, [KD, FIT], {}, tmp_path, monkeypatch)
    losses = seen["trainable"]["losses"]
    assert len(losses) == 3  # one copy of the losses per teacher
    adapters = [wl.losses[1].adapter[0] for wl in losses]  # fitnets' 1x1 conv per teacher
    assert [a.out_channels for a in adapters] == [16, 12, 6]
    xb = torch.from_numpy(splits.x["train"].take(range(32)))
    yb, got = torch.from_numpy(splits.y["train"][:32]), seen["loss"]

    with torch.no_grad():
        feats = {}
        hooks = [
            m.features[1].register_forward_hook(lambda _m, _i, o, k=k: feats.__setitem__(k, o))
            for k, m in enumerate([student, *teachers])
        ]
        s = student(xb)
        t = [m(xb) for m in teachers]
        for h in hooks:
            h.remove()
        ce = torch.stack([F.cross_entropy(tk, yb, reduction="none") for tk in t])
        w = (1 - torch.softmax(ce, 0)) / 2  # CA-MKD: (1 - softmax_k(CE_k)) / (K - 1)
        want = 0.1 * F.cross_entropy(s, yb)
        for k, tk in enumerate(t):
            hint = (adapters[k](feats[0]) - feats[k + 1]).pow(2).flatten(1).mean(1)
            want = want + (w[k] * (0.9 * _kl(s, tk) + 2.0 * hint)).mean()
    assert torch.allclose(got.detach(), want, rtol=1e-5), (float(got), float(want))
    got.backward()  # every teacher's adapter learns
    assert all(a.weight.grad is not None and a.weight.grad.abs().sum() > 0 for a in adapters)


def test_the_most_confident_teacher_weighs_most():
    from edgekd.distill.schemes.multi_teacher import teacher_weights

    y = torch.tensor([0, 1])
    good = torch.tensor([[5.0, 0.0], [0.0, 5.0]])
    bad = torch.tensor([[0.0, 5.0], [5.0, 0.0]])
    w = teacher_weights(torch.stack([bad, good, torch.zeros(2, 2)]), y)
    assert torch.allclose(w.sum(0), torch.ones(2)) and (w[1] > w[2]).all() and (w[2] > w[0]).all()


def test_mean_weighting_averages_the_logits(splits, tmp_path, monkeypatch):
    seen, teachers, student = _step(splits, [KD], {"weighting": "mean"}, tmp_path, monkeypatch)
    assert len(seen["trainable"]["losses"]) == 1
    xb = torch.from_numpy(splits.x["train"].take(range(32)))
    yb, got = torch.from_numpy(splits.y["train"][:32]), seen["loss"]
    with torch.no_grad():
        s = student(xb)
        t = torch.stack([m(xb) for m in teachers]).mean(0)
        want = 0.1 * F.cross_entropy(s, yb) + 0.9 * _kl(s, t).mean()
    assert torch.allclose(got.detach(), want, rtol=1e-5)


def test_losses_relating_samples_are_refused_with_confidence(splits, tmp_path, monkeypatch):
    rkd = {"name": "rkd", "options": {}}
    with pytest.raises(AssertionError, match="'rkd' relates the samples"):
        scheme_setup("multi-teacher", {}, [KD, rkd])  # refused at load
    scheme_setup("multi-teacher", {"weighting": "mean"}, [KD, rkd])  # accepted
    dist = {"name": "dist", "options": {}}  # a response loss with a per-class (batch) term
    seen, _, _ = _step(splits, [dist], {}, tmp_path, monkeypatch)
    assert "'dist' relates the samples" in str(seen["error"])
