"""After OpenVINO's int8 compile (NNCF) in a pipeline process, the next signal handled in
Python (SIGCHLD when the profiling worker exits) must not kill the process.

Before edgekd/backends/sigstack.py, this pipeline died with SIGSEGV (exit -11) right after
`compile-teacher-cpu-openvino-int8`, every time: OpenVINO's CPU plugin left the main thread's
alternate signal stack pointing at freed memory. The pipeline is the smallest found that
shows it (a user's CNN, 40x40 images in class folders, an unlabeled folder).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml
from conftest import run_cli

MODELS = """
from torch import nn


def _net(width, num_classes):
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, num_classes),
    )


def build_teacher(num_classes, width=32):
    return _net(width, num_classes)


def build_student(num_classes, width=4):
    return _net(width, num_classes)
"""


def shapes(root, per_class: int, unlabeled: int) -> None:
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    kinds = ("circle", "square", "triangle")

    def draw(kind):
        img = Image.new("RGB", (40, 40), tuple(int(v) for v in rng.integers(0, 80, 3)))
        d = ImageDraw.Draw(img)
        x, y, r = (int(v) for v in (rng.integers(8, 32), rng.integers(8, 32), rng.integers(5, 9)))
        col = tuple(int(v) for v in rng.integers(150, 256, 3))
        if kind == "circle":
            d.ellipse([x - r, y - r, x + r, y + r], fill=col)
        elif kind == "square":
            d.rectangle([x - r, y - r, x + r, y + r], fill=col)
        else:
            d.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=col)
        return img

    for kind in kinds:
        (root / "train" / kind).mkdir(parents=True)
        for i in range(per_class):
            draw(kind).save(root / "train" / kind / f"{i}.png")
    (root / "unlabeled").mkdir()
    for i in range(unlabeled):
        draw(kinds[i % 3]).save(root / "unlabeled" / f"{i}.png")


IN_PROCESS = """
import faulthandler, gc, subprocess, sys
faulthandler.enable()  # as pytest does: a Python-owned alternate stack to start from
import numpy as np, torch, openvino as ov
from openvino import opset13 as op
from edgekd.backends.openvino import Options, OvRunner
p = op.parameter([1, 4], np.float32)
ov.save_model(ov.Model([op.relu(p)], [p]), sys.argv[1])
list(torch.utils.data.DataLoader(torch.zeros(4, 2), batch_size=2, num_workers=1))
a = OvRunner(sys.argv[1], 1, Options())
b = OvRunner(sys.argv[1], 1, Options())
a(np.zeros((1, 4), np.float32)); b(np.zeros((1, 4), np.float32))
del a; gc.collect()
del b; gc.collect()  # the plugin puts back the stack it saw when b compiled
for _ in range(3):
    subprocess.run(["true"], check=True)  # SIGCHLD: torch's Python handler runs
print("survived")
"""


def test_runners_destroyed_out_of_order_then_signals(tmp_path):
    """The CI crash (exit 139 in the test after an in-process OpenVINO test): two runners,
    destroyed in the order they were made, leave the thread's alternate stack at the first
    one's freed memory unless edgekd's own stack was current when each compiled. Without the
    guard in OvRunner this script died with SIGSEGV every time."""
    script = tmp_path / "signals.py"
    script.write_text(textwrap.dedent(IN_PROCESS))
    res = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "m.xml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0 and "survived" in res.stdout, (res.returncode, res.stderr[-1500:])


@pytest.mark.slow
def test_openvino_int8_compile_then_signals(tmp_path):
    (tmp_path / "models.py").write_text(MODELS)
    shapes(tmp_path / "data", 120, 600)
    train = {"epochs": 1, "batch_size": 32, "lr": 0.003, "optimizer": "adamw"}
    cfg = {
        "name": "shapes",
        "data": {
            "workers": 0,
            "dataset": "image-folder",
            "options": {
                "path": "data/train",
                "resize": 36,
                "crop": 32,
                "mean": [0.5] * 3,
                "std": [0.25] * 3,
            },
            "transfer": {"folder": "data/unlabeled"},
        },
        "teacher": {"model": "models.py:build_teacher", "options": {"width": 32}, "train": train},
        "students": [
            {
                "name": "small",
                "model": "models.py:build_student",
                "options": {"width": 4},
                "train": train,
                "distill": {"losses": [{"name": "kd", "options": {"temperature": 4}}]},
            }
        ],
        "targets": ["cpu-openvino"],
        "profile": {"tier": "quick"},
    }
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = run_cli("run", tmp_path / "pipeline.yaml", cwd=tmp_path, timeout=1500)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "[done] compile-teacher-cpu-openvino-int8" in res.stderr
