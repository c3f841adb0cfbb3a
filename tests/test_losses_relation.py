"""Relation losses (rkd, pkt, sp, crd) on flat, 1-D, 2-D features and on the logits.

Golden values (tests/fixtures/loss_golden.json) come from tests/fixtures/make_loss_golden.py,
an independent float64 NumPy implementation of each paper's formula on stored inputs (and,
for CRD, stored embed heads, memory banks and sampled negatives); the torch losses must agree
to a relative 1e-5.
"""

from __future__ import annotations

import math
from dataclasses import replace

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
from edgekd.errors import ConfigError, TrainingError

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


def test_rkd_angle_rows_limits_only_the_angle_term_to_the_first_rows():
    """The angle term over the first N rows (its memory is N^3); the distance term keeps all."""
    _, out = make("rkd", "logits")
    n, ctx = 5, LossContext(out.s_logits.shape[1], NUM_TRAIN)
    assert len(out.s_logits) > n
    head = replace(out, s_logits=out.s_logits[:n], t_logits=out.t_logits[:n])

    def value(options: dict, outputs=out) -> float:
        return build("rkd", options, ctx)(outputs).item()

    angles = value({"distance_weight": 0.0, "angle_rows": n})
    assert angles == pytest.approx(value({"distance_weight": 0.0}, head), rel=1e-6)
    assert angles != pytest.approx(value({"distance_weight": 0.0}), rel=1e-3)
    distances = value({"angle_weight": 0.0, "angle_rows": n})
    assert distances == pytest.approx(value({"angle_weight": 0.0}), rel=1e-6)


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
    assert loss.labels.shape == (123,)


def test_crd_index_beyond_the_bank_is_a_clear_error():
    """A scheme that trains on more samples than LossContext.num_train (data-free with more
    synthetic samples than the real training split) gets a TrainingError, not IndexError."""
    loss, out = make("crd", "flat")
    out.index = out.index.clone()
    out.index[0] = NUM_TRAIN
    with pytest.raises(TrainingError, match=f"index {NUM_TRAIN}, outside its memory bank of"):
        loss(out)
    out.index[0] = -1
    with pytest.raises(TrainingError, match="index -1"):
        loss(out)


def crd_with_labels(num_train: int, nce_k: int, negatives: str = "class_exclusive"):
    options = {"nce_k": nce_k, "feat_dim": 4, "negatives": negatives}
    return build("crd", options, LossContext(5, num_train))


def test_crd_bank_learns_labels_from_outputs_y():
    loss, out = make("crd", "flat")
    assert (loss.labels == -1).all()
    loss.eval()
    loss(out)
    assert (loss.labels == -1).all()  # evaluation writes no row
    loss.train()
    loss(out)
    assert torch.equal(loss.labels[out.index], out.y)
    rest = torch.ones(NUM_TRAIN, dtype=torch.bool)
    rest[out.index] = False
    assert (loss.labels[rest] == -1).all()


def test_crd_class_exclusive_negatives():
    """The authors' supervised sampling: K negatives of other classes, never the sample
    itself, without replacement while the bank has K of them."""
    torch.manual_seed(0)
    loss = crd_with_labels(NUM_TRAIN, nce_k=16)
    loss.labels.copy_(torch.arange(NUM_TRAIN) % 5)  # 32 rows of other classes per class
    index = torch.tensor([0, 1, 7, 12, 33])
    y = loss.labels[index]
    for _ in range(20):
        idx = loss.sample_contrast(index, y)
        assert idx.shape == (5, 17) and torch.equal(idx[:, 0], index)
        neg = idx[:, 1:]
        assert (loss.labels[neg] != y[:, None]).all()
        assert all(len(set(row.tolist())) == 16 for row in neg)  # no repeats
    torch.manual_seed(3)  # drawn from torch's RNG (checkpointed): a resumed run redraws them
    first = loss.sample_contrast(index, y)
    torch.manual_seed(3)
    assert torch.equal(loss.sample_contrast(index, y), first)


def test_crd_class_exclusive_with_unwritten_rows_and_small_banks():
    """A row never written (label -1, still random) may be a negative, the sample's own row
    never; with fewer eligible rows than K, negatives repeat (drawn with replacement)."""
    torch.manual_seed(0)
    loss = crd_with_labels(6, nce_k=16)
    index, y = torch.tensor([0, 3]), torch.tensor([1, 2])
    for _ in range(20):
        neg = loss.sample_contrast(index, y)[:, 1:]
        assert (neg != index[:, None]).all()
    loss.labels.copy_(torch.tensor([1, 1, 2, 2, 1, 4]))
    neg = loss.sample_contrast(index, y)[:, 1:]
    assert set(neg[0].tolist()) <= {2, 3, 5} and set(neg[1].tolist()) <= {0, 1, 4, 5}
    loss.labels.fill_(1)
    with pytest.raises(TrainingError, match="negatives: any"):
        loss.sample_contrast(torch.tensor([0]), torch.tensor([1]))


def test_crd_any_negatives_are_uniform_over_the_bank():
    torch.manual_seed(0)
    loss = crd_with_labels(NUM_TRAIN, nce_k=64, negatives="any")
    loss.labels.copy_(torch.arange(NUM_TRAIN) % 5)
    index = torch.tensor([0, 1])
    neg = torch.cat([loss.sample_contrast(index, loss.labels[index])[:, 1:] for _ in range(20)])
    assert (loss.labels[neg] == loss.labels[index].repeat(20)[:, None]).any()  # same class too
    assert (neg == index.repeat(20)[:, None]).any()  # and the sample itself, as in NCEAverage


@pytest.mark.parametrize("case", golden_cases(LOSS_NAMES), ids=lambda c: c["name"])
def test_golden(case):
    assert_golden(case)
