"""Registered models: one file per family in `edgekd.models.zoo`, each with width/depth knobs.

A family is a `ModelFamily` subclass: an `Options` model, a `description`,
`build(options, input_shape, num_classes) -> nn.Module` and `check_input(options,
input_shape, where)`, which refuses a sample shape the family cannot read with a ConfigError
naming the YAML key, before any model is built. The user's own code is the family `user`
(`edgekd.models.zoo.user`): a `model:` written `file.py:fn` or `package.module:fn` names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import torch
from pydantic import BaseModel, Field
from torch import nn

from edgekd.errors import ConfigError
from edgekd.registry import Plugin, Registry

# Sizes a model option may take: real models stay far below these; a typo such as 2**40
# channels is refused at load instead of failing (or allocating) inside torch.
Width = Annotated[int, Field(ge=1, le=16384)]
MAX_LAYERS = 256

MODELS: Registry[type[ModelFamily]] = Registry("model", "edgekd.models.zoo")


class ModelFamily(Plugin):
    """The contract of a model family. Plugins are used as classes, never instantiated.

    `examples` (options) and `example_shapes` (per-sample input shapes it reads) are what the
    shared tests build and run; `check_input` must also refuse shapes it cannot read,
    the empty shape `()` among them.
    """

    example_shapes: ClassVar[tuple[tuple[int, ...], ...]] = ()

    @classmethod
    def build(cls, options: Any, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        raise NotImplementedError

    @classmethod
    def check_input(cls, options: Any, input_shape: tuple[int, ...], where: str) -> None:
        """Raise a ConfigError naming `where` if the family cannot read `input_shape`."""
        raise NotImplementedError(f"{cls.__name__} must say which input shapes it reads")

    @classmethod
    def check_build(cls, options: Any, input_shape, num_classes: int, where: str) -> None:
        """Raise a ConfigError naming `where` if the model cannot be built for this data.
        The zoo's families always can; the user's code is built and run once here."""

    @classmethod
    def source_digests(cls, options: Any, where: str) -> list[list[str]]:
        """[path, sha256] of code outside edgekd that `build` runs (the user's file), for
        the keys of the stages that build the model."""
        return []


def family_of(name: str) -> type[ModelFamily]:
    """The family a `model:` string names: registered, or the user's code (`user`)."""
    from edgekd.config.coderef import is_code_ref

    return MODELS.get("user" if is_code_ref(name) else name)


def need_rank(
    input_shape: Sequence[int], ranks: tuple[int, ...] | None, what: str, where: str
) -> None:
    """Refuse empty samples and those whose number of axes is not in `ranks` (None: any);
    `what` names the family and the layout it reads."""
    fits = ranks is None or len(input_shape) in ranks
    if not fits or not input_shape or not all(int(d) > 0 for d in input_shape):
        raise ConfigError(
            f"{where}: {what}, but the data's samples have shape {list(input_shape)}. Pick a "
            "model that reads this shape (mlp reads any shape, flattened), or store the data "
            "in the layout this model reads."
        )


def build_model(
    name: str, options: dict[str, Any] | BaseModel, input_shape, num_classes: int, where: str = ""
) -> nn.Module:
    """Model `name` for samples of `input_shape`; `options` typed or a dict to parse."""
    from edgekd.config.coderef import is_code_ref

    family = family_of(name)
    if is_code_ref(name) and isinstance(options, dict) and "factory" not in options:
        options = {"factory": name, "kwargs": options}  # the YAML's form: options = kwargs
    opts = family.parse_options(options)
    family.check_input(opts, tuple(input_shape), where or f"model '{name}'")
    return family.build(opts, tuple(input_shape), num_classes)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_shape) -> int:
    """FLOPs of one batch-1 forward pass, counted by torch.utils.flop_counter."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *input_shape))
    model.train(was_training)
    return int(counter.get_total_flops())


def conv_nd(dims: int) -> type[nn.Module]:
    return nn.Conv1d if dims == 1 else nn.Conv2d


def bn_nd(dims: int) -> type[nn.Module]:
    return nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
