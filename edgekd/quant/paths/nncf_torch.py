"""NNCF's QAT on the torch model: `nncf.quantize` inserts calibrated FakeQuantize ops, the
student trains through them, then OpenVINO converts the model (its FakeQuantize ops become
the IR's int8), or `nncf.strip` turns them into torch's native fake quantization, which
torch.onnx exports as QuantizeLinear/DequantizeLinear pairs (QDQ ONNX for ONNX Runtime)."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np

from edgekd.quant import INT8_PATHS, Int8Path


def reference_kernels() -> None:
    """NNCF compiles a C++ extension for its CPU fake quantization at first use: minutes on a
    small CPU, under a 60-s timeout that fails it on a busy one. NNCF's own fallback when that
    build fails is its pure-torch reference kernels, which it then wraps in torch.compile (a
    second compiler, recompiling per tensor shape); use the reference kernels eagerly from the
    start: the students here are small, so they cost nothing measurable."""
    from nncf.torch.quantization import reference
    from nncf.torch.quantization.extensions import QuantizedFunctionsCPU

    class Eager:
        Quantize_forward = reference.torch_executor.forward
        Quantize_backward = reference.torch_executor.backward

    QuantizedFunctionsCPU._loaded_namespace = Eager


@contextlib.contextmanager
def quiet():
    """NNCF logs at INFO and draws progress bars; keep the CLI's own output readable."""
    log = logging.getLogger("nncf")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        log.setLevel(level)


def example(calib: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(calib[:1]))


def fold_batch_norms(model):
    """Fold each batch norm that follows a convolution into it, in place (eval statistics).

    NNCF quantizes the convolution's weights and leaves the batch norm after it; exported
    to QDQ ONNX that is DQ -> Conv -> BatchNormalization -> Q, which ONNX Runtime cannot
    fuse into an int8 convolution (its weights are no longer a constant), so the convs ran
    in float. Folded first, the QAT fine-tunes the folded weights, as deployed. A model
    torch.fx cannot trace keeps its batch norms."""
    import torch.fx
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception:  # data-dependent control flow: leave the model as it is
        return model
    modules = dict(model.named_modules())
    bns, convs = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d), (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    for node in graph.nodes:
        src = node.args[0] if node.args else None
        if not (node.op == "call_module" and isinstance(modules.get(node.target), bns)):
            continue
        if getattr(src, "op", "") != "call_module" or len(src.users) != 1:
            continue
        if isinstance(modules.get(src.target), convs):
            fused = fuse_conv_bn_eval(modules[src.target], modules[node.target])
            _replace(model, src.target, fused)
            _replace(model, node.target, nn.Identity())
    return model


def _replace(model, name: str, module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


class NncfQat(Int8Path):
    library = "nncf"

    def prepare_qat(self, model, calib: np.ndarray):
        import nncf
        import torch

        reference_kernels()
        model = fold_batch_norms(model.eval())
        batches = [
            torch.from_numpy(np.ascontiguousarray(calib[i : i + 32]))
            for i in range(0, len(calib), 32)
        ]
        with quiet():
            return nncf.quantize(
                model.eval(),
                nncf.Dataset(batches),
                subset_size=len(calib),
                **self.quantize_options(),
            )

    def quantize_options(self) -> dict:
        """Extra keyword arguments of `nncf.quantize` for this runtime."""
        return {}


@INT8_PATHS.register("nncf-openvino")
class NncfOpenVino(NncfQat):
    description = "NNCF QAT on the torch model, converted to OpenVINO IR; mixed: accuracy control"
    native_mixed = True

    def export_qat(self, prepared, calib: np.ndarray, out_dir: Path) -> dict:
        import openvino as ov

        prepared.eval()
        with quiet():
            model = ov.convert_model(prepared, example_input=example(calib))
        ov.save_model(model, str(Path(out_dir) / "model.xml"), compress_to_fp16=False)
        fq = sum(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
        method = "NNCF QAT (nncf.quantize on the torch model, fine-tuned), OpenVINO IR"
        quant = {"method": method, "fake_quantize_nodes": int(fq)}
        return {"precision": "int8", "files": ["model.xml", "model.bin"], "quantization": quant}

    def native(self, onnx_path: Path, calib: np.ndarray, out_dir: Path, context) -> dict:
        """nncf.quantize_with_accuracy_control through the OpenVINO backend itself, and the
        layers it kept in float: those with int8 inputs in plain PTQ but not here."""
        target = self.backend.target
        options = self.backend.options.model_dump() | {"int8_mode": "accuracy_control"}
        controlled = type(self.backend)(target.model_copy(update={"runtime_options": options}))
        info = controlled.compile(onnx_path, "int8", calib, out_dir, context)
        plain = quantized_ops(self.backend, onnx_path, calib, context)
        import openvino as ov

        kept = quantized_ops_of(ov.Core().read_model(str(Path(out_dir) / "model.xml")))
        info["float_layers"] = sorted(plain - kept)
        return info


def quantized_ops_of(model) -> set[str]:
    """Conv/MatMul ops with a FakeQuantize on an input: the layers that run in int8."""
    out = set()
    for op in model.get_ops():
        if op.get_type_name() not in ("Convolution", "GroupConvolution", "MatMul"):
            continue
        for inp in op.inputs():
            src = inp.get_source_output().get_node()
            if src.get_type_name() == "FakeQuantize" or any(
                s.get_source_output().get_node().get_type_name() == "FakeQuantize"
                for s in src.inputs()
            ):
                out.add(op.get_friendly_name())
                break
    return out


def quantized_ops(backend, onnx_path: Path, calib, context) -> set[str]:
    import tempfile

    import openvino as ov

    with tempfile.TemporaryDirectory() as tmp:
        backend.compile(onnx_path, "int8", calib, Path(tmp), context)
        return quantized_ops_of(ov.Core().read_model(str(Path(tmp) / "model.xml")))
