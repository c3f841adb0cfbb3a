"""Build, describe, save and reload the models that training stages produce."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from edgekd.config.schema import ModelSpec, PipelineConfig
from edgekd.data import Splits
from edgekd.distill.trainer import predict_logits
from edgekd.errors import TrainingError
from edgekd.models import build_model, count_flops, count_params, family_of
from edgekd.store import StageResult

WEIGHTS = "model.pt"
CODE = "model-code.json"


def check_model_inputs(cfg: PipelineConfig, splits: Splits) -> None:
    """Every model of the pipeline reads the data's sample shape (teachers their own view of
    it) and, for the user's own code, builds and outputs one logit per class: a mismatch is
    a ConfigError naming the key, before any training starts."""
    specs = [(f"{loc}.model", t, splits.teacher_view()) for loc, t in cfg.teacher_locs()]
    specs += [(f"students[{i}].model", s, splits) for i, s in enumerate(cfg.students)]
    for where, spec, view in specs:
        if spec.model is not None:  # an ONNX teacher is checked when it is taken over
            family = family_of(spec.model)
            options = family.parse_options(spec.options)
            family.check_input(options, view.input_shape, where)
            family.check_build(options, view.input_shape, view.num_classes, where)


def code_digests(spec: ModelSpec, where: str) -> list[list[str]]:
    """[path, sha256] of the user's code that builds this model (none for the zoo)."""
    if spec.model is None:
        return []
    family = family_of(spec.model)
    return family.source_digests(family.parse_options(spec.options), where)


def write_code_record(folder: Path, digests: list[list[str]]) -> None:
    """The user's code a trained model came from, in its stage folder: the folder's content
    hash (and so every export, compile and profile key downstream) follows that code."""
    if digests:
        (folder / CODE).write_text(json.dumps(digests, indent=1))


def new_model(spec: ModelSpec, splits: Splits, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(spec.model, spec.options, splits.input_shape, splits.num_classes)


def model_info(
    model: nn.Module, spec: ModelSpec, splits: Splits, label: str = "the model", **extra
) -> dict:
    """What a training stage records; its weights and test outputs must be finite."""
    require_finite_weights(model, label)
    return {
        "model": spec.model,
        "options": spec.options,
        "input_shape": list(splits.input_shape),
        "num_classes": splits.num_classes,
        "params": count_params(model),
        "flops": count_flops(model, splits.input_shape),
        **with_interval(finite_test_accuracy(model, splits, label), len(splits.y["test"])),
        **extra,
    }


def with_interval(acc: float, n: int) -> dict:
    """Test accuracy and its 95% Wilson interval over the n test samples."""
    from edgekd.data.notes import wilson

    low, high = wilson(acc, n)
    return {"acc_test": acc, "acc_test_ci95": [round(low, 6), round(high, 6)]}


def size_warnings(info: dict, teachers: list[nn.Module], teacher_shape) -> list[str]:
    """A student with more parameters or FLOPs than its teacher gains nothing at deployment
    from being distilled: say so (black-box ONNX teachers have no count to compare)."""
    out = []
    for i, t in enumerate(teachers):
        if type(t).__name__ == "OnnxTeacher":
            continue
        name = "its teacher" if len(teachers) == 1 else f"teacher {i}"
        params, flops = count_params(t), count_flops(t, teacher_shape)
        if info["params"] > params:
            out.append(
                f"student has {info['params']:,} parameters, more than {name}'s {params:,}: "
                "it is not smaller to deploy. Pick a smaller student."
            )
        if info["flops"] > flops:
            out.append(
                f"student needs {info['flops']:,} FLOPs per sample, more than {name}'s "
                f"{flops:,}: it is likely slower than the teacher. Pick a smaller student."
            )
    return out


def require_finite_weights(model: nn.Module, label: str) -> None:
    """A NaN or inf weight makes every output meaningless: refuse to record such a model."""
    tensors = [*model.named_parameters(), *model.named_buffers()]
    for name, t in tensors:
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise TrainingError(
                f"{label}: weight '{name}' is NaN or inf after training; the model is "
                "unusable. Lower train.lr, or check the data and the teacher."
            )


def finite_test_accuracy(model: nn.Module, splits: Splits, label: str) -> float:
    """Accuracy on the test split, refusing a model whose outputs are not finite there
    (argmax of NaN logits would still "predict" a class)."""
    logits = predict_logits(model, splits.x["test"], workers=splits.workers)
    bad = int((~torch.isfinite(logits)).any(dim=1).sum()) if logits.numel() else 0
    if bad:
        raise TrainingError(
            f"{label}: outputs NaN or inf for {bad} of {len(logits)} test samples; it cannot "
            "be used as a teacher or exported. Check its weights and the data's value range."
        )
    return float((logits.argmax(1).numpy() == splits.y["test"]).mean())


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
