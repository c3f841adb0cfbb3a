"""Helpers for the loss tests: build a registered loss on small random or golden inputs.

Feature layouts: "flat" (N, D), "1d" (N, C, L), "2d" (N, C, H, W) and "logits" (no tap).
Which losses and options are tested comes from the registry and each loss's `examples`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from edgekd.config.validate import validate_options
from edgekd.distill.losses import LOSSES, DistillLoss, LossContext, Outputs
from edgekd.errors import ConfigError

GOLDEN_PATH = Path(__file__).parent / "fixtures" / "loss_golden.json"
N, K = 8, 5
S_SHAPES = {"flat": (7,), "1d": (3, 8), "2d": (2, 4, 4)}
T_SHAPES = {"flat": (5,), "1d": (4, 8), "2d": (3, 4, 4)}
# The layouts a loss of each kind is tried on; a loss may refuse one (ConfigError when built).
LAYOUTS = {
    "response": ("logits",),
    "feature": ("flat", "1d", "2d"),
    "relation": ("logits", "flat", "1d", "2d"),
}
NUM_TRAIN = 40


def names_of_kind(kind: str) -> tuple[str, ...]:
    """The registered losses of one kind: what each tests/test_losses_<kind>.py covers."""
    return tuple(name for name, cls in LOSSES.items() if cls.kind == kind)


def cases_of_kind(kind: str) -> list[tuple[str, str]]:
    """Every (loss, layout) pair the loss accepts; refusals are tested on their own
    (e.g. attention transfer on flat features, which have no spatial axes)."""
    return [
        (name, layout)
        for name in names_of_kind(kind)
        for layout in LAYOUTS[kind]
        if accepts(name, layout)
    ]


def accepts(name: str, layout: str) -> bool:
    try:
        make(name, layout)
    except ConfigError:
        return False
    return True


def example_for(name: str, layout: str) -> dict:
    """The loss's first example that reads features (or, for "logits", that reads none)."""
    cls = LOSSES.get(name)
    for example in cls.examples:
        s_paths, t_paths = cls.taps(cls.parse_options(example))
        if bool(s_paths or t_paths) == (layout != "logits"):
            return dict(example)
    raise AssertionError(f"loss '{name}' declares no example for {layout} inputs")


def build(name: str, options: dict, ctx: LossContext) -> DistillLoss:
    cls = LOSSES.get(name)
    return cls(validate_options(cls, options, "test", ("options",)), ctx)


def make(name: str, layout: str, equal: bool = False, seed: int = 0):
    """A loss (built from its example) and one batch of Outputs whose student tensors
    require grad, with features at the layers the example taps.

    With `equal`, the teacher's features/logits are copies of the student's (same shapes).
    """
    g = torch.Generator().manual_seed(seed)
    s_logits = torch.randn(N, K, generator=g)
    t_logits = s_logits.clone() if equal else torch.randn(N, K, generator=g)
    options = example_for(name, layout)
    cls = LOSSES.get(name)
    s_paths, t_paths = cls.taps(cls.parse_options(options))
    s_feats, t_feats, ctx = {}, {}, LossContext(K, NUM_TRAIN)
    if layout != "logits":
        s_shape = S_SHAPES[layout]
        t_shape = s_shape if equal else T_SHAPES[layout]
        s_feats = {p: torch.randn(N, *s_shape, generator=g) for p in s_paths}
        t_feats = {p: torch.randn(N, *t_shape, generator=g) for p in t_paths}
        if equal:  # pair i of the student copies to pair i of the teacher
            t_feats = {tp: s_feats[sp].clone() for sp, tp in zip(s_paths, t_paths)}
        ctx = LossContext(
            K, NUM_TRAIN, dict.fromkeys(s_paths, s_shape), dict.fromkeys(t_paths, t_shape)
        )
    for v in [s_logits, *s_feats.values()]:
        v.requires_grad_(True)
    y = torch.randint(0, K, (N,), generator=g)
    index = torch.randperm(NUM_TRAIN, generator=g)[:N]
    out = Outputs(torch.zeros(N, 1, 40), y, s_logits, t_logits, s_feats, t_feats, index=index)
    torch.manual_seed(seed)  # parameter init and CRD negatives
    return build(name, options, ctx), out


def made(name: str, layout: str, **kw):
    """`make` for a pair from `cases_of_kind`, which the loss accepts."""
    return make(name, layout, **kw)


def golden_cases(names) -> list[dict]:
    cases = json.loads(GOLDEN_PATH.read_text())["cases"]
    return [c for c in cases if c["loss"] in names]


def from_golden(case: dict):
    """The loss (with the stored parameters, in float64) and the stored inputs as Outputs."""

    def t(v, dtype=torch.float64):
        return torch.tensor(v, dtype=dtype)

    c = case["ctx"]
    ctx = LossContext(
        c["num_classes"],
        c["num_train"],
        {k: tuple(v) for k, v in c["s_shapes"].items()},
        {k: tuple(v) for k, v in c["t_shapes"].items()},
    )
    loss = build(case["loss"], case["options"], ctx).double()
    if "params" in case:
        state = loss.state_dict() | {k: t(v) for k, v in case["params"].items()}
        loss.load_state_dict(state)
    if "contrast" in case:  # the stored negatives replace the random draw
        stored = t(case["contrast"], torch.long)
        loss.sample_contrast = lambda index, y: stored
    x = case["inputs"]
    out = Outputs(
        torch.zeros(1),
        t(x["y"], torch.long),
        t(x["s_logits"]),
        t(x["t_logits"]),
        {k: t(v) for k, v in case["s_feats"].items()},
        {k: t(v) for k, v in case["t_feats"].items()},
        index=t(x["index"], torch.long) if "index" in x else None,
    )
    return loss, out


def assert_finite_scalar(name: str, layout: str) -> None:
    loss, out = made(name, layout)
    value = loss(out)
    assert value.shape == () and torch.isfinite(value), value


def assert_grads_reach_student(name: str, layout: str) -> None:
    """Backward reaches the student's tensors and every parameter of the loss (adapters)."""
    loss, out = made(name, layout)
    loss(out).backward()
    student = [out.s_logits] if layout == "logits" else list(out.s_feats.values())
    for tensor in student:
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0
    for pname, p in loss.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient for {pname}"
    assert all(t.grad is None for t in out.t_feats.values())


def assert_golden(case: dict) -> None:
    import pytest

    loss, out = from_golden(case)
    assert loss(out).item() == pytest.approx(case["value"], rel=1e-5, abs=1e-10)
