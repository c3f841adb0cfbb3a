"""Augmentations are a registry: each one conforms, crop4-flip is batched and unchanged, and a
resumed training run with augmentation is bitwise the uninterrupted one."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from pluginlib import check_augmentation

from edgekd.data.augment import AUGMENTATIONS, Augmentation, get_augmentation
from edgekd.errors import UnknownNameError


@pytest.mark.parametrize("name", AUGMENTATIONS.names())
def test_augmentation_conforms(name):
    augmentation = AUGMENTATIONS.get(name)
    assert issubclass(augmentation, Augmentation) and augmentation.description
    assert augmentation.Options.model_config.get("extra") == "forbid"
    check_augmentation(augmentation)


def test_unknown_augmentation_names_the_choices():
    with pytest.raises(UnknownNameError, match="crop4-flip"):
        get_augmentation("crop-flip")


def loop_crop_flip(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """The per-sample loop crop4-flip was before it was batched (kept as the reference)."""
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


@pytest.mark.parametrize("shape", [(64, 3, 32, 32), (50, 1, 40), (7, 2, 5, 9)])
def test_batched_crop_flip_equals_the_loop(shape):
    """Same random draws in the same order: the same batches, bitwise, batch after batch."""
    aug = get_augmentation("crop4-flip")
    x = torch.randn(*shape)
    ref_gen, gen = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for _ in range(3):
        assert torch.equal(aug(x, gen), loop_crop_flip(x, ref_gen))


class Interrupt(Exception):
    pass


class StopAfterFirstEpoch:
    """A reporter that interrupts training once the first epoch's checkpoint is written."""

    def line(self, _text):
        pass

    def task(self, _label, _total):
        from contextlib import contextmanager

        @contextmanager
        def task():
            def advance(**_):
                raise Interrupt

            yield advance

        return task()


def test_resume_with_augmentation_is_bitwise(tmp_path):
    from torch import nn

    from edgekd.config.schema import TrainConfig
    from edgekd.distill.trainer import CKPT, fit
    from edgekd.progress import Reporter

    x = torch.randn(48, 3, 8, 8).numpy()
    y = (torch.arange(48) % 3).numpy()
    cfg = TrainConfig(epochs=3, batch_size=16)

    def train(folder, reporter):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(192, 3))
        loss = nn.CrossEntropyLoss()
        aug = get_augmentation("crop4-flip")
        batch_loss = lambda _i, xb, yb: loss(model(xb), yb)  # noqa: E731
        fit(model, batch_loss, model, x, y, None, cfg, 0, folder, "m", reporter, augment=aug)
        return model.state_dict()

    (tmp_path / "whole").mkdir()
    (tmp_path / "resumed").mkdir()
    whole = train(tmp_path / "whole", Reporter(quiet=True))
    with pytest.raises(Interrupt):
        train(tmp_path / "resumed", StopAfterFirstEpoch())
    assert torch.load(tmp_path / "resumed" / CKPT, weights_only=True)["epoch"] == 1
    resumed = train(tmp_path / "resumed", Reporter(quiet=True))
    for k in whole:
        assert torch.equal(whole[k], resumed[k]), k
