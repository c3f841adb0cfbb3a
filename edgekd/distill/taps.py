"""Named feature taps: capture any submodule's output by its path, with forward hooks.

`Taps(model, ["layer3", "features.5"])` records those modules' outputs during forward; the
model's own code is untouched, so the exported student's architecture never changes.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from edgekd.errors import ConfigError, format_choices


def resolve(model: nn.Module, path: str) -> nn.Module:
    modules = dict(model.named_modules())
    if path not in modules:
        names = [n for n in modules if n]
        raise ConfigError(
            f"no module '{path}' in {type(model).__name__}. Valid module paths: "
            f"{format_choices(path, names)}."
        )
    return modules[path]


class Taps:
    """Context manager that records `{path: output}` for each named module on every forward."""

    def __init__(self, model: nn.Module, paths: Iterable[str]):
        self.model = model
        self.paths = list(dict.fromkeys(paths))
        self.out: dict[str, torch.Tensor] = {}
        self._handles = []

    def __enter__(self) -> Taps:
        for path in self.paths:
            module = resolve(self.model, path)
            self._handles.append(module.register_forward_hook(self._hook(path)))
        return self

    def _hook(self, path: str):
        def hook(_module, _inputs, output):
            self.out[path] = output[0] if isinstance(output, tuple) else output

        return hook

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


@torch.no_grad()
def probe_shapes(model: nn.Module, paths: Iterable[str], input_shape) -> dict[str, tuple]:
    """Per-sample output shape of each tapped module, from one dry forward pass."""
    paths = list(paths)
    if not paths:
        return {}
    was = model.training
    model.eval()
    with Taps(model, paths) as taps:
        model(torch.zeros(2, *input_shape, device=device_of(model)))
    model.train(was)
    return {p: tuple(taps.out[p].shape[1:]) for p in paths}


def device_of(model: nn.Module) -> torch.device:
    """Where a model's parameters live (the CPU for one without parameters)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def adapter(s_shape: tuple, t_shape: tuple) -> nn.Module:
    """A trainable map from student to teacher feature shape (1x1 conv or linear).

    It lives in the loss, is trained with the student and never exported.
    """
    if s_shape == t_shape:
        return nn.Identity()
    if len(s_shape) == len(t_shape) and len(s_shape) in (2, 3):
        conv = nn.Conv1d if len(s_shape) == 2 else nn.Conv2d
        layers: list[nn.Module] = [conv(s_shape[0], t_shape[0], 1, bias=False)]
        if s_shape[1:] != t_shape[1:]:
            pool = nn.AdaptiveAvgPool1d if len(s_shape) == 2 else nn.AdaptiveAvgPool2d
            layers.append(pool(t_shape[1:]))
        return nn.Sequential(*layers)
    s_flat, t_flat = int(torch.Size(s_shape).numel()), int(torch.Size(t_shape).numel())
    return nn.Sequential(nn.Flatten(), nn.Linear(s_flat, t_flat), nn.Unflatten(1, t_shape))
