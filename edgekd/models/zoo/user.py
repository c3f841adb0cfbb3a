"""The user's own model: `model: path/to/file.py:fn` (or `package.module:fn`) in a pipeline.

The factory is called with the YAML's `options` as keyword arguments (plus `num_classes` and
`input_shape` when it has parameters of those names) and must return an `nn.Module` that maps
(N, *input_shape) to (N, num_classes) logits. Before any training the model is built and run
once on a batch of the data's shape, so a factory that fails, returns something else or
outputs the wrong number of classes is one message naming the YAML key. The file's content
enters the key of every stage that builds the model.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from edgekd.config.coderef import CodeRef
from edgekd.config.usercode import (
    accepted,
    call,
    first_line,
    load_callable,
    raised_at,
    source_digests,
)
from edgekd.errors import ConfigError
from edgekd.models import MODELS, ModelFamily, need_rank


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    factory: CodeRef  # file.py:fn or package.module:fn
    kwargs: dict[str, Any] = Field(default_factory=dict)  # the YAML's options


def example_net(num_classes: int, input_shape: tuple, hidden: int = 8) -> nn.Module:
    """A factory as a user writes one (the shared tests build the `user` family with it)."""
    features = math.prod(input_shape)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
    )


def build_user_model(options: Options, input_shape, num_classes: int, where: str) -> nn.Module:
    ref = options.factory
    fn = load_callable(ref, where)
    kwargs = dict(options.kwargs)
    given = {"num_classes": num_classes, "input_shape": tuple(input_shape)}
    for name in accepted(fn, tuple(given)):
        kwargs.setdefault(name, given[name])
    model = call(fn, kwargs, ref, where)
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"{where}: {ref} returned {type(model).__name__}, not a torch.nn.Module. Return "
            "the model itself (e.g. `return Net(...)`), not a class, a state_dict or a tuple."
        )
    return model


def check_outputs(model: nn.Module, options: Options, shape, num_classes: int, where: str):
    """One forward pass on a batch of 2 zero inputs of the data's shape, in eval mode."""
    ref = options.factory
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, *shape))
    except Exception as exc:  # noqa: BLE001  anything the user's forward raises
        raise ConfigError(
            f"{where}: the model from {ref} fails on a batch of the data's inputs, shape "
            f"(2, {', '.join(map(str, shape))}): {type(exc).__name__}: {first_line(exc)}"
            f"{raised_at(exc, ref)}. Make it read inputs of that shape, or declare data.input."
        ) from None
    if not torch.is_tensor(out):
        raise ConfigError(
            f"{where}: the model from {ref} returns {type(out).__name__}; it must return the "
            f"logits as one tensor (N, {num_classes})."
        )
    if tuple(out.shape) != (2, num_classes):
        raise ConfigError(
            f"{where}: the model from {ref} outputs shape {tuple(out.shape)} for 2 inputs of "
            f"shape {list(shape)}, but the data has {num_classes} classes: it must output "
            f"(N, {num_classes}) logits. A factory parameter named num_classes receives it."
        )


@MODELS.register("user")
class UserModel(ModelFamily):
    Options = Options
    description = "your own nn.Module: `model: path/to/file.py:fn` (or package.module:fn)"
    examples = ({"factory": "edgekd.models.zoo.user:example_net", "kwargs": {"hidden": 4}},)
    example_shapes = ((7,), (1, 40), (3, 4, 4))

    @staticmethod
    def check_input(options: Options, input_shape, where: str) -> None:
        need_rank(input_shape, None, f"model {options.factory} reads non-empty samples", where)

    @staticmethod
    def check_build(options: Options, input_shape, num_classes: int, where: str) -> None:
        model = build_user_model(options, input_shape, num_classes, where)
        check_outputs(model, options, tuple(input_shape), num_classes, where)

    @staticmethod
    def source_digests(options: Options, where: str) -> list[list[str]]:
        return source_digests(options.factory, where)

    @staticmethod
    def build(options: Options, input_shape, num_classes: int) -> nn.Module:
        return build_user_model(options, input_shape, num_classes, f"model {options.factory}")
