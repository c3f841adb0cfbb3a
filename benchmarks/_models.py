"""Small models exported to ONNX (and OpenVINO IR) for the profiling benchmarks."""

from __future__ import annotations

from pathlib import Path

MODELS = {
    # name: (registered model, options, input shape)
    "mlp": ("mlp", {"hidden": [64, 64]}, (1, 40)),
    "cnn1d": ("cnn1d", {"channels": [64, 64, 64], "kernel_size": 5}, (1, 40)),
    "resnet8": ("resnet", {"depth": 8}, (3, 32, 32)),
    "resnet20": ("resnet", {"depth": 20}, (3, 32, 32)),
}


def export(name: str, folder: Path, static_batch: bool = False) -> tuple[Path, list[int], int]:
    """(model.onnx, input shape without batch, torch-counted FLOPs) for one benchmark model."""
    import warnings

    import torch

    from edgekd.models import build_model, count_flops

    kind, options, shape = MODELS[name]
    torch.manual_seed(0)
    model = build_model(kind, options, shape, 10).eval()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    axes = None if static_batch else {"input": {0: "n"}, "logits": {0: "n"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, *shape), str(path), input_names=["input"],
                          output_names=["logits"], dynamic_axes=axes, dynamo=False)  # fmt: skip
    return path, list(shape), count_flops(model, shape)


def export_module(model, shape: list[int], folder: Path, static_batch: bool = False) -> Path:
    """model.onnx in `folder` for any torch module with input (batch, *shape)."""
    import warnings

    import torch

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    axes = None if static_batch else {"input": {0: "n"}, "logits": {0: "n"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, *shape), str(path), input_names=["input"],
                          output_names=["logits"], dynamic_axes=axes, dynamo=False)  # fmt: skip
    return path


def to_openvino(onnx_path: Path) -> Path:
    """fp32 OpenVINO IR beside the ONNX file (save_model would compress weights to fp16)."""
    import openvino as ov

    xml = onnx_path.with_suffix(".xml")
    ov.save_model(ov.convert_model(str(onnx_path)), str(xml), compress_to_fp16=False)
    return xml
