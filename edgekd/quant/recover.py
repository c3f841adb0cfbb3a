"""Int8 recovery in the deploy flow: after a distilled student's plain int8 row is measured,
QAT-KD and mixed precision (as the student's `qat:` / `mixed_precision:` ask) each add a row
for the same target, measured like any artifact: `int8-qat` and `int8-mixed` beside `int8`."""

from __future__ import annotations

from dataclasses import replace

from edgekd.quant import INT8_PATHS
from edgekd.records import Gate, Role
from edgekd.report.model import ReportRow

QAT, MIXED = "int8-qat", "int8-mixed"


def student_config(cfg, step):
    if step.model.role is not Role.DISTILLED:
        return None
    return next((s for s in cfg.students if s.name == step.model.student), None)


def wanted(option, ptq: ReportRow) -> bool:
    return option is not None and (option.when == "always" or ptq.gate is Gate.FAIL)


def recovery_rows(flow, step, exp, ptq: ReportRow, teachers: list, measure) -> list[ReportRow]:
    """The recovery rows of one measured int8 step ([] when none is asked for or needed);
    `measure(flow, step, exp, comp)` bundles and profiles a built artifact."""
    s = student_config(flow.cfg, step)
    if s is None or step.precision != "int8":
        return []
    asked = [(QAT, s.qat), (MIXED, s.mixed_precision)]
    asked = [(precision, option) for precision, option in asked if wanted(option, ptq)]
    name = step.backend.int8_path
    if name is None:
        return [unavailable(step, precision) for precision, _ in asked]
    path = INT8_PATHS.get(name)(step.backend, flow.cfg.export.opset)
    make = {QAT: qat_stage, MIXED: mixed_stage}
    rows = []
    for precision, _ in asked:
        if precision == QAT and not teachers:
            rows.append(unavailable(step, precision, "QAT-KD needs a teacher; there is none"))
            continue
        comp = make[precision](flow, step, exp, s, path, name, teachers)
        row = measure(flow, replace(step, precision=precision), exp, comp)
        rows.append(row.model_copy(update=summary(comp.info, row.placement)))
    return rows


def unavailable(step, precision: str, why: str = "") -> ReportRow:
    from edgekd.report.rows import skipped_row

    why = why or f"the '{step.target.runtime}' backend has no int8 recovery path here"
    return skipped_row(replace(step, precision=precision).subject, f"{precision}: {why}")


def qat_stage(flow, step, exp, s, path, name: str, teachers: list):
    from edgekd.progress import Reporter
    from edgekd.stages.compile import target_settings
    from edgekd.stages.models import load_trained
    from edgekd.stages.qat import run_qat

    teacher = teachers[0]
    label = f"qat-{step.name}"
    key = {"qat": s.qat, "train": s.train, "seed": flow.cfg.seed, "path": name}
    key |= {"opset": flow.cfg.export.opset}
    return flow.stage(
        "qat",
        label,
        key | {"target": target_settings(step.target)},
        {"model": step.model.stage, "teacher": teacher.stage, "data": flow.data},
        lambda d: run_qat(
            path,
            s,
            load_trained(step.model.stage, exp.splits),
            load_trained(teacher.stage, exp.splits.teacher_view()),
            exp.splits,
            flow.cfg.seed,
            d,
            label,
            Reporter(quiet=True),
        ),
    )


def mixed_stage(flow, step, exp, s, path, name: str, teachers: list):
    from edgekd.backends import CompileContext
    from edgekd.stages.compile import target_settings
    from edgekd.stages.models import load_trained
    from edgekd.stages.qat import run_mixed

    sp, gate = exp.splits, flow.cfg.accuracy_gate
    model = load_trained(step.model.stage, sp)
    context = CompileContext(
        load_model=lambda: model, val=(sp.x["val"], sp.y["val"]), accuracy_gate=gate
    )
    # criterion: what the search scores (agreement with the fp32 student since stop 19)
    key = {"mixed": s.mixed_precision, "gate": gate, "path": name, "criterion": "agreement"}
    return flow.stage(
        "mixed",
        f"mixed-{step.name}",
        key | {"target": target_settings(step.target)},
        {"onnx": exp.stage, "model": step.model.stage, "data": flow.data},
        lambda d: run_mixed(path, s, model, exp.onnx, sp, gate, d, context),
    )


def summary(info: dict, placement: str | None) -> dict:
    """The row's placement cell (what was done, then the backend's own summary) and, for
    mixed precision, its float layers."""
    if "qat" in info:
        q = info["qat"]
        last = (q.get("history") or [{}])[-1].get("val_acc")
        val = f", val {last:.4f}" if last is not None else ""
        text = f"QAT-KD {q['epochs']} epochs at lr {q['lr']:.2g}{val}"
        return {"placement": text + (f"; {placement}" if placement else "")}
    layers = info["mixed"]["float_layers"]
    text = f"{len(layers)} layer(s) in float" + (f": {', '.join(layers)}" if layers else "")
    return {"placement": text + (f"; {placement}" if placement else ""), "float_layers": layers}
