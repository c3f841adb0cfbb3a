"""Int8 recovery stages: QAT-KD (`run_qat`) and mixed precision (`run_mixed`), each from the
trained student to one target's int8 artifact, written like a compile stage's output (so the
deploy bundle and the profile stage take it as they take any compiled artifact)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from edgekd.config.schema import StudentConfig
from edgekd.progress import Reporter
from edgekd.quant import Int8Path
from edgekd.quant.mixed import fp32_val_predictions, keep_in_float, mixed_info
from edgekd.quant.qatkd import qat_distill, teacher_logits


def run_qat(
    path: Int8Path,
    student: StudentConfig,
    model,
    teacher,
    splits,
    seed: int,
    folder: Path,
    label: str,
    reporter: Reporter,
) -> dict:
    """Fine-tune the student through the runtime's fake quantization against the teacher's
    soft targets (resumable: the trainer checkpoints into `folder`), then export it."""
    t_logits = teacher_logits(teacher, splits.teacher_view().x["train"])
    calib = splits.x["calib"]
    prepared = path.prepare_qat(model, calib)
    done = qat_distill(prepared, t_logits, splits, student, seed, folder, label, reporter)
    info = path.export_qat(prepared, calib, folder)
    return finish(path, info, folder) | {"qat": done}


def run_mixed(
    path: Int8Path,
    student: StudentConfig,
    model,
    onnx_path: Path,
    splits,
    gate: float,
    folder,
    context,
) -> dict:
    """Keep the most sensitive layers in float until the int8 artifact agrees closely enough
    with the fp32 student on the validation split (or, where the runtime has its own accuracy
    control, let it decide on that same measure).

    The measure is top-1 agreement with the fp32 student, not accuracy on the labels: the
    accuracy drop is at most the share of predictions int8 flips, so agreement >= 1 - (1 -
    gate) x fp32 accuracy keeps the gate wherever the flip rate holds, while an accuracy
    floor on a few hundred validation samples lets flips in both directions cancel (a
    search that passed on 400 validation samples failed the gate on the test split)."""
    calib, val = splits.x["calib"], (splits.x["val"], splits.y["val"])
    pred = fp32_val_predictions(model, val)  # the labels candidates are scored against
    fp32 = float((pred == val[1]).mean()) if len(pred) else float("nan")
    fidelity = (val[0], pred)
    floor = 1.0 - (1.0 - gate) * fp32
    if path.native_mixed:
        ctx = dataclasses.replace(context, val=fidelity, accuracy_gate=floor)
        info = path.native(onnx_path, calib, folder, ctx)
        info["mixed"] = {"float_layers": info.pop("float_layers"), "val_acc_fp32": fp32}
        info["mixed"] |= {"agreement_floor": floor, "method": "the runtime's own accuracy control"}
        return finish(path, info, folder)
    limit = student.mixed_precision.max_float_layers
    info, kept, trail, gains = keep_in_float(
        path, model, onnx_path, calib, fidelity, floor, limit, folder
    )
    info["mixed"] = mixed_info(kept, trail, gains, floor, fp32)
    return finish(path, info, folder)


def finish(path: Int8Path, info: dict, folder: Path) -> dict:
    info["versions"] = path.backend.versions()
    info["bytes"] = sum(os.path.getsize(Path(folder) / f) for f in info["files"])
    return info
