"""Training-batch augmentations, named by a dataset and applied by the trainer.

Each is `(x, generator) -> x` on a float batch; the trainer seeds the generator per epoch so
a resumed run sees the same augmented batches as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from edgekd.errors import UnknownNameError

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def crop_flip(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop after zero padding by `pad`, then a random horizontal flip (CIFAR standard).

    Works on (N, C, H, W) images and, shifting along the length only, on (N, C, L) signals.
    """
    n, size = len(x), x.shape[2:]
    padded = F.pad(x, [pad, pad] * len(size))
    offsets = torch.randint(0, 2 * pad + 1, (n, len(size)), generator=gen)
    out = torch.empty_like(x)
    for i in range(n):
        slices = tuple(slice(int(o), int(o) + s) for o, s in zip(offsets[i], size))
        out[i] = padded[(i, slice(None), *slices)]
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


AUGMENTATIONS: dict[str, Augment] = {"crop4-flip": crop_flip}


def get_augmentation(name: str) -> Augment | None:
    if not name:
        return None
    if name not in AUGMENTATIONS:
        raise UnknownNameError("augmentation", name, AUGMENTATIONS)
    return AUGMENTATIONS[name]
