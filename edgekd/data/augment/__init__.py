"""Training-batch augmentations: one file each in this package, registered by name.

A dataset names its default augmentation (`RawData.augment`); a pipeline may choose its own
list instead (`data.augment: [{name: shift, options: {max: 4}}, {name: mixup}]`, applied in
order; `[]` for none). The trainer applies it to every training batch with a generator
seeded per (seed, epoch), so a resumed run sees the same augmented batches as an
uninterrupted one, and every scheme's teacher reads that same augmented batch.

Most augmentations transform each sample (`__call__(x, generator) -> x`). Those that blend
two samples (mixup, cutmix) also mix their labels: they subclass `Mixing` and return the
blend from `apply` as a `LabelMix`, which the trainer turns into the mixed cross-entropy
lam * CE(y) + (1 - lam) * CE(y[perm]) (see `edgekd.data.augment.mixing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from edgekd.registry import Plugin, Registry

if TYPE_CHECKING:
    import torch

AUGMENTATIONS: Registry[type[Augmentation]] = Registry("augmentation", "edgekd.data.augment")


@dataclass(frozen=True)
class LabelMix:
    """Row i of a mixed batch blends sample i (weight `lam`) with sample `perm[i]`."""

    perm: torch.Tensor  # int64 (N,), a permutation of the batch's rows
    lam: float  # in [0, 1]: the share of the row's own sample (and label)


@dataclass(frozen=True)
class Augmented:
    """An augmented batch, with how its labels mix (None: each row keeps its label)."""

    x: torch.Tensor
    mix: LabelMix | None = None


class Augmentation(Plugin):
    """The contract of an augmentation: built from its options, called on float batches.

    It must draw every random number from the generator it is given (never the global one),
    keep the batch's shape and dtype, leave its input alone, and work on the whole batch at
    once (tensor ops, no Python loop per sample). `example_shapes` are per-sample shapes it
    works on, for the shared tests; `sample_ranks` the per-sample ranks it accepts (empty:
    any), checked against the data before training.
    """

    example_shapes: ClassVar[tuple[tuple[int, ...], ...]] = ()
    sample_ranks: ClassVar[tuple[int, ...]] = ()
    mixes_labels: ClassVar[bool] = False  # True: a `Mixing` augmentation

    def __init__(self, options: Any = None):
        self.options = self.parse_options(options)

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def apply(self, x: torch.Tensor, gen: torch.Generator) -> Augmented:
        """The augmented batch and its label mix; what the trainer calls."""
        return Augmented(self(x, gen))

    @classmethod
    def check_shape(cls, shape: tuple[int, ...], where: str) -> None:
        """Refuse, before training, samples of a rank this augmentation cannot transform."""
        if cls.sample_ranks and len(shape) not in cls.sample_ranks:
            from edgekd.errors import ConfigError

            ranks = " or ".join(str(r) for r in cls.sample_ranks)
            raise ConfigError(
                f"{where}: this augmentation works on samples with {ranks} axes "
                f"(e.g. {list(cls.example_shapes[0]) if cls.example_shapes else '?'}), but "
                f"the data's samples have shape {list(shape)}. Pick another augmentation."
            )


class Mixing(Augmentation):
    """An augmentation that blends pairs of samples, and so their labels: it implements
    `apply`, returning a `LabelMix`; called plainly it gives the blended inputs alone."""

    mixes_labels = True

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return self.apply(x, gen).x

    def apply(self, x: torch.Tensor, gen: torch.Generator) -> Augmented:
        raise NotImplementedError


class Chain(Augmentation):
    """Several augmentations applied in order (a pipeline's `data.augment` list). At most one
    of them mixes labels (checked at config load); later ones keep its row pairing."""

    description = "the pipeline's augmentations, in order"

    def __init__(self, parts: Sequence[Augmentation]):
        super().__init__()
        self.parts = list(parts)

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return self.apply(x, gen).x

    def apply(self, x: torch.Tensor, gen: torch.Generator) -> Augmented:
        mix = None
        for part in self.parts:
            out = part.apply(x, gen)
            x, mix = out.x, out.mix or mix
        return Augmented(x, mix)


def get_augmentation(spec: str | Sequence[Any], options: Any = None) -> Augmentation | None:
    """The augmentation to apply: a registered name with its options (a dataset's default;
    None for ""), or a pipeline's list of `{name, options}` specs (None for [])."""
    if isinstance(spec, str):
        return AUGMENTATIONS.get(spec)(options) if spec else None
    parts = [AUGMENTATIONS.get(s.name)(s.options) for s in spec]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Chain(parts)
