"""Bad-input cases for bring-your-own models, data and hardware (issue 11): the user's code
named by path, image folders, memory-mapped arrays, transfer sets, device settings. Same
contract as cases.py: exit 2, one paragraph containing `expect`, no traceback, nothing
written outside the run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from bad_inputs.cases import Case, at, edited, pipeline

GOOD_NET = """
import torch.nn as nn

def build(num_classes, hidden=4):
    head = nn.Linear(hidden, num_classes)
    return nn.Sequential(nn.Flatten(), nn.Linear(8, hidden), nn.ReLU(), head)
"""


def with_code(text: str, model: str = "nets.py:build", edit=None) -> Callable[[Path], list[str]]:
    """nets.py holding `text`, named as the teacher's model."""

    def build(folder: Path) -> list[str]:
        (folder / "nets.py").write_text(text)

        def change(cfg: dict) -> None:
            cfg["teacher"] |= {"model": model, "options": {}}
            if edit is not None:
                edit(cfg)

        return pipeline(folder, change)

    return build


def images(folder: Path, per_class: int = 4, classes=("a", "b")) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in classes:
        (folder / "imgs" / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(arr).save(folder / "imgs" / c / f"{i}.png")
    return folder / "imgs"


def image_pipeline(prepare: Callable[[Path], object], edit=None) -> Callable[[Path], list[str]]:
    """An image-folder pipeline over 2 classes of 8x8 PNGs, after `prepare(folder)`."""

    def build(folder: Path) -> list[str]:
        images(folder)
        prepare(folder)

        def change(cfg: dict) -> None:
            cfg["data"] = {"dataset": "image-folder", "options": {"path": "imgs"}, "calib_size": 4}
            if edit is not None:
                edit(cfg)

        return pipeline(folder, change, npz=False)

    return build


def arrays_pipeline(x_shape: tuple, n_labels: int, edit=None) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        np.save(folder / "x.npy", np.zeros(x_shape, np.float32))
        np.save(folder / "y.npy", np.arange(n_labels) % 3)

        def change(cfg: dict) -> None:
            cfg["data"] = {"dataset": "arrays", "options": {"x": "x.npy", "y": "y.npy"}}
            if edit is not None:
                edit(cfg)

        return pipeline(folder, change, npz=False)

    return build


def truncated_array(folder: Path) -> list[str]:
    argv = arrays_pipeline((20, 4), 20)(folder)
    (folder / "x.npy").write_bytes((folder / "x.npy").read_bytes()[:200])
    return argv


def corrupt_image(folder: Path) -> None:
    (folder / "imgs" / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")


def transfer_array(shape: tuple) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        np.save(folder / "unlabeled.npy", np.zeros(shape, np.float32))
        return pipeline(folder, at("data.transfer", {"array": "unlabeled.npy"}))

    return build


def user_dataset(text: str) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        (folder / "data_code.py").write_text(text)
        return pipeline(
            folder, at("data", {"dataset": "user", "options": {"factory": "data_code.py:splits"}})
        )

    return build


def wrong_keys_checkpoint(folder: Path) -> list[str]:
    import torch

    (folder / "nets.py").write_text(GOOD_NET)
    torch.save({"layer.weight": torch.zeros(4, 8)}, folder / "t.pt")
    return pipeline(
        folder, at("teacher", {"model": "nets.py:build", "checkpoint": "t.pt", "options": {}})
    )


CASES = [
    # models from the user's code
    Case("byo-import-error", with_code("import no_such_package_here\n"), "ModuleNotFoundError"),
    Case("byo-syntax-error", with_code("def build(:\n"), "SyntaxError"),
    Case("byo-module-not-found", with_code(GOOD_NET, "no_such_pkg.models:build"), "no module"),
    Case("byo-factory-missing", with_code(GOOD_NET, "nets.py:make"), "callables it defines"),
    Case(
        "byo-factory-raises",
        with_code("def build(num_classes):\n    raise ValueError('bad width')\n"),
        "raised ValueError: bad width",
    ),
    Case(
        "byo-factory-returns-no-module",
        with_code("def build(num_classes):\n    return {'not': 'a model'}\n"),
        "not a torch.nn.Module",
    ),
    Case(
        "byo-wrong-output-size",
        with_code(GOOD_NET.replace("nn.Linear(hidden, num_classes)", "nn.Linear(hidden, 7)")),
        "3 classes",
    ),
    Case(
        "byo-forward-fails",
        with_code(GOOD_NET.replace("nn.Linear(8, hidden)", "nn.Linear(9, hidden)")),
        "fails on a batch",
    ),
    Case(
        "byo-py-path-is-a-folder",
        lambda d: (d / "pkg.py").mkdir() or with_code(GOOD_NET, "pkg.py:build")(d),
        "is a folder",
    ),
    Case("byo-py-file-missing", with_code(GOOD_NET, "models/net.py:build"), "does not exist"),
    Case("byo-bad-reference", with_code(GOOD_NET, "nets.py:1build"), "factory reference"),
    Case("byo-checkpoint-wrong-keys", wrong_keys_checkpoint, "missing key"),
    # data from the user's files
    Case("byo-corrupt-image", image_pipeline(corrupt_image), "cannot be read"),
    Case(
        "byo-empty-class-folder",
        image_pipeline(lambda d: (d / "imgs" / "c").mkdir()),
        "holds no images",
    ),
    Case(
        "byo-no-class-folders",
        image_pipeline(lambda d: (d / "flat").mkdir(), at("data.options.path", "flat")),
        "no class subfolders",
    ),
    Case(
        "byo-unlabeled-folder-empty",
        image_pipeline(
            lambda d: (d / "unlabeled").mkdir(), at("data.transfer", {"folder": "unlabeled"})
        ),
        "holds no images",
    ),
    Case("byo-memmap-wrong-shape", arrays_pipeline((20, 4), 18), "one row per label"),
    Case("byo-memmap-not-samples", arrays_pipeline((20,), 20), "one row per label"),
    Case("byo-memmap-truncated", truncated_array, "cannot map"),
    Case("byo-transfer-wrong-shape", transfer_array((10, 1, 9)), "must match"),
    Case(
        "byo-dataset-factory-non-dataset",
        user_dataset("def splits():\n    return {'train': [1, 2], 'test': [3]}\n"),
        "not a map-style",
    ),
    Case(
        "byo-dataset-factory-wrong-return",
        user_dataset("def splits():\n    return 42\n"),
        "returned int",
    ),
    # hardware
    Case("byo-device-unknown", edited(at("device", "tpu")), "device"),
    Case("byo-fp16-on-cpu", edited(lambda c: c.update(device="cpu", amp="fp16")), "amp: fp16"),
    Case(
        "byo-transfer-samples-unsupported",
        edited(at("data.transfer_samples", 100)),
        "cannot generate",
    ),
]


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if not _has_cuda():  # on a GPU machine `device: cuda` is valid, not a bad input
    CASES.append(Case("byo-cuda-without-gpu", edited(at("device", "cuda")), "sees none"))
