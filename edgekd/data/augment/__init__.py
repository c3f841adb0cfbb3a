"""Training-batch augmentations: one file each in this package, registered by name.

A dataset names its default augmentation (`RawData.augment`); the trainer applies it to every
training batch as `augmentation(x, generator) -> x`, with the generator seeded per epoch, so
a resumed run sees the same augmented batches as an uninterrupted one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from edgekd.registry import Plugin, Registry

if TYPE_CHECKING:
    import torch

AUGMENTATIONS: Registry[type[Augmentation]] = Registry("augmentation", "edgekd.data.augment")


class Augmentation(Plugin):
    """The contract of an augmentation: built from its options, called on float batches.

    It must draw every random number from the generator it is given (never the global
    one) and keep the batch's shape. `example_shapes` are per-sample shapes it works on,
    for the shared tests.
    """

    example_shapes: ClassVar[tuple[tuple[int, ...], ...]] = ()

    def __init__(self, options: Any = None):
        self.options = self.parse_options(options)

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        raise NotImplementedError


def get_augmentation(name: str, options: Any = None) -> Augmentation | None:
    """The augmentation registered as `name` (None for ""), built with its options."""
    if not name:
        return None
    return AUGMENTATIONS.get(name)(options)
