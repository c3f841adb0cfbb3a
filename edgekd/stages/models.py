"""Build, describe, save and reload the models that training stages produce."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from edgekd.config.schema import ModelSpec, PipelineConfig
from edgekd.data import Splits
from edgekd.distill.trainer import accuracy
from edgekd.models import MODELS, build_model, count_flops, count_params
from edgekd.store import StageResult

WEIGHTS = "model.pt"


def check_model_inputs(cfg: PipelineConfig, splits: Splits) -> None:
    """Every model family of the pipeline reads the data's sample shape (teachers their own
    view of it): a mismatch is a ConfigError naming the key, before any training starts."""
    specs = [(f"{loc}.model", t, splits.teacher_view()) for loc, t in cfg.teacher_locs()]
    specs += [(f"students[{i}].model", s, splits) for i, s in enumerate(cfg.students)]
    for where, spec, view in specs:
        if spec.model is not None:  # an ONNX teacher is checked when it is taken over
            family = MODELS.get(spec.model)
            family.check_input(family.parse_options(spec.options), view.input_shape, where)


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
