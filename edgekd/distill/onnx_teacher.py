"""A black-box teacher: an ONNX file run with ONNX Runtime, whatever framework trained it.

It is wrapped as an `nn.Module` without parameters so every response-only scheme can call it
like a PyTorch teacher; it yields logits only (no gradients, no feature taps).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgekd.errors import ArtifactError, ConfigError


def check_onnx_file(path: Path, where: str) -> None:
    """Refuse a missing, unreadable, corrupt or non-finite ONNX file before any training."""
    import onnx

    from edgekd.config.paths import require_file

    if not Path(path).exists():
        raise ConfigError(
            f"{where}: file '{path}' does not exist. Give the path of the teacher's .onnx file "
            "(export it with torch.onnx.export, tf2onnx, skl2onnx, ...)."
        )
    require_file(path, where)
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as exc:  # onnx raises DecodeError, ValidationError, OSError, ...
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise ConfigError(
            f"{where}: '{path}' is not a valid ONNX model ({type(exc).__name__}: {first}). "
            "Export the teacher again; the file may be truncated or not ONNX at all."
        ) from None
    if len(proto.graph.output) < 1:
        raise ConfigError(f"{where}: '{path}' has no outputs; the teacher must output logits.")
    bad = nonfinite_initializer(proto.graph)
    if bad is not None:
        raise ConfigError(
            f"{where}: '{path}' holds NaN or inf in its weight '{bad}'; a teacher with "
            "non-finite weights teaches nothing. Export it again from a healthy model."
        )


def nonfinite_initializer(graph) -> str | None:
    """The name of the first floating-point initializer holding NaN or inf, or None."""
    from onnx import numpy_helper

    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            return init.name
    return None


class OnnxTeacher(nn.Module):
    """Runs the ONNX teacher in ONNX Runtime on CPU; first output = logits (N, classes)."""

    def __init__(self, path: Path, threads: int | None = None, shown: Path | None = None):
        """`shown`: the path messages name (the user's file, when `path` is our copy)."""
        super().__init__()
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
            raise ArtifactError(
                f"ONNX Runtime cannot load teacher '{path}': {str(exc).splitlines()[0][:200]}. "
                "Check the opset and operators it uses, or export it again."
            ) from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        self.path = Path(shown or path)

    def check_io(self, input_shape: tuple, num_classes: int) -> None:
        """Fail with a clear message when the file does not fit the dataset."""
        try:
            out = self(torch.zeros(self.fixed_batch or 2, *input_shape))
        except Exception as exc:
            raise ArtifactError(
                f"ONNX teacher '{self.path}' does not accept inputs of shape "
                f"(N, {', '.join(map(str, input_shape))}) from this dataset: "
                f"{str(exc).splitlines()[0][:200]}."
            ) from None
        if out.ndim != 2 or out.shape[1] != num_classes:
            raise ArtifactError(
                f"ONNX teacher '{self.path}' outputs shape {tuple(out.shape)}; expected "
                f"(N, {num_classes}) logits for the dataset's {num_classes} classes."
            )
        if not torch.isfinite(out).all():
            raise ArtifactError(
                f"ONNX teacher '{self.path}' outputs NaN or inf; a teacher must give finite "
                "logits. Export it again from a healthy model."
            )

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arr = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        step = self.fixed_batch or len(arr)
        outs = [
            self.session.run(None, {self.input_name: arr[i : i + step]})[0]
            for i in range(0, len(arr), max(step, 1))
        ]
        return torch.from_numpy(np.concatenate(outs).astype(np.float32))
