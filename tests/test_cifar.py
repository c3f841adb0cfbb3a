"""The CIFAR loader on small files written in the exact python-pickle layout, its safety,
the crop+flip augmentation, and the CIFAR benchmark models."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from edgekd.data import DATASETS, check_raw
from edgekd.errors import DataError

N = 4  # images per batch file


def batch(rng, n: int, label_keys: dict[str, int]) -> dict:
    d = {
        b"batch_label": b"training batch 1 of 5",
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img{i}.png".encode() for i in range(n)],
    }
    for key, classes in label_keys.items():
        d[key.encode()] = [int(v) for v in rng.integers(0, classes, n)]
    return d


def dump(obj, path, protocol=2):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


@pytest.fixture
def cifar10(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for i in range(1, 6):
        dump(batch(rng, N, {"labels": 10}), root / f"data_batch_{i}")
    dump(batch(rng, N, {"labels": 10}), root / "test_batch")
    names = [
        b"airplane",
        b"automobile",
        b"bird",
        b"cat",
        b"deer",
        b"dog",
        b"frog",
        b"horse",
        b"ship",
        b"truck",
    ]
    dump(
        {b"label_names": names, b"num_cases_per_batch": N, b"num_vis": 3072}, root / "batches.meta"
    )
    return tmp_path


@pytest.fixture
def cifar100(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    keys = {"fine_labels": 100, "coarse_labels": 20}
    dump(batch(rng, 2 * N, keys), root / "train", protocol=4)
    dump(batch(rng, N, keys), root / "test", protocol=5)
    dump(
        {
            b"fine_label_names": [f"f{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"c{i}".encode() for i in range(20)],
        },
        root / "meta",
    )
    return tmp_path


def load(**options):
    plugin = DATASETS.get("cifar")
    return plugin.load(plugin.parse_options(options))


def test_cifar10_layout(cifar10):
    raw = load(path=str(cifar10))  # the parent folder is accepted too
    check_raw(raw, "cifar")
    assert raw.x_train.shape == (5 * N, 3, 32, 32) and raw.x_test.shape == (N, 3, 32, 32)
    assert raw.labels[0] == "airplane" and len(raw.labels) == 10
    assert raw.augment == "crop4-flip"
    first = pickle.load(
        open(cifar10 / "cifar-10-batches-py" / "data_batch_1", "rb"), encoding="bytes"
    )
    pixels = first[b"data"][0].reshape(3, 32, 32) / 255.0
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    expected = (pixels - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    assert np.allclose(raw.x_train[0], expected, atol=1e-5)  # channel-first, normalised
    assert raw.y_train[:N].tolist() == first[b"labels"]
    plain = load(path=str(cifar10 / "cifar-10-batches-py"), normalize=False, augment=False)
    assert plain.augment == "" and plain.x_train.max() <= 1.0


def test_cifar100_fine_and_coarse(cifar100):
    fine = load(path=str(cifar100), variant="cifar100")
    coarse = load(path=str(cifar100), labels="coarse")
    assert len(fine.labels) == 100 and len(coarse.labels) == 20
    assert fine.x_train.shape == (2 * N, 3, 32, 32)
    assert coarse.y_test.max() < 20


def test_a_pickle_with_code_is_refused(cifar10, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    dump({b"data": Evil(), b"labels": [0]}, cifar10 / "cifar-10-batches-py" / "test_batch")
    with pytest.raises(DataError, match="refused: global .io.open. is not allowed"):
        load(path=str(cifar10))
    assert not marker.exists()


def test_truncated_and_missing_files(cifar10, tmp_path):
    path = cifar10 / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load(path=str(cifar10))
    with pytest.raises(DataError, match="no CIFAR python batches"):
        load(path=str(tmp_path / "nowhere"))


def test_crop_flip_augmentation():
    from edgekd.data.augment import get_augmentation
    from edgekd.data.augment.crop_flip import CropFlip, crop_flip

    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8) + 1
    a = crop_flip(x, torch.Generator().manual_seed(0))
    b = crop_flip(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)  # seeded: a resume sees the same batches
    outs = [crop_flip(x, torch.Generator().manual_seed(s)) for s in range(20)]
    assert any(not torch.equal(o, x) for o in outs)
    # every output is a shifted (zero-padded) window of the input, maybe mirrored
    for o in outs:
        for img, src in zip(o, x):
            vals = set(img.unique().tolist()) - {0.0}
            assert vals <= set(src.unique().tolist())
    assert get_augmentation("") is None and isinstance(get_augmentation("crop4-flip"), CropFlip)


@pytest.mark.parametrize(
    "name,options,published_m",
    [  # parameter counts (millions) at 100 classes as listed by CRD / mdistiller
        ("resnet", {"depth": 32, "width": 32, "width_mult": [2, 4, 8]}, 7.43),
        ("resnet", {"depth": 8, "width": 32, "width_mult": [2, 4, 8]}, 1.23),
        ("wrn", {"depth": 40, "widen_factor": 2}, 2.26),
        ("wrn", {"depth": 16, "widen_factor": 2}, 0.70),
        ("vgg", {"depth": 13}, 9.46),
        ("vgg", {"depth": 8}, 3.96),
        ("mobilenetv2", {"width_mult": 0.5}, 0.81),
    ],
)
def test_cifar_models_match_published_sizes(name, options, published_m):
    from edgekd.models import build_model, count_params

    model = build_model(name, options, (3, 32, 32), 100)
    assert abs(count_params(model) / 1e6 - published_m) / published_m < 0.02
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 100)
    small = build_model(name, options, (1, 40), 10)  # 1-D signals work too
    assert small(torch.zeros(2, 1, 40)).shape == (2, 10)


def test_cifar_recipe_loads():
    from conftest import REPO

    from edgekd.config.load import load_pipeline

    cfg = load_pipeline(REPO / "pipelines" / "cifar100_resnet32x4_resnet8x4.yaml")
    train = cfg.students[0].train
    assert (train.epochs, train.lr, train.batch_size, train.weight_decay) == (240, 0.05, 64, 5e-4)
    assert train.milestones == [150, 180, 210] and train.optimizer == "sgd"
    assert cfg.students[0].distill.losses[0].options.temperature == 4.0
