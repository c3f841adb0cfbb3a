"""Issue 15 on the data side: files enter the data stage's key by content (a file replaced
behind the same path is never served from the cache), npz headers must match the file, and
data no classifier can learn from is refused."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import yaml
from conftest import run_cli

from edgekd.config.paths import content_digests
from edgekd.data import DATASETS, MAX_CLASSES, RawData, check_raw, make_splits
from edgekd.data.sets.npz import read_headers
from edgekd.errors import DataError

PIPELINE = {
    "name": "stale",
    "data": {"dataset": "npz", "options": {"path": "data.npz"}, "calib_size": 8},
    "teacher": {"model": "mlp", "options": {"hidden": [8]}, "train": {"epochs": 1}},
    "students": [
        {
            "name": "s",
            "model": "mlp",
            "options": {"hidden": [4]},
            "train": {"epochs": 1},
            "baseline": False,
            "distill": {"losses": [{"name": "kd"}]},
        }
    ],
    "targets": ["cpu-onnxruntime"],  # so export, compile and profile are in the chain too
    "profile": {"tier": "quick", "warmup": 2, "min_queries": 20, "throughput_time_s": 0.05},
}


def save_data(path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = np.arange(60) % 3
    x = rng.normal(size=(60, 8)).astype(np.float32) + y[:, None] * (seed % 5)
    np.savez(path, x=x, y=y)


def marks(stderr: str) -> dict[str, str]:
    out = {}
    for line in stderr.splitlines():
        if line.startswith(("[done]", "[cached]")):
            mark, label = line.split()[:2]
            out[label] = mark
    return out


def test_replacing_the_data_file_recomputes_every_stage(tmp_path):
    """Through the CLI, run from another folder (the data path is relative to the pipeline):
    the same file is cached, a file replaced behind the same path is read again and every
    stage trained on it is recomputed."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pipeline.yaml").write_text(yaml.safe_dump(PIPELINE, sort_keys=False))
    save_data(project / "data.npz", seed=1)

    def run() -> dict[str, str]:
        res = run_cli("run", "project/pipeline.yaml", "--out", "runs/x", cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        return marks(res.stderr)

    first = run()
    assert {"data", "teacher", "s", "export-s", "compile-s-cpu-onnxruntime-fp32"} <= set(first)
    assert set(first.values()) == {"[done]"}
    assert set(run().values()) == {"[cached]"}
    save_data(project / "data.npz", seed=2)  # same path, new content
    assert set(run().values()) == {"[done]"}
    stages = sorted(p.name for p in (tmp_path / "runs/x/stages").iterdir())
    assert sum(name.startswith("data-") for name in stages) == 2


def test_data_key_holds_the_file_content_and_only_then(tmp_path, tiny_config):
    from edgekd.config.load import load_pipeline
    from edgekd.stages.data import data_key

    save_data(tmp_path / "d.npz", seed=1)
    cfg = dict(PIPELINE, data={"dataset": "npz", "options": {"path": "d.npz"}})
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    key = data_key(load_pipeline(tmp_path / "p.yaml"))
    assert key["files"] == content_digests([tmp_path / "d.npz"], "x")
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny_config))
    assert "files" not in data_key(load_pipeline(tmp_path / "tiny.yaml"))  # keys kept


def test_cifar_lists_the_batch_files_it_reads(tmp_path):
    cifar = DATASETS.get("cifar")
    (tmp_path / "tarball.tar.gz").write_bytes(b"not read")
    options = cifar.parse_options(cifar.example_options(tmp_path)[0])
    names = sorted(p.name for p in cifar.files(options))
    assert names == sorted(
        [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]
    )


def test_a_folder_option_hashes_every_file_under_it(tmp_path):
    from pydantic import BaseModel

    from edgekd.config.paths import files_named
    from edgekd.config.schema import UserFolder

    class Options(BaseModel):
        root: UserFolder

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "1.png").write_bytes(b"1")
    (tmp_path / "b.png").write_bytes(b"2")
    assert files_named(Options(root=tmp_path)) == [tmp_path / "a" / "1.png", tmp_path / "b.png"]


# ---------------------------------------------------------------- npz headers


def _npz(tmp_path, **members: bytes):
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)
    return path


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_headers_are_read_without_loading(tmp_path):
    path = tmp_path / "ok.npz"
    np.savez_compressed(path, x=np.zeros((5, 3), np.float32), y=np.arange(5))
    headers = read_headers(path)
    assert headers["x"][0] == (5, 3) and headers["y"][0] == (5,)


@pytest.mark.parametrize("cut", [1, 7, 50])
def test_a_member_cut_short_is_a_data_error(tmp_path, cut):
    data = _npy(np.zeros((10, 4), np.float32))
    path = _npz(tmp_path, x=data[:-cut], y=_npy(np.arange(10)))
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_headers(path)


def test_a_header_claiming_more_than_memory_or_the_file_is_refused(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)}
    )
    path = _npz(tmp_path, x=header.getvalue() + b"\0" * 8)
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_headers(path)


def test_object_members_are_refused_from_the_header(tmp_path):
    obj = np.array([{"a": 1}], dtype=object)
    buf = io.BytesIO()
    np.save(buf, obj, allow_pickle=True)
    with pytest.raises(DataError, match="pickles"):
        read_headers(_npz(tmp_path, x=buf.getvalue()))


# ---------------------------------------------------------------- degenerate data


def raw(x, y, labels=None, x_test=None, y_test=None) -> RawData:
    labels = labels if labels is not None else [str(i) for i in range(int(max(y)) + 1)]
    return RawData(x, y, x if x_test is None else x_test, y if y_test is None else y_test, labels)


@pytest.mark.parametrize(
    "data,needle",
    [
        (raw(np.ones((6, 2), np.float32), np.zeros(6, np.int64)), "at least 2"),
        (raw(np.ones((6, 0), np.float32), np.arange(6) % 2), "no features"),
        (
            raw(np.ones((6, 2), np.float32), np.arange(6) % 2, labels=["a"] * (MAX_CLASSES + 1)),
            "at most",
        ),
        (raw(np.ones((6, 2), np.float32), np.zeros(6, np.int64), labels=["a", "b"]), "same label"),
        (raw(np.full((6, 2), np.inf, np.float32), np.arange(6) % 2), "NaN or inf"),
        (raw(np.ones((6, 2), np.complex64), np.arange(6) % 2), "real numbers"),
        (raw(np.float32(1.0), np.arange(1)), "shape"),
    ],
)
def test_check_raw_refuses_degenerate_data(data, needle):
    with pytest.raises(DataError, match=needle):
        check_raw(data, "d")


def test_check_raw_checks_the_teachers_view():
    data = raw(np.ones((6, 2), np.float32), np.arange(6) % 2)
    data.teacher_x_train = np.full((6, 3), np.nan, np.float32)
    data.teacher_x_test = np.ones((6, 3), np.float32)
    with pytest.raises(DataError, match="teacher's view"):
        check_raw(data, "d")


def test_val_fraction_must_leave_training_samples():
    data = raw(np.ones((3, 2), np.float32), np.array([0, 1, 0]))
    with pytest.raises(DataError, match="val_fraction"):
        make_splits(data, 0.9, 8, 0)
    assert len(make_splits(data, 0.3, 8, 0).y["train"]) == 2


def test_every_path_option_of_a_pipeline_plugin_is_a_user_path():
    """A plugin option typed Path must be `UserFile`/`UserFolder`: only then is it resolved
    against the pipeline's folder and its content hashed into the stage key."""
    import typing
    from pathlib import Path

    from edgekd.config.paths import marker
    from edgekd.data.augment import AUGMENTATIONS
    from edgekd.distill.losses import LOSSES
    from edgekd.distill.schemes import SCHEMES
    from edgekd.models import MODELS

    def mentions_path(ann) -> bool:
        return ann is Path or any(mentions_path(a) for a in typing.get_args(ann))

    plain = [
        f"{registry.kind} '{name}': {field_name}"
        for registry in (DATASETS, MODELS, LOSSES, SCHEMES, AUGMENTATIONS)
        for name, plugin in registry.items()
        for field_name, field in plugin.Options.model_fields.items()
        if mentions_path(field.annotation) and marker(field) is None
    ]
    assert not plain, f"type these options UserFile or UserFolder: {plain}"
