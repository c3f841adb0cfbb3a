"""The stage functions: each takes typed config and input artifacts and fills one folder.

The engine wraps each in `StageStore.run`, which decides whether it needs to run at all.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import torch
from torch import nn

from edgekd.config import (
    ExportConfig,
    ModelSpec,
    PipelineConfig,
    ProfileConfig,
    StudentConfig,
    TargetConfig,
    TeacherConfig,
)
from edgekd.data import DATASETS, Splits, check_raw, make_splits
from edgekd.distill.schemes import SCHEMES, DistillJob
from edgekd.distill.trainer import accuracy, fit
from edgekd.errors import CheckpointError
from edgekd.export.onnx import check_export, export_onnx
from edgekd.models import build_model, count_flops, count_params
from edgekd.pipeline import StageResult
from edgekd.progress import Reporter

WEIGHTS = "model.pt"


# ---------------------------------------------------------------- data


def run_data(cfg: PipelineConfig, folder: Path) -> dict:
    plugin = DATASETS.get(cfg.data.dataset)
    raw = plugin.load(plugin.Options.model_validate(cfg.data.options))
    check_raw(raw, cfg.data.dataset)
    splits = make_splits(raw, cfg.data.val_fraction, cfg.data.calib_size, cfg.seed)
    splits.save(folder)
    return {
        "dataset": cfg.data.dataset,
        "labels": splits.labels,
        "preprocessing": splits.preprocessing,
        "input_shape": list(splits.input_shape),
        "sizes": {k: int(len(v)) for k, v in splits.y.items()},
        "augment": splits.augment,
        "teacher_input_shape": list(splits.teacher_view().input_shape),
        "teacher_view": splits.x_teacher is not None,  # cross-modal: teachers read xt_*
    }


def load_splits(res: StageResult) -> Splits:
    return Splits.load(res.path, res.info)


# ---------------------------------------------------------------- models


def new_model(spec: ModelSpec, splits: Splits, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(spec.model, spec.options, splits.input_shape, splits.num_classes)


def model_info(model: nn.Module, spec: ModelSpec, splits: Splits, **extra) -> dict:
    return {
        "model": spec.model,
        "options": spec.options,
        "input_shape": list(splits.input_shape),
        "num_classes": splits.num_classes,
        "params": count_params(model),
        "flops": count_flops(model, splits.input_shape),
        "acc_test": accuracy(model, splits.x["test"], splits.y["test"]),
        **extra,
    }


def save_model(model: nn.Module, folder: Path) -> None:
    torch.save(model.state_dict(), folder / WEIGHTS)


def load_trained(res: StageResult, splits: Splits) -> nn.Module:
    info = res.info
    if info.get("onnx"):
        from edgekd.distill.onnx_teacher import OnnxTeacher

        return OnnxTeacher(res.path / info["onnx"])
    model = build_model(info["model"], info["options"], splits.input_shape, splits.num_classes)
    model.load_state_dict(torch.load(res.path / WEIGHTS, weights_only=True))
    return model.eval()


def run_supervised(
    spec: ModelSpec, train, splits: Splits, seed: int, folder: Path, label: str, reporter: Reporter
) -> dict:
    """Train a model on the labels alone (the teacher, or a student's scratch baseline)."""
    model = new_model(spec, splits, seed)
    ce = nn.CrossEntropyLoss()
    val = (splits.x["val"], splits.y["val"])
    history = fit(
        model,
        lambda _i, xb, yb: ce(model(xb), yb),
        model,
        splits.x["train"],
        splits.y["train"],
        val,
        train,
        seed,
        folder,
        label,
        reporter,
        augment=splits.augmentation(),
    )
    save_model(model, folder)
    return model_info(model, spec, splits, method="scratch", history=history)


def read_state_dict(path: Path) -> dict:
    """A state_dict from .safetensors or a weights-only torch file; never runs pickled code."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist.")
    try:
        if path.suffix == ".safetensors":
            state = _read_safetensors(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        what = [ln.strip() for ln in str(exc).splitlines() if "GLOBAL" in ln.upper()]
        if not what:  # not a pickle of disallowed objects: junk or a cut-off file
            raise CheckpointError(
                f"checkpoint '{path}' is corrupt, truncated or not a PyTorch/safetensors file. "
                "Save it again with torch.save(model.state_dict(), path) or as .safetensors."
            ) from None
        raise CheckpointError(
            f"checkpoint '{path}' holds pickled objects other than tensors and was refused, "
            f"unloaded ({what[0][:160]}). Save a plain state_dict "
            "(torch.save(model.state_dict(), path)) or a .safetensors file."
        ) from None
    except CheckpointError:
        raise
    except Exception as exc:  # junk bytes make the unpickler fail in many ways (IndexError, ...)
        raise CheckpointError(
            f"checkpoint '{path}' is corrupt or truncated ({type(exc).__name__}). "
            "Save it again with torch.save(model.state_dict(), path) or as .safetensors."
        ) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"checkpoint '{path}' does not hold a state_dict of tensors.")
    return state


def _read_safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except SafetensorError as exc:
        raise CheckpointError(
            f"checkpoint '{path}' is not a readable .safetensors file ({exc}); it is corrupt or "
            "truncated. Save it again with safetensors.torch.save_file(model.state_dict(), path)."
        ) from None


def run_teacher_checkpoint(spec: TeacherConfig, splits: Splits, folder: Path) -> dict:
    model = new_model(spec, splits, 0)
    state = read_state_dict(spec.checkpoint)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(
            f"checkpoint '{spec.checkpoint}' does not fit teacher model '{spec.model}' with "
            f"options {spec.options}: {first}. Check teacher.model and teacher.options."
        ) from None
    model.eval()
    save_model(model, folder)
    return model_info(model, spec, splits, method="checkpoint", source=str(spec.checkpoint))


def run_teacher_onnx(spec: TeacherConfig, splits: Splits, folder: Path) -> dict:
    """Copy a black-box ONNX teacher into the run and check it fits the data."""
    import shutil

    import onnx
    from onnx import numpy_helper

    from edgekd.distill.onnx_teacher import OnnxTeacher

    shutil.copyfile(spec.onnx, folder / "teacher.onnx")
    teacher = OnnxTeacher(folder / "teacher.onnx")
    teacher.check_io(splits.input_shape, splits.num_classes)
    graph = onnx.load(str(folder / "teacher.onnx")).graph
    params = sum(int(numpy_helper.to_array(t).size) for t in graph.initializer)
    return {
        "model": "onnx",
        "onnx": "teacher.onnx",
        "source": str(spec.onnx),
        "options": {},
        "input_shape": list(splits.input_shape),
        "num_classes": splits.num_classes,
        "params": params,
        "flops": None,
        "acc_test": accuracy(teacher, splits.x["test"], splits.y["test"]),
        "method": "onnx (black box)",
    }


def run_distill(
    student: StudentConfig,
    teachers: list[nn.Module],
    splits: Splits,
    seed: int,
    folder: Path,
    label: str,
    reporter: Reporter,
) -> dict:
    def build() -> nn.Module:
        return build_model(student.model, student.options, splits.input_shape, splits.num_classes)

    job = DistillJob(
        new_model(student, splits, seed),
        teachers,
        splits,
        student.distill,
        student.train,
        seed,
        folder,
        label,
        reporter,
        build,
    )
    model = SCHEMES.get(student.distill.scheme)().run(job)
    save_model(model, folder)
    method = "+".join(loss.name for loss in student.distill.losses)
    scheme = student.distill.scheme
    return model_info(model, student, splits, method=method, scheme=scheme, **job.info)


# ---------------------------------------------------------------- export, compile, profile


def run_export(
    model: nn.Module, splits: Splits, cfg: ExportConfig, metadata: dict, folder: Path
) -> dict:
    path = folder / "model.onnx"
    export_onnx(model, splits.x["test"], path, cfg, metadata)
    check = check_export(model, path, splits.x["test"], cfg)
    return {"check": check, "opset": cfg.opset, "bytes": os.path.getsize(path)}


def run_compile(
    backend, onnx_path: Path, precision: str, splits: Splits, folder: Path, context=None
) -> dict:
    """Compile for one precision; calibration data is the calib split, drawn from train."""
    info = backend.compile(onnx_path, precision, splits.x["calib"], folder, context=context)
    info["versions"] = backend.versions()
    info["bytes"] = sum(os.path.getsize(folder / f) for f in info["files"])
    return info


def run_profile(
    backend, target: TargetConfig, comp, data, cfg: ProfileConfig, folder: Path, role: str = ""
) -> dict:
    """Latency, throughput, memory, accuracy and per-layer times of one compiled artifact,
    measured in a fresh worker process here or on the target's SSH host."""
    from edgekd.profile.isolate import make_spec, profile_artifact

    teacher_view = role == "teacher" and data.info.get("teacher_view", False)
    spec = make_spec(
        comp.path,
        backend.artifact,
        target,
        cfg,
        data.info["teacher_input_shape" if teacher_view else "input_shape"],
        data_npz=data.path / "data.npz",
        files=comp.info.get("files"),
    )
    if teacher_view:  # a cross-modal teacher is measured on its own view of the test split
        spec["data"]["x"] = "xt_test"
    result = profile_artifact(spec, target.host, target.ssh)
    (folder / "latency_samples_ms.json").write_text(json.dumps(result.pop("samples_ms")))
    result["placement"] = result["environment"].get("placement", {})
    return result


def target_settings(target: TargetConfig) -> dict:
    return target.model_dump(mode="json", exclude={"description", "device"})
