"""Bad-input cases for issue 15's configuration, data and training classes: non-finite and
degenerate settings and data (class 3), bounds on untrusted YAML and npz files (class 4),
hosts, target names and paths that are folders (class 5). Same contract as cases.py: exit 2,
one paragraph containing `expect`, no traceback, nothing written outside the run folder.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml
from bad_inputs.cases import (
    RUN,
    Case,
    at,
    edited,
    onnx_model,
    pipeline,
    raw_pipeline,
    save_torch,
    target_file,
    teacher_state,
    with_checkpoint,
    with_npz,
)

# ---------------------------------------------------------------- helpers


def valid_yaml(folder: Path, edit: Callable[[dict], object] | None = None) -> str:
    """The corpus' valid pipeline as YAML text (and its data.npz in `folder`)."""
    pipeline(folder, edit)
    return (folder / "pipeline.yaml").read_text()


def yaml_text(make: Callable[[str], str]) -> Callable[[Path], list[str]]:
    """pipeline.yaml rewritten as `make(valid text)`: for what yaml.safe_dump cannot write."""

    def build(folder: Path) -> list[str]:
        text = make(valid_yaml(folder))
        (folder / "pipeline.yaml").write_text(text)
        return ["run", "pipeline.yaml", *RUN]

    return build


def billion_laughs() -> str:
    lines = ["name: lol", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def npy_member(header_shape: tuple, data: bytes) -> bytes:
    """An .npy file whose header claims `header_shape` float32, followed by `data`."""
    buf = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": header_shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + data


def npz_members(**members: bytes) -> Callable[[Path], list[str]]:
    """data.npz built member by member (stored, so sizes in the zip are consistent)."""

    def build(folder: Path) -> list[str]:
        argv = pipeline(folder)
        with zipfile.ZipFile(folder / "data.npz", "w") as zf:
            for name, data in members.items():
                zf.writestr(f"{name}.npy", data)
        return argv

    return build


def labels_npy(n: int) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.arange(n) % 3)
    return buf.getvalue()


def nan_teacher_state() -> dict:
    return {k: v.float().fill_(float("nan")) for k, v in teacher_state().items()}


def onnx_teacher(folder: Path, weight: float = 1.0, log_of_negative: bool = False) -> None:
    """teacher.onnx: Flatten -> Gemm with all weights `weight`; optionally ending in
    Log(-|x|), which gives NaN or -inf from finite weights."""
    from onnx import helper

    model = onnx_model()
    model.graph.initializer[0].ClearField("raw_data")
    model.graph.initializer[0].float_data.extend([weight] * 24)
    if log_of_negative:
        graph = model.graph
        graph.node[-1].output[0] = "gemm"
        graph.node.extend(
            [
                helper.make_node("Abs", ["gemm"], ["abs"]),
                helper.make_node("Neg", ["abs"], ["neg"]),
                helper.make_node("Log", ["neg"], ["logits"]),
            ]
        )
    (folder / "teacher.onnx").write_bytes(model.SerializeToString())


def with_onnx_teacher(**kw) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        onnx_teacher(folder, **kw)
        return pipeline(folder, lambda cfg: cfg.__setitem__("teacher", {"onnx": "teacher.onnx"}))

    return build


def folder_named(name: str, argv: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
    """`name` is a folder where a file is expected."""

    def build(folder: Path) -> list[str]:
        args = argv(folder)
        path = folder / name
        if path.exists():
            path.unlink()
        path.mkdir()
        return args

    return build


def targets_named_alike(folder: Path) -> list[str]:
    """Two target YAML files that both call themselves 't'."""
    argv = pipeline(folder)
    for f in ("t1.yaml", "t2.yaml"):
        (folder / f).write_text(yaml.safe_dump({"name": "t", "runtime": "onnxruntime"}))
    return argv[:2] + ["-t", "t1.yaml", "-t", "t2.yaml", *RUN]


def diverging(cfg: dict) -> None:
    cfg["teacher"]["train"] = {"epochs": 2, "batch_size": 8, "lr": 1e30, "optimizer": "sgd"}


def four_samples_val_fraction(fraction: float) -> Callable[[Path], list[str]]:
    """Four training samples (and the user's own test split), `fraction` held out."""

    def build(folder: Path) -> list[str]:
        x, y = np.ones((4, 4), np.float32), np.array([0, 1, 0, 1])
        with_npz(x=x, y=y, x_test=x[:2], y_test=y[:2])(folder)
        return pipeline(folder, at("data.val_fraction", fraction), npz=False)

    return build


def deep(levels: int) -> Callable[[str], str]:
    return lambda text: text + "extra: " + "[" * levels + "]" * levels + "\n"


# ---------------------------------------------------------------- the cases

CASES = [
    # class 3: non-finite settings are refused at load, wherever a float is configured
    Case("lr-inf", edited(at("teacher.train.lr", float("inf"))), "finite"),
    Case("lr-nan", edited(at("students.0.train.lr", float("nan"))), "finite"),
    Case(
        "loss-weight-inf", edited(at("students.0.distill.losses.0.weight", float("inf"))), "finite"
    ),
    Case(
        "loss-option-nan",
        edited(at("students.0.distill.losses.0.options", {"temperature": float("nan")})),
        "finite",
    ),
    Case(
        "loss-option-inf-string",
        edited(at("students.0.distill.losses.0.options", {"temperature": "1e999"})),
        "finite",
    ),
    Case("data-option-nan", edited(at("data.options.test_fraction", float("nan"))), "finite"),
    Case("seed-negative", edited(at("seed", -1)), "seed"),
    Case("seed-too-large", edited(at("seed", 2**40)), "seed"),
    Case("data-seed-too-large", edited(at("data.options.seed", 2**33)), "seed"),
    Case("int-beyond-64-bits", edited(at("teacher.train.batch_size", 2**70)), "64-bit"),
    Case("opset-99999", edited(at("export", {"opset": 99999})), "opset"),
    # class 3: degenerate data
    Case(
        "npz-one-class",
        with_npz(x=np.zeros((20, 4), np.float32), y=np.zeros(20, int)),
        "at least 2",
    ),
    Case(
        "npz-train-one-class",
        with_npz(x=np.ones((20, 4), np.float32), y=np.zeros(20, int), labels=np.array(["a", "b"])),
        "same label",
    ),
    Case(
        "npz-no-features",
        with_npz(x=np.zeros((20, 0), np.float32), y=np.arange(20) % 2),
        "features",
    ),
    Case(
        "npz-label-2-to-the-40",
        with_npz(x=np.zeros((20, 4), np.float32), y=np.array([0, 1] * 9 + [1, 2**40])),
        "labels must lie",
    ),
    Case("val-split-leaves-no-train", four_samples_val_fraction(0.9), "nothing to train on"),
    # class 3: non-finite weights, outputs and losses stop the run
    Case(
        "ckpt-all-nan", with_checkpoint("t.pt", lambda p: save_torch(nan_teacher_state())(p)), "NaN"
    ),
    Case("onnx-teacher-nan-weights", with_onnx_teacher(weight=float("nan")), "NaN or inf"),
    Case("onnx-teacher-nan-outputs", with_onnx_teacher(log_of_negative=True), "NaN or inf"),
    Case("training-diverges", edited(diverging), "the loss became"),
    Case("batch-size-one-trains-nothing", edited(at("teacher.train.batch_size", 1)), "no batch"),
    # class 4: bounds on YAML
    Case("yaml-billion-laughs", raw_pipeline(billion_laughs()), "expands to more than"),
    Case("yaml-recursive-alias", raw_pipeline("name: &a [*a]\n"), "alias"),
    Case("yaml-duplicate-top-key", yaml_text(lambda t: t + "seed: 3\n"), "duplicate key 'seed'"),
    Case(
        "yaml-duplicate-nested-key",
        yaml_text(lambda t: t.replace("  train:\n", "  train:\n    epochs: 2\n", 1)),
        "duplicate key 'epochs'",
    ),
    Case("yaml-nested-too-deep", yaml_text(deep(40)), "nested"),
    Case("yaml-nested-beyond-the-stack", yaml_text(deep(20000)), "nested"),
    Case("yaml-too-large", yaml_text(lambda t: t + "#" * (2 << 20) + "\n"), "larger than"),
    Case("yaml-5000-digit-int", yaml_text(lambda t: t + "seed2: " + "9" * 5000 + "\n"), "digits"),
    Case("yaml-set-tag", yaml_text(lambda t: t + "extra: !!set {a: null}\n"), "not plain data"),
    # class 4: npz headers must match the file
    Case(
        "npz-header-claims-a-terabyte",
        npz_members(x=npy_member((2**38, 4), b"\0" * 64), y=labels_npy(16)),
        "truncated or corrupt",
    ),
    Case(
        "npz-member-cut-short",
        npz_members(x=npy_member((20, 4), b"\0" * 100), y=labels_npy(20)),
        "truncated or corrupt",
    ),
    # class 5: hosts, target names, folders where files belong
    Case("target-host-empty", target_file(host="ssh://"), "host"),
    Case("target-host-port-70000", target_file(host="ssh://pi@raspberrypi:70000"), "host"),
    Case("target-host-option-injection", target_file(host="ssh://-oProxyCommand=x@h"), "host"),
    Case("target-host-not-ssh", target_file(host="http://example.com"), "host"),
    Case(
        "target-device-zero-gflops", target_file(device={"peak_fp32_gflops": 0}), "greater than 0"
    ),
    Case(
        "targets-same-name-twice",
        edited(at("targets", ["cpu-onnxruntime", "cpu-onnxruntime"])),
        "unique",
    ),
    Case("targets-two-files-one-name", targets_named_alike, "named 't'"),
    Case(
        "pipeline-is-a-folder",
        lambda d: (d / "p.yaml").mkdir() or ["run", "p.yaml", *RUN],
        "folder",
    ),
    Case("npz-is-a-folder", folder_named("data.npz", pipeline), "is a folder"),
    Case(
        "ckpt-is-a-folder",
        folder_named("t.pt", lambda d: pipeline(d, at("teacher.checkpoint", "t.pt"))),
        "is a folder",
    ),
    Case("target-yaml-is-a-folder", folder_named("t.yaml", target_file()), "is a folder"),
]
