"""Helpers for the loss tests: build a registered loss on small random or golden inputs.

Feature layouts: "flat" (N, D), "1d" (N, C, L), "2d" (N, C, H, W) and "logits" (no tap).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from edgekd.config.validate import validate_options
from edgekd.distill.losses import LOSSES, DistillLoss, LossContext, Outputs

GOLDEN_PATH = Path(__file__).parent / "fixtures" / "loss_golden.json"
N, K = 8, 5
S_SHAPES = {"flat": (7,), "1d": (3, 8), "2d": (2, 4, 4)}
T_SHAPES = {"flat": (5,), "1d": (4, 8), "2d": (3, 4, 4)}

# Options that make each loss read the tapped pair "s" / "t" (small sizes where the paper's
# defaults are sized for ImageNet, e.g. CRD's 16384 negatives).
PAIR = {"student_layer": "s", "teacher_layer": "t"}
PAIRS = {"student_layers": ["s"], "teacher_layers": ["t"]}
TEST_OPTIONS = {
    "kd": {},
    "dkd": {"warmup": 0.0},
    "dist": {},
    "fitnets": PAIR,
    "at": PAIRS,
    "nst": PAIRS,
    "rkd": PAIR,
    "pkt": PAIR,
    "sp": PAIR,
    "crd": PAIR | {"nce_k": 16, "feat_dim": 8},
}
NUM_TRAIN = 40


def build(name: str, options: dict, ctx: LossContext) -> DistillLoss:
    cls = LOSSES.get(name)
    return cls(validate_options(cls, options, "test", ("options",)), ctx)


def make(name: str, layout: str, equal: bool = False, seed: int = 0):
    """A loss and one batch of Outputs whose student tensors require grad.

    With `equal`, the teacher's features/logits are copies of the student's (same shapes).
    """
    g = torch.Generator().manual_seed(seed)
    s_logits = torch.randn(N, K, generator=g)
    t_logits = s_logits.clone() if equal else torch.randn(N, K, generator=g)
    s_feats, t_feats, ctx = {}, {}, LossContext(K, NUM_TRAIN)
    options = dict(TEST_OPTIONS[name])
    if layout == "logits":
        options = {k: v for k, v in options.items() if k not in PAIR and k not in PAIRS}
    else:
        s_shape = S_SHAPES[layout]
        t_shape = s_shape if equal else T_SHAPES[layout]
        s = torch.randn(N, *s_shape, generator=g)
        s_feats, t_feats = {"s": s}, {"t": s.clone() if equal else torch.randn(N, *t_shape)}
        ctx = LossContext(K, NUM_TRAIN, {"s": s_shape}, {"t": t_shape})
    for v in [s_logits, *s_feats.values()]:
        v.requires_grad_(True)
    y = torch.randint(0, K, (N,), generator=g)
    index = torch.randperm(NUM_TRAIN, generator=g)[:N]
    out = Outputs(torch.zeros(N, 1, 40), y, s_logits, t_logits, s_feats, t_feats, index=index)
    torch.manual_seed(seed)  # parameter init and CRD negatives
    return build(name, options, ctx), out


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
        loss.sample_contrast = lambda index: stored
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
    loss, out = make(name, layout)
    value = loss(out)
    assert value.shape == () and torch.isfinite(value), value


def assert_grads_reach_student(name: str, layout: str) -> None:
    """Backward reaches the student's tensors and every parameter of the loss (adapters)."""
    loss, out = make(name, layout)
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


def loss_names_under_test() -> list[str]:
    """The union of LOSS_NAMES declared by the tests/test_losses_*.py modules."""
    import importlib

    names: list[str] = []
    for f in sorted(Path(__file__).parent.glob("test_losses_*.py")):
        names += getattr(importlib.import_module(f.stem), "LOSS_NAMES", ())
    return names
