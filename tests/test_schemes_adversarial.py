"""Adversarial KD alternates a discriminator step and a student step with the
non-saturating generator loss (issue 12, point 7), resumes bitwise (both optimisers'
states in the checkpoint) and is refused under DDP."""

from __future__ import annotations

import pytest
import torch
from pluginlib import prepare_teachers, scheme_student, tiny_pipeline

from edgekd.config.checks import check_plugins
from edgekd.config.schema import StudentConfig, TrainConfig
from edgekd.distill.schemes import DistillJob
from edgekd.distill.schemes import adversarial as adv
from edgekd.distill.trainer import CKPT
from edgekd.errors import ConfigError
from edgekd.models import build_model
from edgekd.progress import Reporter


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepare_teachers(tmp_path_factory.mktemp("adv"))["mnist1d"]


def test_generator_loss_does_not_saturate_when_the_discriminator_wins():
    torch.manual_seed(0)
    disc = adv.Discriminator(3, 8, TrainConfig(lr=0.1))
    fake = torch.randn(4, 3, requires_grad=True)
    with torch.no_grad():  # a discriminator sure that every fake is fake
        disc.net[2].bias.fill_(-10.0)
    adv.fool(disc, fake).backward()
    d = disc(fake).detach()
    # -log D(fake): d/dlogit = sigma(d) - 1 -> -1 as D wins (the saturating log(1 - D) -> 0)
    grad_logit = torch.sigmoid(d) - 1
    assert torch.allclose(grad_logit, torch.full_like(d, -1.0), atol=1e-4)
    assert fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in disc.parameters())  # the student's loss leaves D alone


def test_the_discriminator_step_comes_first_and_learns():
    torch.manual_seed(0)
    disc = adv.Discriminator(2, 16, TrainConfig(lr=0.05, optimizer="adam"))
    real, fake = torch.randn(64, 2) + 2, torch.randn(64, 2) - 2
    first = disc.update(real, fake)
    for _ in range(50):
        last = disc.update(real, fake)
    assert last < 0.5 * first  # it learns to tell them apart
    assert not any(p.requires_grad for p in disc.parameters())
    state = disc.state_dict()["_extra_state"]  # its optimiser state travels in the state_dict
    assert state["state"] and state["param_groups"][0]["lr"] == 0.05


class _Killed(Exception):
    pass


def _train(prepared, folder, kill_at=None):
    splits, teachers = prepared
    spec = scheme_student("adversarial", {})
    spec["train"].update(epochs=3, optimizer="adam")
    s = StudentConfig.model_validate(spec)
    folder.mkdir(exist_ok=True)
    torch.manual_seed(0)
    student = build_model(s.model, s.options, splits.input_shape, splits.num_classes)
    job = DistillJob(
        student, teachers[:1], splits, s.distill, s.train, 0, folder, "adv", Reporter(True), None
    )
    calls, update = [0], adv.Discriminator.update

    def counted(self, real, fake):
        calls[0] += 1
        if calls[0] == kill_at:
            raise _Killed
        return update(self, real, fake)

    adv.Discriminator.update = counted
    try:
        adv.AdversarialKD().run(job)
    except _Killed:
        pass
    finally:
        adv.Discriminator.update = update
    return calls[0], student.state_dict(), torch.load(folder / CKPT, weights_only=True)


def test_killed_and_resumed_is_bitwise_the_same(prepared, tmp_path):
    steps, ref, ref_ckpt = _train(prepared, tmp_path / "ref")
    per_epoch = steps // 3
    _train(prepared, tmp_path / "run", kill_at=per_epoch + 3)  # in epoch 2
    assert torch.load(tmp_path / "run" / CKPT, weights_only=True)["epoch"] == 1
    resumed, got, got_ckpt = _train(prepared, tmp_path / "run")
    assert resumed == 2 * per_epoch  # epochs 2 and 3 only
    assert all(torch.equal(ref[k], got[k]) for k in ref)
    disc = {k: v for k, v in ref_ckpt["model"].items() if k.startswith("disc.net")}
    assert disc and all(torch.equal(v, got_ckpt["model"][k]) for k, v in disc.items())
    a, b = ref_ckpt["model"]["disc._extra_state"], got_ckpt["model"]["disc._extra_state"]
    assert a["state"]
    for i, st in a["state"].items():  # the discriminator's Adam moments came back too
        assert all(torch.equal(st[n], b["state"][i][n]) for n in st)


def test_refused_under_ddp(monkeypatch, tmp_path, prepared):
    cfg = tiny_pipeline(students=[scheme_student("adversarial", {})])
    check_plugins(cfg, "p.yaml")  # one process: fine
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="'adversarial' does not run on several processes"):
        check_plugins(cfg, "p.yaml")
    with pytest.raises(ConfigError, match="discriminator"):  # and when run directly
        _train(prepared, tmp_path)
