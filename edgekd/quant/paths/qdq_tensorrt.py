"""QDQ ONNX for TensorRT's explicit quantization: QAT through NNCF with signed, symmetric int8
everywhere (TensorRT's Q/DQ layers take int8 with zero point 0, so activations after a ReLU
are forced signed as well), mixed precision through ONNX Runtime's quantize_static in
TensorRT's s8/s8 form with `nodes_to_exclude`. The QDQ ONNX is packaged as the TensorRT
backend packages its own int8: `build_engine.sh` builds the engine on the device.

UNTESTED ON HARDWARE: no GPU has been lent to this project's sessions. Where TensorRT does not
run, a recovery row is not measured (`when: gate_fails` never triggers without a measured
int8 row); the candidates' accuracy during the mixed-precision search is ONNX Runtime's
execution of the same QDQ graph on the CPU, a proxy for TensorRT's int8 kernels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.quant import INT8_PATHS, Candidate
from edgekd.quant.paths.qdq_onnx import QdqOnnx

ONNX = "model_qdq.onnx"  # the name the TensorRT backend gives its int8 ONNX


@INT8_PATHS.register("qdq-tensorrt")
class QdqTensorRT(QdqOnnx):
    description = (
        "QAT: NNCF (signed symmetric int8) to QDQ ONNX for a TensorRT engine; mixed: exclusions"
    )

    def quantize_options(self) -> dict:
        import nncf

        return {"preset": nncf.QuantizationPreset.PERFORMANCE}  # symmetric weights, activations

    def prepare_qat(self, model, calib: np.ndarray):
        from nncf.torch.quantization.layers import SymmetricQuantizer

        prepared = super().prepare_qat(model, calib)
        # NNCF makes a quantizer unsigned where its calibration inputs were >= 0 (after a
        # ReLU): uint8, which TensorRT's Q/DQ layers do not take. Signed from the start, the
        # fine-tuning trains through the int8 grid the engine will use (NNCF's signedness
        # constraint is refused by its hardware configs, hence the setter).
        for module in prepared.modules():
            if isinstance(module, SymmetricQuantizer) and not module.signed:
                module.signed = True
        return prepared

    def export_qat(self, prepared, calib: np.ndarray, out_dir: Path) -> dict:
        info = super().export_qat(prepared, calib, out_dir)
        (Path(out_dir) / "model.onnx").rename(Path(out_dir) / ONNX)
        info["quantization"]["for"] = "TensorRT explicit quantization"
        return self._package(out_dir, calib, info)

    def candidate(
        self, model, onnx_path: Path, calib: np.ndarray, keep: list[str], work: Path
    ) -> Candidate:
        import onnxruntime as ort

        from edgekd.backends import ortquant

        path = Path(work) / ONNX
        quant = ortquant.quantize_static(onnx_path, path, calib, False, True, exclude=keep)
        quant |= {"nodes_excluded": list(keep), "for": "TensorRT explicit quantization"}
        quant["accuracy_proxy"] = "ONNX Runtime (CPU) running the QDQ graph"
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name

        def write(out_dir: Path) -> dict:
            (Path(out_dir) / ONNX).write_bytes(path.read_bytes())
            return self._package(out_dir, calib, {"precision": "int8", "quantization": quant})

        return Candidate(lambda x: session.run(None, {name: x})[0], write)

    def _package(self, out_dir: Path, calib: np.ndarray, info: dict) -> dict:
        info = {k: v for k, v in info.items() if k != "files"}
        return self.backend.package(Path(out_dir), ONNX, "int8", list(calib.shape[1:]), info)
