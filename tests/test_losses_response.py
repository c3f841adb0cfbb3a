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
    golden_cases,
    make,
    names_of_kind,
)

from edgekd.distill.losses import LossContext

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
    """With warmup W epochs, the loss is scaled by (samples seen / num_train) / W, capped at 1."""
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
