"""Response losses (kd, dkd, dist): shapes, gradients, the teacher==student value, golden values.

Golden values (tests/fixtures/loss_golden.json) come from tests/fixtures/make_loss_golden.py,
an independent float64 NumPy implementation of each paper's formula on stored inputs; the
torch losses must agree to a relative 1e-5.
"""

from __future__ import annotations

import pytest
import torch
from losslib import (
    assert_finite_scalar,
    assert_golden,
    assert_grads_reach_student,
    build,
    from_golden,
    golden_cases,
    make,
    names_of_kind,
)

from edgekd.distill.losses import LOSSES, LossContext

LOSS_NAMES = names_of_kind("response")  # every registered response loss


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_finite_scalar(name):
    assert_finite_scalar(name, "logits")


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_gradients_reach_student(name):
    assert_grads_reach_student(name, "logits")


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_zero_when_teacher_equals_student(name):
    # KD and both DKD terms are KL divergences: exactly 0 for equal logits. DIST is
    # 1 - Pearson correlation: 0 up to its 1e-8 denominator guard.
    loss, out = make(name, "logits", equal=True)
    assert loss(out).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("case", golden_cases(LOSS_NAMES), ids=lambda c: c["name"])
def test_golden(case):
    assert_golden(case)


def test_dkd_warmup_ramps_with_samples_seen():
    """The fallback when a scheme gives no Outputs.step: with warmup W epochs, the loss is
    scaled by (samples seen / num_train) / W, capped at 1."""
    ctx = LossContext(5, num_train=16)
    warm = build("dkd", {"warmup": 2.0}, ctx)
    full = build("dkd", {"warmup": 0.0}, ctx)
    _, out = make("dkd", "logits")  # a batch of 8 samples
    ref = full(out).item()
    assert ref > 0
    assert warm(out).item() == pytest.approx(ref * 8 / 16 / 2)
    assert warm(out).item() == pytest.approx(ref * 16 / 16 / 2)
    for _ in range(3):
        last = warm(out).item()
    assert last == pytest.approx(ref)  # 40 samples = 2.5 epochs > warmup
    warm.eval()
    assert warm(out).item() == pytest.approx(ref)  # evaluation does not advance the ramp
    assert float(warm.seen) == 40


def test_dkd_ramp_is_checkpointed():
    warm = build("dkd", {"warmup": 2.0}, LossContext(5, num_train=16))
    _, out = make("dkd", "logits")
    warm(out)
    assert torch.equal(warm.state_dict()["seen"], torch.tensor(8.0, dtype=torch.float64))


def test_dkd_exact_for_large_logits_in_float32():
    """A target logit of 1500 at T = 1: a large-constant mask (logit - 1000) left the target
    dominant in the 'non-target' softmax (NCKD ~ 0) and the binary TCKD underflowed. The
    float64 reference removes the target class exactly; the float32 loss must agree too."""
    cases = [c for c in golden_cases(["dkd"]) if c["name"].startswith("dkd-large-logit")]
    assert len(cases) == 2
    for case in cases:
        assert_golden(case)  # float64
        loss, out = from_golden(case)
        loss = loss.float()
        out.s_logits, out.t_logits = out.s_logits.float(), out.t_logits.float()
        assert loss(out).item() == pytest.approx(case["value"], rel=1e-4)


def test_dkd_nckd_ignores_the_target_logit():
    """NCKD compares the distributions over the non-target classes only: raising the target
    logit (of both models) to 1500 changes nothing."""
    nckd_only = build("dkd", {"alpha": 0.0, "temperature": 1.0, "warmup": 0.0}, LossContext(5))
    _, out = make("dkd", "logits")
    ref = nckd_only(out).item()
    assert ref > 0
    rows = torch.arange(len(out.y))
    for logits in (out.s_logits, out.t_logits):
        with torch.no_grad():
            logits[rows, out.y] = 1500.0
    assert nckd_only(out).item() == pytest.approx(ref, rel=1e-5)


def test_dkd_warmup_counts_optimizer_steps_not_calls():
    """With Outputs.step, the ramp is min((step + 1) / steps_per_epoch / warmup, 1): calling
    the loss several times for one step (DML: once per other peer, BYOT: once per head)
    gives the same factor every time, and the per-call sample counter is left alone."""
    warm = build("dkd", {"warmup": 2.0}, LossContext(5, num_train=16))
    full = build("dkd", {"warmup": 0.0}, LossContext(5, num_train=16))
    _, out = make("dkd", "logits")
    ref = full(out).item()
    out.steps_per_epoch = 4
    for step, factor in ((0, 1 / 8), (3, 1 / 2), (6, 7 / 8), (7, 1.0), (100, 1.0)):
        out.step = step
        values = [warm(out).item() for _ in range(5)]
        assert values == pytest.approx([ref * factor] * 5), step
    assert float(warm.seen) == 0  # the fallback counter did not advance
    warm.eval()
    out.step = 3
    assert warm(out).item() == pytest.approx(ref / 2)


def test_outputs_step_needs_steps_per_epoch():
    _, out = make("dkd", "logits")
    assert out.epochs_done() is None
    out.step, out.steps_per_epoch = 9, 10
    assert out.epochs_done() == 1.0
    out.steps_per_epoch = None
    with pytest.raises(ValueError, match="steps_per_epoch"):
        out.epochs_done()


@pytest.mark.parametrize("name", [n for n in LOSS_NAMES if hasattr(LOSSES.get(n), "per_sample")])
def test_per_sample_matches_each_sample_alone(name):
    """A loss's one-pass `per_sample` (multi-teacher's confidence weighting uses it) gives what
    the loss gives on each sample alone, and its mean is the batch value."""
    from edgekd.distill.schemes.multi_teacher import row

    loss, out = make(name, "logits")
    fast = loss.per_sample(out)
    alone = torch.stack([loss(row(out, i)) for i in range(len(out.y))])
    assert fast.shape == (len(out.y),)
    assert torch.allclose(fast, alone, rtol=1e-5, atol=1e-7)
    assert torch.allclose(fast.mean(), loss(out), rtol=1e-5)
