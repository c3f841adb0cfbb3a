"""Training stages: a model trained on labels, loaded from a checkpoint, taken over as an
ONNX black box, or distilled from its teacher(s) by a scheme."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from edgekd.config.schema import ModelSpec, StudentConfig, TeacherConfig
from edgekd.data import Splits
from edgekd.data.augment.mixing import cross_entropy
from edgekd.distill.hardware import CPU, Hardware
from edgekd.distill.schemes import SCHEMES, DistillJob
from edgekd.distill.trainer import fit
from edgekd.errors import ArtifactError
from edgekd.hashing import to_jsonable
from edgekd.models import build_model
from edgekd.models.checkpoint import load_weights, read_state_dict
from edgekd.progress import Reporter
from edgekd.stages.models import (
    finite_test_accuracy,
    model_info,
    new_model,
    save_model,
    size_warnings,
    with_interval,
    write_code_record,
)


def run_supervised(
    spec: ModelSpec,
    train,
    splits: Splits,
    seed: int,
    folder: Path,
    label: str,
    reporter: Reporter,
    *,
    hw: Hardware = CPU,
    code: list | None = None,
) -> dict:
    """Train a model on the labels alone (the teacher, or a student's scratch baseline);
    mixup/cutmix batches mix the labels (edgekd.data.augment.mixing)."""
    model = new_model(spec, splits, seed)
    val = (splits.x["val"], splits.y["val"])
    history = fit(
        model,
        lambda _i, xb, yb: cross_entropy(model(xb), yb),
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
        hw=hw,
        workers=splits.workers,
    )
    save_model(model, folder)
    write_code_record(folder, code or [])
    steps = history[-1].get("steps") if history else 0
    info = model_info(model, spec, splits, label, method="scratch", history=history, steps=steps)
    return info | ({"device": hw.key()} if not hw.is_cpu or hw.amp != "off" else {})


def run_teacher_checkpoint(
    spec: TeacherConfig, splits: Splits, folder: Path, *, code: list | None = None
) -> dict:
    model = new_model(spec, splits, 0)
    state = read_state_dict(spec.checkpoint)
    shown = spec.model if len(spec.model) < 80 else spec.model[:77] + "..."
    what = f"teacher model '{shown}' with options {to_jsonable(spec.options)}"
    load_weights(model, state, spec.checkpoint, what, "teacher.model and teacher.options")
    model.eval()
    save_model(model, folder)
    write_code_record(folder, code or [])
    label = f"teacher checkpoint '{spec.checkpoint}'"
    return model_info(model, spec, splits, label, method="checkpoint", source=str(spec.checkpoint))


def run_teacher_onnx(spec: TeacherConfig, splits: Splits, folder: Path) -> dict:
    """Copy a black-box ONNX teacher into the run and check it fits the data."""
    import shutil

    import onnx
    from onnx import numpy_helper

    from edgekd.distill.onnx_teacher import OnnxTeacher, nonfinite_initializer

    shutil.copyfile(spec.onnx, folder / "teacher.onnx")
    label = f"ONNX teacher '{spec.onnx}'"
    graph = onnx.load(str(folder / "teacher.onnx")).graph
    bad = nonfinite_initializer(graph)  # checked at load too; the file may have changed since
    if bad is not None:
        raise ArtifactError(f"{label} holds NaN or inf in weight '{bad}'; export it again.")
    teacher = OnnxTeacher(folder / "teacher.onnx", shown=spec.onnx)
    teacher.check_io(splits.input_shape, splits.num_classes)
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
        **with_interval(finite_test_accuracy(teacher, splits, label), len(splits.y["test"])),
        "method": "onnx (black box)",
    }


def distil(
    student: StudentConfig,
    teachers: list[nn.Module],
    splits: Splits,
    seed: int,
    folder: Path,
    label: str,
    reporter: Reporter,
    hw: Hardware = CPU,
) -> tuple[nn.Module, dict]:
    """`student` trained by its distillation scheme (not saved), and what the scheme
    recorded of its run (`DistillJob.info`)."""

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
        hw=hw,
    )
    return SCHEMES.get(student.distill.scheme)().run(job), job.info


def run_distill(
    student: StudentConfig,
    teachers: list[nn.Module],
    splits: Splits,
    seed: int,
    folder: Path,
    label: str,
    reporter: Reporter,
    *,
    hw: Hardware = CPU,
    code: list | None = None,
) -> dict:
    model, run_info = distil(student, teachers, splits, seed, folder, label, reporter, hw)
    save_model(model, folder)
    write_code_record(folder, code or [])
    method = "+".join(loss.name for loss in student.distill.losses)
    scheme = student.distill.scheme
    if student.train.steps is not None:  # exactly that many (a step-matched pair's count)
        run_info["steps"] = student.train.steps
    info = model_info(model, student, splits, label, method=method, scheme=scheme, **run_info)
    warnings = size_warnings(info, teachers, splits.teacher_view().input_shape)
    for w in warnings:
        reporter.line(f"warning: {label}: {w}")
    extra = {"device": hw.key()} if not hw.is_cpu or hw.amp != "off" else {}
    return info | extra | ({"warnings": warnings} if warnings else {})
