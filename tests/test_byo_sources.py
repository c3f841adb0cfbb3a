"""Data from the user's files, streamed: memory-mapped arrays, image folders, a user's torch
Datasets, transfer sets, and the splits a data stage stores (indices, not a copy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgekd.data import DATASETS, make_splits
from edgekd.data.loader import BatchReader, sequential
from edgekd.data.npzfile import NpzLayoutError, map_npz, member_layout, write_npz
from edgekd.data.source import ArraySource, Concat, Rows
from edgekd.data.splits import Splits
from edgekd.errors import ConfigError, DataError


def load(name: str, **options):
    plugin = DATASETS.get(name)
    return plugin.load(plugin.parse_options(options))


# ---------------------------------------------------------------- npz files


def test_streamed_npz_reads_back_with_numpy_and_as_memory_maps(tmp_path):
    x = np.arange(60, dtype=np.float32).reshape(20, 3)
    src = ArraySource(x)
    write_npz(tmp_path / "a.npz", {"x": ((20, 3), np.float32, lambda a, b: src[a:b]), "y": x[:, 0]})
    with np.load(tmp_path / "a.npz") as z:  # what the profiling worker does
        assert np.array_equal(z["x"], x) and np.array_equal(z["y"], x[:, 0])
    mapped = map_npz(tmp_path / "a.npz")
    assert isinstance(mapped["x"], np.memmap) and np.array_equal(mapped["x"], x)


def test_a_compressed_member_cannot_be_mapped(tmp_path):
    np.savez_compressed(tmp_path / "c.npz", x=np.zeros((4, 2)))
    with pytest.raises(NpzLayoutError, match="compressed"):
        member_layout(tmp_path / "c.npz")


# ---------------------------------------------------------------- sources


def test_rows_and_concat_index_their_sources():
    x = np.arange(10, dtype=np.float32)[:, None]
    rows = Rows(x, np.array([7, 2, 5]))
    assert rows.shape == (3, 1) and rows[1:].ravel().tolist() == [2, 5]
    both = Concat(rows, np.full((2, 1), -1, np.float32))
    assert len(both) == 5 and both[[0, 3, 4, 2]].ravel().tolist() == [7, -1, -1, 5]


def test_a_mapped_file_is_read_at_its_offsets_and_views_release_their_pages(tmp_path, monkeypatch):
    from edgekd.data import source

    x = np.arange(64 * 256, dtype=np.float16).reshape(64, 256)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    src = ArraySource(mapped)
    assert src._file is not None and src._file[2] == 512  # pread: path, offset, row bytes
    idx = np.array([63, 0, 1, 2, 40, 7, 7])
    got = src.take(idx)
    assert got.dtype == np.float32 and np.array_equal(got, x[idx].astype(np.float32))
    view = ArraySource(mapped[8:])  # a view: indexed through the mapping
    assert view._file is None and view._mapped is not None
    released = []
    monkeypatch.setattr(source, "RELEASE_BYTES", 4096)
    monkeypatch.setattr(view, "release", lambda: released.append(1))
    for i in range(0, 56, 8):
        assert np.array_equal(view.take(np.arange(i, i + 8)), x[8 + i : 16 + i])
    assert released, "pages mapped by reading a view must be handed back"


def test_workers_give_the_batches_zero_workers_give(tmp_path):
    from edgekd.data.sets.image_folder import write_examples

    write_examples(tmp_path / "imgs", 5, 8)
    raw = load("image-folder", path=str(tmp_path / "imgs"))
    batches = [np.array([3, 0, 7]), np.array([1, 2]), np.array([9, 4, 5, 6])]
    plain = [b.numpy() for b in BatchReader(raw.x_train, 0).read(batches)]
    reader = BatchReader(raw.x_train, 2)
    for _ in range(2):  # persistent workers, a second pass
        pooled = [b.numpy() for b in reader.read(batches)]
        assert all(np.array_equal(a, b) for a, b in zip(plain, pooled))


def test_a_user_error_in_a_worker_arrives_as_itself(tmp_path):
    from edgekd.data.sets.image_folder import write_examples

    write_examples(tmp_path / "imgs", 3, 8)
    (tmp_path / "imgs" / "bar" / "bad.png").write_bytes(b"not an image")
    raw = load("image-folder", path=str(tmp_path / "imgs"))
    with pytest.raises(DataError, match="cannot be read") as err:
        list(sequential(raw.x_train, 4, workers=1))
    assert "Traceback" not in str(err.value)


# ---------------------------------------------------------------- arrays


def test_arrays_are_memory_mapped_and_split_by_index(tmp_path):
    x = np.random.default_rng(0).normal(size=(50, 2, 3)).astype(np.float16)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(50) % 5)
    raw = load("arrays", x=str(tmp_path / "x.npy"), y=str(tmp_path / "y.npy"))
    assert isinstance(raw.x_train, Rows) and isinstance(raw.x_train.source.array, np.memmap)
    assert len(raw.x_train) == 40 and len(raw.x_test) == 10 and raw.labels == list("01234")
    got = raw.x_train[:]
    assert got.dtype == np.float32 and np.array_equal(got, x[raw.x_train.index].astype(np.float32))


def test_arrays_from_an_uncompressed_npz_with_the_users_split(tmp_path):
    x = np.ones((12, 4), np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(12) % 2, x_test=x[:4], y_test=np.arange(4) % 2)
    raw = load("arrays", path=str(tmp_path / "d.npz"), labels=["no", "yes"])
    assert len(raw.x_train) == 12 and len(raw.x_test) == 4 and raw.labels == ["no", "yes"]
    np.savez_compressed(tmp_path / "z.npz", x=x, y=np.arange(12) % 2)
    with pytest.raises(DataError, match="compressed"):
        load("arrays", path=str(tmp_path / "z.npz"))


def test_splits_of_mapped_data_store_indices_not_a_copy(tmp_path):
    from pluginlib import tiny_pipeline

    from edgekd.stages.data import load_splits, run_data
    from edgekd.store import StageStore

    x = np.random.default_rng(0).normal(size=(400, 1, 256)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(400) % 4)
    opts = {"x": str(tmp_path / "x.npy"), "y": str(tmp_path / "y.npy")}
    cfg = tiny_pipeline({"dataset": "arrays", "options": opts, "calib_size": 8})
    res = StageStore(tmp_path / "run").run("data", "data", {}, {}, lambda d: run_data(cfg, d))
    assert not (res.path / "source.npz").exists() and not res.info["source"]["stored"]
    stored = (res.path / "data.npz").stat().st_size
    assert stored < x.nbytes // 2, "only the test and calibration splits are stored"
    splits = load_splits(res)
    train = splits.x["train"]  # rows of the arrays' own train split, over the mapped file
    assert isinstance(train, Rows) and isinstance(train.source.source.array, np.memmap)
    assert np.array_equal(train[:5], x[train.source.index[train.index[:5]]])
    with np.load(res.path / "data.npz") as z:  # the profiling worker's view
        assert z["x_test"].shape == (80, 1, 256) and z["y_test"].dtype == np.int64


def test_builtin_data_is_stored_and_splits_are_unchanged(tmp_path):
    from pluginlib import tiny_pipeline

    from edgekd.stages.data import load_splits, run_data
    from edgekd.store import StageStore

    cfg = tiny_pipeline()
    res = StageStore(tmp_path / "run").run("data", "data", {}, {}, lambda d: run_data(cfg, d))
    assert (res.path / "source.npz").exists() and res.info["source"]["stored"]
    splits = load_splits(res)
    plugin = DATASETS.get("mnist1d")
    fresh = make_splits(plugin.load(cfg.data.options), 0.1, 64, 0)
    for s in ("train", "val", "test", "calib"):
        assert np.array_equal(np.asarray(splits.x[s]), np.asarray(fresh.x[s])), s
        assert np.array_equal(splits.y[s], fresh.y[s]), s


# ---------------------------------------------------------------- image folder


def test_image_folder_preprocesses_and_records_the_numbers(tmp_path):
    from PIL import Image

    from edgekd.data.sets.image_folder import write_examples

    write_examples(tmp_path / "imgs", 10, 12)
    opts = {"resize": 10, "crop": 8, "mean": [0.5] * 3, "std": [0.5] * 3, "test_fraction": 0.3}
    raw = load("image-folder", path=str(tmp_path / "imgs"), **opts)
    assert raw.labels == ["bar", "disc", "square"]
    assert len(raw.y_test) == 9 and np.bincount(raw.y_test).tolist() == [3, 3, 3]  # stratified
    prep = raw.preprocessing
    assert prep["resize"] == 10 and prep["crop"] == [8, 8] and prep["layout"] == "NCHW"
    assert prep["channel_order"] == "RGB" and prep["scale"] == pytest.approx(1 / 255)
    x = raw.x_train[:2]
    assert x.shape == (2, 3, 8, 8) and x.dtype == np.float32
    first = raw.x_train.files[0]
    im = Image.open(first).convert("RGB").resize((10, 10), Image.BILINEAR).crop((1, 1, 9, 9))
    want = (np.asarray(im, np.float32).transpose(2, 0, 1) / 255 - 0.5) / 0.5
    np.testing.assert_allclose(x[0], want, atol=1e-6)


def test_image_folder_keeps_the_users_train_test_val_split(tmp_path):
    from edgekd.data.sets.image_folder import write_examples

    for split, n in (("train", 4), ("test", 2), ("val", 1)):
        write_examples(tmp_path / "imgs" / split, n, 8)
    raw = load("image-folder", path=str(tmp_path / "imgs"), channels=1)
    assert (len(raw.y_train), len(raw.y_test), len(raw.y_val)) == (12, 6, 3)
    assert raw.x_test.sample_shape == (1, 8, 8)
    splits = make_splits(raw, 0.5, 4, 0)
    assert len(splits.y["val"]) == 3 and len(splits.y["train"]) == 12  # val_fraction unused


def test_images_of_different_sizes_need_a_resize(tmp_path):
    from edgekd.data.images import ImageFiles, Preprocess, list_images
    from edgekd.data.sets.image_folder import write_examples

    write_examples(tmp_path / "imgs", 2, 8)
    write_examples(tmp_path / "imgs", 1, 10, seed=5)  # 0.png in each class is now 10x10
    files = list_images(tmp_path / "imgs")
    with pytest.raises(DataError, match="resize"):
        ImageFiles(files, Preprocess())[:]
    assert ImageFiles(files, Preprocess(resize=[6, 6]))[:].shape == (6, 3, 6, 6)


# ---------------------------------------------------------------- user datasets


DATA_CODE = """
import torch
from torch.utils.data import Dataset, TensorDataset


class Shifted(Dataset):
    def __init__(self, n, shift):
        g = torch.Generator().manual_seed(n)
        self.y = torch.arange(n) % 2
        self.x = torch.randn(n, 5, generator=g) + shift * self.y[:, None]

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def splits(n=40, shift=3.0):
    return Shifted(n, shift), Shifted(n // 2, shift), Shifted(10, shift)
"""


def test_a_user_dataset_factory_with_train_test_and_val(tmp_path):
    (tmp_path / "data_code.py").write_text(DATA_CODE)
    ref = f"{tmp_path / 'data_code.py'}:splits"
    raw = load("user", factory=ref, options={"n": 30})
    assert (len(raw.y_train), len(raw.y_test), len(raw.y_val)) == (30, 15, 10)
    assert raw.labels == ["0", "1"] and raw.checked
    assert raw.x_train[:3].shape == (3, 5)
    plugin = DATASETS.get("user")
    files = plugin.files(plugin.parse_options({"factory": ref}))
    assert files == [tmp_path / "data_code.py"]


def test_a_user_dataset_factory_must_return_datasets(tmp_path):
    (tmp_path / "bad.py").write_text("def splits():\n    return [1, 2], [3]\n")
    with pytest.raises(DataError, match="not a map-style"):
        load("user", factory=f"{tmp_path / 'bad.py'}:splits")
    with pytest.raises(ConfigError, match="not defined there"):
        load("user", factory=f"{tmp_path / 'bad.py'}:other")


# ---------------------------------------------------------------- transfer sets


def test_mnist1d_transfer_signals_are_deterministic_and_new():
    plugin = DATASETS.get("mnist1d")
    opts = plugin.Options(num_samples=200)
    a, b = plugin.transfer(opts, 60, 0), plugin.transfer(opts, 60, 0)
    assert a.shape == (60, 1, 40) and a.dtype == np.float32 and np.array_equal(a, b)
    own = plugin.load(opts).x_train
    assert not any(np.allclose(a[0], row) for row in own)


def test_transfer_arrays_must_match_the_samples(tmp_path):
    from edgekd.data.transfer import array_transfer, check_transfer

    np.save(tmp_path / "u.npy", np.zeros((5, 1, 9), np.float32))
    with pytest.raises(DataError, match="must match"):
        check_transfer(array_transfer(tmp_path / "u.npy"), (1, 8), "data.transfer")
    np.save(tmp_path / "n.npy", np.full((5, 1, 8), np.nan, np.float32))
    with pytest.raises(DataError, match="NaN"):
        check_transfer(array_transfer(tmp_path / "n.npy"), (1, 8), "data.transfer")


def test_splits_carry_a_transfer_set_to_the_trainer():
    x = np.zeros((20, 3), np.float32)
    splits = Splits({"train": Rows(x)}, {"train": np.zeros(20, np.int64)}, ["a", "b"], "")
    assert splits.transfer is None and splits.input_shape == (3,)
    assert torch.equal(torch.as_tensor(splits.x["train"][:2]), torch.zeros(2, 3))
