"""Build, describe, save and reload the models that training stages produce."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from edgekd.config.schema import ModelSpec
from edgekd.data import Splits
from edgekd.distill.trainer import accuracy
from edgekd.models import build_model, count_flops, count_params
from edgekd.store import StageResult

WEIGHTS = "model.pt"


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
