"""ONNX-level quantization shared by the ONNX Runtime, ORT Mobile and TensorRT backends.

Uses ONNX Runtime's own tools (quant_pre_process, quantize_static/dynamic, float16) rather
than hand-written graph surgery. Imports happen inside the functions.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CONV_OPS = {"Conv", "ConvTranspose"}
MATMUL_OPS = {"MatMul", "Gemm"}


def op_mix(path: Path) -> dict[str, int]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return dict(collections.Counter(n.op_type for n in model.graph.node))


def choose_int8_mode(path: Path, mode: str) -> tuple[str, str]:
    """static or dynamic int8, and why: static for conv nets, dynamic for MatMul-only nets.

    Dynamic quantization computes activation scales per call, which costs little on a few
    MatMuls and avoids calibration error; conv nets gain from fused static QDQ kernels.
    """
    if mode != "auto":
        return mode, f"int8_mode: {mode} set in the target"
    ops = op_mix(path)
    if any(ops.get(o) for o in CONV_OPS):
        return "static", "auto: the graph has Conv ops, so static QDQ (calibrated)"
    if any(ops.get(o) for o in MATMUL_OPS):
        return "dynamic", "auto: MatMul/Gemm-only graph (MLP-like), so dynamic int8"
    return "static", "auto: no Conv or MatMul ops found; static QDQ"


class _Reader:
    """Feeds the calibration split to ORT's calibrator in batches."""

    def __init__(self, name: str, calib: np.ndarray, batch: int = 32):
        self.batches = iter(
            [
                {name: np.ascontiguousarray(calib[i : i + batch])}
                for i in range(0, len(calib), batch)
            ]
        )

    def get_next(self):
        return next(self.batches, None)


QUIET_LOGGERS = ("", "onnxruntime", "root")  # "" is the root logger


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ORT's quantizer logs calibration chatter at INFO, some of it on the root logger: raise
    those loggers to ERROR while it runs, then give the caller its levels back."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels):
            log.setLevel(level)


def preprocess(src: Path, dst: Path) -> None:
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quant_pre_process(str(src), str(dst), skip_symbolic_shape=False)


def quantize_static(
    src: Path,
    dst: Path,
    calib: np.ndarray,
    reduce_range: bool,
    symmetric: bool = False,
    exclude: list[str] = (),
) -> dict:
    """Per-channel int8 QDQ, calibrated on `calib`; `symmetric` gives TensorRT's s8/s8 form;
    the nodes named in `exclude` (after pre-processing) stay in float."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType
    from onnxruntime.quantization import quantize_static as ort_quantize_static

    with _quiet(), tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        preprocess(src, pre)
        name = ort.InferenceSession(str(pre), providers=["CPUExecutionProvider"]).get_inputs()
        act = QuantType.QInt8 if symmetric else QuantType.QUInt8
        extra = {"ActivationSymmetric": symmetric, "WeightSymmetric": True}
        ort_quantize_static(
            str(pre),
            str(dst),
            _Reader(name[0].name, calib),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=reduce_range,
            activation_type=act,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options=extra,
            nodes_to_exclude=list(exclude),
        )
    return {
        "method": "static QDQ, per-channel, MinMax calibration",
        "activations": "int8 symmetric" if symmetric else "uint8 asymmetric",
        "weights": "int8 symmetric per-channel",
        "calib_samples": int(len(calib)),
    }


def quantize_dynamic(src: Path, dst: Path, reduce_range: bool, exclude: list[str] = ()) -> dict:
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    with _quiet(), tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        preprocess(src, pre)
        ort_quantize_dynamic(
            str(pre),
            str(dst),
            per_channel=True,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(exclude),
        )
    return {"method": "dynamic (weights int8 per-channel, activations quantized per call)"}


def convert_fp16(src: Path, dst: Path) -> dict:
    """fp16 weights and compute with fp32 inputs/outputs kept, so callers feed float32."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(dst))
    return {"method": "float16 weights and compute, float32 inputs/outputs"}
