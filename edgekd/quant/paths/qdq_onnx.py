"""QDQ ONNX for ONNX Runtime: QAT through NNCF (stripped to torch's native fake quantization,
which torch.onnx exports as QuantizeLinear/DequantizeLinear), mixed precision through ONNX
Runtime's own quantize_static with `nodes_to_exclude`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edgekd.quant import INT8_PATHS, Candidate
from edgekd.quant.paths.nncf_torch import NncfQat, example, quiet

LAYER_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


@INT8_PATHS.register("qdq-onnx")
class QdqOnnx(NncfQat):
    description = "QAT: NNCF on the torch model to QDQ ONNX; mixed: quantize_static exclusions"

    def export_qat(self, prepared, calib: np.ndarray, out_dir: Path) -> dict:
        import nncf
        import torch

        prepared.eval()
        x = example(calib)
        with quiet():
            native = nncf.strip(
                prepared, do_copy=True, strip_format=nncf.StripFormat.NATIVE, example_input=x
            )
            torch.onnx.export(
                native,
                (x,),
                str(Path(out_dir) / "model.onnx"),
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=self.opset,
                dynamo=False,
            )
        method = "NNCF QAT (nncf.quantize on the torch model, fine-tuned), QDQ ONNX"
        return {"precision": "int8", "files": ["model.onnx"], "quantization": {"method": method}}

    def layers(self, model, onnx_path: Path) -> list[str]:
        """Node names as quantize_static sees them: after ORT's own pre-processing."""
        import onnx

        from edgekd.backends import ortquant

        with tempfile.TemporaryDirectory() as tmp:
            pre = Path(tmp) / "pre.onnx"
            ortquant.preprocess(onnx_path, pre)
            graph = onnx.load(str(pre)).graph
        return [n.name for n in graph.node if n.op_type in LAYER_OPS]

    def candidate(
        self, model, onnx_path: Path, calib: np.ndarray, keep: list[str], work: Path
    ) -> Candidate:
        import onnxruntime as ort

        from edgekd.backends import ortquant
        from edgekd.backends.onnxruntime import reduce_range_decision

        reduce, _ = reduce_range_decision(self.backend.options)
        mode, _ = ortquant.choose_int8_mode(onnx_path, self.backend.options.int8_mode)
        path = Path(work) / "model.onnx"
        if mode == "static":
            quant = ortquant.quantize_static(onnx_path, path, calib, reduce, exclude=keep)
        else:
            quant = ortquant.quantize_dynamic(onnx_path, path, reduce, exclude=keep)
        quant |= {"mode": mode, "reduce_range": reduce, "nodes_excluded": list(keep)}
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name

        def write(out_dir: Path) -> dict:
            (Path(out_dir) / "model.onnx").write_bytes(path.read_bytes())
            return {"precision": "int8", "files": ["model.onnx"], "quantization": quant}

        return Candidate(lambda x: session.run(None, {name: x})[0], write)
