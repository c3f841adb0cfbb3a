"""Feature losses (fitnets, at, nst) on 1-D (N,C,L), 2-D (N,C,H,W) and, for FitNets, flat maps.

Golden values (tests/fixtures/loss_golden.json) come from tests/fixtures/make_loss_golden.py,
an independent float64 NumPy implementation of each paper's formula on stored inputs and
adapter weights; the torch losses must agree to a relative 1e-5.
"""

from __future__ import annotations

import pytest
from losslib import (
    LAYOUTS,
    assert_finite_scalar,
    assert_golden,
    assert_grads_reach_student,
    build,
    cases_of_kind,
    golden_cases,
    made,
    make,
    names_of_kind,
)
from torch import nn

from edgekd.distill.losses import LOSSES, LossContext
from edgekd.errors import ConfigError

LOSS_NAMES = names_of_kind("feature")  # every registered feature loss
# Each on every layout; one may refuse a layout when built (AT and NST compare spatial
# patterns: a flat (N, D) vector has none), which skips that case.
CASES = cases_of_kind("feature")


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_finite_scalar(name, layout):
    assert_finite_scalar(name, layout)


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_gradients_reach_student_and_adapter(name, layout):
    assert_grads_reach_student(name, layout)


@pytest.mark.parametrize(("name", "layout"), CASES)
def test_zero_when_teacher_equals_student(name, layout):
    # Same shapes: FitNets' adapter is the identity, so the MSE is 0; AT's attention maps and
    # NST's MMD between identical channel sets are 0 too.
    loss, out = made(name, layout, equal=True)
    assert loss(out).item() == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("case", golden_cases(LOSS_NAMES), ids=lambda c: c["name"])
def test_golden(case):
    assert_golden(case)


def test_fitnets_adapter_is_built_from_shapes():
    loss, _ = make("fitnets", "1d")
    conv = loss.adapter[0]
    assert isinstance(conv, nn.Conv1d) and (conv.in_channels, conv.out_channels) == (3, 4)
    loss, _ = make("fitnets", "2d")
    assert isinstance(loss.adapter[0], nn.Conv2d)
    loss, _ = make("fitnets", "flat")
    assert isinstance(loss.adapter[1], nn.Linear)


@pytest.mark.parametrize("name", ["at", "nst"])
def test_spatial_losses_refuse_flat_features(name):
    with pytest.raises(ConfigError, match="conv feature map"):
        make(name, "flat")


def test_mixed_1d_and_2d_maps_are_refused():
    ctx = LossContext(5, 10, {"s": (3, 8)}, {"t": (3, 4, 4)})
    with pytest.raises(ConfigError, match="both must be 1-D"):
        build("at", {"student_layers": ["s"], "teacher_layers": ["t"]}, ctx)


def test_untapped_layer_is_a_clear_error():
    with pytest.raises(ConfigError, match="did not tap"):
        build("fitnets", {"student_layer": "s", "teacher_layer": "t"}, LossContext(5, 10))


def test_layer_lists_must_pair_up():
    with pytest.raises(ConfigError, match="pair up"):
        build("nst", {"student_layers": ["a", "b"], "teacher_layers": ["t"]}, LossContext(5))


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_some_layout_is_accepted(name):
    accepted = []
    for layout in LAYOUTS["feature"]:
        try:
            make(name, layout)
        except ConfigError:
            continue
        accepted.append(layout)
    assert accepted, f"loss '{name}' refuses every feature layout"


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_taps_declare_the_configured_layers(name):
    opts = {"fitnets": {"student_layer": "a", "teacher_layer": "b"}}.get(
        name, {"student_layers": ["a", "c"], "teacher_layers": ["b", "d"]}
    )
    cls = LOSSES.get(name)
    s, t = cls.taps(cls.parse_options(opts))
    assert s[0] == "a" and t[0] == "b"
