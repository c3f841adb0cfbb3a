"""Registered models: one file per family in `edgekd.models.zoo`, each with width/depth knobs.

A model plugin is a class with an `Options` pydantic model, a `description`, and
`build(options, input_shape, num_classes) -> nn.Module`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from edgekd.registry import Registry

MODELS: Registry = Registry("model", "edgekd.models.zoo")


def build_model(name: str, options: dict[str, Any], input_shape, num_classes: int) -> nn.Module:
    plugin = MODELS.get(name)
    return plugin.build(plugin.Options.model_validate(options), tuple(input_shape), num_classes)


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
