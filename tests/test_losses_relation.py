"""Relation losses (rkd, pkt, sp, crd) on flat, 1-D, 2-D features and on the logits.

Golden values (tests/fixtures/loss_golden.json) come from tests/fixtures/make_loss_golden.py,
an independent float64 NumPy implementation of each paper's formula on stored inputs (and,
for CRD, stored embed heads, memory banks and sampled negatives); the torch losses must agree
to a relative 1e-5.
"""

from __future__ import annotations

import math

import pytest
import torch
from losslib import (
    LAYOUTS,
    NUM_TRAIN,
    assert_finite_scalar,
    assert_golden,
    assert_grads_reach_student,
    build,
    cases_of_kind,
    golden_cases,
    make,
    names_of_kind,
)

from edgekd.distill.losses import LossContext
from edgekd.errors import ConfigError

LOSS_NAMES = names_of_kind("relation")  # every registered relation loss
CASES = cases_of_kind("relation")
# CRD is an NCE bound against sampled negatives: not 0 for a teacher equal to the student.
NOT_ZERO_AT_EQUAL = {"crd"}


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_finite_scalar(name, layout):
    assert_finite_scalar(name, layout)


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_gradients_reach_student_and_heads(name, layout):
    assert_grads_reach_student(name, layout)


@pytest.mark.parametrize("name", sorted(set(LOSS_NAMES) - NOT_ZERO_AT_EQUAL))
@pytest.mark.parametrize("layout", LAYOUTS["relation"])
def test_zero_when_teacher_equals_student(name, layout):
    loss, out = make(name, layout, equal=True)
    assert loss(out).item() == pytest.approx(0.0, abs=1e-9)


def test_relations_ignore_width_and_scale():
    """Only relations between samples count: a teacher that is a scaled orthogonal rotation
    of the student (wider, too) gives 0 for RKD (mean-normalised distances, angles) and SP."""
    for name in ("rkd", "sp"):
        loss, out = make(name, "flat", equal=True)
        (s,), (t_path,) = out.s_feats.values(), out.t_feats  # the one tapped pair
        s = s.detach()
        q, _ = torch.linalg.qr(torch.randn(9, 9, generator=torch.Generator().manual_seed(1)))
        out.t_feats[t_path] = 3.0 * torch.cat([s, torch.zeros(len(s), 2)], 1) @ q
        assert loss(out).item() == pytest.approx(0.0, abs=1e-6)


def test_crd_known_value_when_all_scores_tie():
    """If both embeddings and every memory row are the same unit vector, every score equals
    the noise probability 1/n after Z-normalisation, and each NCE side is
    log(1+K) + K log(1+1/K). The loss has two sides."""
    k = 7
    loss = build("crd", {"nce_k": k, "feat_dim": 4}, LossContext(5, NUM_TRAIN))
    u = torch.tensor([0.5, -0.5, 0.5, 0.5])
    with torch.no_grad():
        for head in (loss.embed_s, loss.embed_t):
            head[1].weight.zero_()
            head[1].bias.copy_(u * 3)
        loss.memory_s.copy_(u.expand_as(loss.memory_s))
        loss.memory_t.copy_(u.expand_as(loss.memory_t))
    _, out = make("crd", "logits")
    expected = 2 * (math.log(1 + k) + k * math.log(1 + 1 / k))
    assert loss(out).item() == pytest.approx(expected, rel=1e-5)


def test_crd_memory_is_updated_in_training_only():
    loss, out = make("crd", "flat")
    before = loss.memory_s.clone()
    loss.eval()
    loss(out)
    assert torch.equal(loss.memory_s, before)
    loss.train()
    loss(out)
    changed = (loss.memory_s != before).any(1)
    assert changed[out.index].all() and changed.sum() == len(out.index)
    assert torch.allclose(loss.memory_s[out.index].norm(dim=1), torch.ones(len(out.index)))


def test_crd_needs_index_and_train_size():
    loss, out = make("crd", "flat")
    out.index = None
    with pytest.raises(ConfigError, match="index"):
        loss(out)
    with pytest.raises(ConfigError, match="training split"):
        build("crd", {}, LossContext(5, num_train=0))


def test_crd_memory_bank_is_sized_by_the_training_split():
    loss = build("crd", {}, LossContext(5, num_train=123))
    assert loss.memory_s.shape == (123, 128) and loss.memory_t.shape == (123, 128)


@pytest.mark.parametrize("case", golden_cases(LOSS_NAMES), ids=lambda c: c["name"])
def test_golden(case):
    assert_golden(case)
