"""Augmentations are a registry: each one conforms, crop4-flip is batched and unchanged, and a
resumed training run with augmentation is bitwise the uninterrupted one."""

from __future__ import annotations

import math

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


# ---------------------------------------------------------------- the signal and mixing plugins


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_shift_moves_each_sample_and_repeats_its_edge():
    x = torch.arange(10.0).repeat(64, 1, 1)  # (64, 1, 10): 0..9 in every sample
    out = get_augmentation("shift", {"max": 3})(x, gen())
    for row in out[:, 0]:
        s = int(row[5] - 5)  # the sample moved by -s (row[j] = x[j - offset])
        assert -3 <= s <= 3
        expected = (torch.arange(10.0) + s).clamp(0, 9)
        assert torch.equal(row, expected)
    assert len({int(r[5]) for r in out[:, 0]}) > 1, "every sample got the same shift"


def test_shift_wrap_rolls():
    x = torch.arange(8.0).repeat(16, 1)
    out = get_augmentation("shift", {"max": 2, "mode": "wrap"})(x, gen())
    for row in out:
        assert sorted(row.tolist()) == list(range(8))  # a roll keeps every value


def test_scale_multiplies_each_sample_within_bounds():
    x = torch.ones(32, 1, 5)
    out = get_augmentation("scale", {"low": 0.5, "high": 2.0})(x, gen())
    factors = out[:, 0, 0]
    assert torch.equal(out, factors.view(-1, 1, 1).expand_as(out))  # one factor per sample
    assert bool(((factors >= 0.5) & (factors <= 2.0)).all()) and factors.std() > 0


def test_noise_has_the_asked_spread():
    out = get_augmentation("noise", {"std": 0.5})(torch.zeros(64, 1, 40), gen())
    assert abs(float(out.std()) - 0.5) < 0.05 and abs(float(out.mean())) < 0.05


def test_mixup_blends_inputs_as_its_label_mix_says():
    x = torch.randn(16, 1, 40, generator=gen(5))
    out = get_augmentation("mixup", {"alpha": 0.4}).apply(x, gen())
    lam, perm = out.mix.lam, out.mix.perm
    assert torch.allclose(out.x, lam * x + (1 - lam) * x[perm])


@pytest.mark.parametrize("shape", [(3, 16, 16), (1, 40)])
def test_cutmix_pastes_one_box_and_lam_is_the_area_kept(shape):
    x = torch.arange(8 * math.prod(shape), dtype=torch.float32).view(8, *shape)  # all distinct
    out = get_augmentation("cutmix", {"alpha": 1.0}).apply(x, gen(1))
    moved = out.mix.perm != torch.arange(8)
    assert bool(moved.any())
    pasted = (out.x != x).any(dim=1)  # (8, *spatial): where a sample took another's values
    assert torch.equal(torch.where(pasted.unsqueeze(1), x[out.mix.perm], x), out.x)
    areas = pasted[moved].float().flatten(1).mean(1)
    assert torch.allclose(areas, torch.full_like(areas, 1 - out.mix.lam))  # one box, lam kept
    assert bool((~pasted[~moved]).all())


def test_a_list_is_applied_in_order_and_carries_the_label_mix():
    from edgekd.config.schema import AugmentSpec

    specs = [AugmentSpec(name="shift", options={"max": 2}), AugmentSpec(name="mixup")]
    chain = get_augmentation(specs)
    x = torch.randn(8, 1, 12, generator=gen(3))
    out = chain.apply(x, gen())
    g = gen()
    shifted = get_augmentation("shift", {"max": 2})(x, g)
    mixed = get_augmentation("mixup").apply(shifted, g)
    assert torch.equal(out.x, mixed.x) and torch.equal(out.mix.perm, mixed.mix.perm)
    assert get_augmentation([]) is None
    assert get_augmentation(specs[:1]).__class__.__name__ == "Shift"


def test_rank_check_names_the_key():
    from edgekd.errors import ConfigError

    with pytest.raises(ConfigError, match=r"data.augment\[1\].*2 or 3 axes.*\[8\]"):
        AUGMENTATIONS.get("cutmix").check_shape((8,), "data.augment[1]")
    AUGMENTATIONS.get("shift").check_shape((8,), "data.augment[0]")  # any rank


def test_mixed_cross_entropy_is_the_weighted_sum():
    from edgekd.data.augment.mixing import MixedLabels, cross_entropy, label_mix

    logits = torch.randn(6, 4, generator=gen(4))
    y, other = torch.tensor([0, 1, 2, 3, 0, 1]), torch.tensor([3, 3, 0, 1, 2, 2])
    plain = F.cross_entropy(logits, y)
    assert torch.equal(cross_entropy(logits, y), plain)
    with label_mix(MixedLabels(other, 0.3)):
        mixed = cross_entropy(logits, y)
    assert torch.allclose(mixed, 0.3 * plain + 0.7 * F.cross_entropy(logits, other))
    assert torch.equal(cross_entropy(logits, y), plain), "the mix outlived its step"
    unlabeled = torch.tensor([3, -1, 0, -1, 2, 2])  # transfer rows have no label to mix
    with label_mix(MixedLabels(unlabeled, 0.3)):
        part = cross_entropy(logits, y)
    keep = unlabeled >= 0
    expected = 0.3 * plain + 0.7 * F.cross_entropy(logits[keep], unlabeled[keep])
    assert torch.allclose(part, expected)
