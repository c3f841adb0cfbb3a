"""Build and run TensorRT engines. Standalone: needs only tensorrt, numpy and cuda-python.

This file is copied as-is into every TensorRT deploy bundle, so the device builds its engine
with the same code edgekd uses:

    python trt_engine.py build model_qdq.onnx model.engine --precision int8 --max-batch 256

fp16 sets BuilderFlag.FP16. int8 parses a QDQ ONNX (explicit quantization: the scales are in
the graph, so no calibrator is needed) and sets INT8 (+FP16 for unquantized layers) where the
installed TensorRT still has those flags. UNTESTED ON HARDWARE in edgekd's CI: no GPU there.
"""

from __future__ import annotations

# @standalone-only
import sys

if (
    __name__ == "__main__"
    and sys.path
    and not (getattr(sys.flags, "safe_path", 0) or sys.flags.isolated)
):
    sys.path.pop(0)  # run from a bundle (build_engine.sh): import nothing from its folder
# @end-standalone-only
import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def _cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        from cuda import cudart  # older cuda-python
    return cudart


def _check(result):
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise RuntimeError(f"CUDA error {err}")
    return rest[0] if len(rest) == 1 else rest


def build(onnx_path: str, engine_path: str, precision: str, max_batch: int = 256) -> dict:
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise RuntimeError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    flags = {"fp16": ["FP16"], "int8": ["INT8", "FP16"]}.get(precision, [])
    for flag in flags:
        if hasattr(trt.BuilderFlag, flag):
            config.set_flag(getattr(trt.BuilderFlag, flag))
    inp = network.get_input(0)
    dims = tuple(inp.shape)[1:]
    profile = builder.create_optimization_profile()
    profile.set_shape(inp.name, (1, *dims), (1, *dims), (max_batch, *dims))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError("TensorRT failed to build the engine; see the log above.")
    Path(engine_path).write_bytes(bytes(plan))
    return {"tensorrt": trt.__version__, "flags": flags, "max_batch": max_batch}


class EngineRunner:
    """Runs a serialized engine; `last_gpu_ms` is the last call's time by CUDA events."""

    def __init__(self, engine_path: str, max_batch: int = 256):
        import tensorrt as trt

        self.cudart = cudart = _cudart()
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(Path(engine_path).read_bytes())
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = [self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names]
        self.inp = names[is_input.index(True)]
        self.out = names[is_input.index(False)]
        in_dims = tuple(self.engine.get_tensor_shape(self.inp))[1:]
        out_dims = tuple(self.engine.get_tensor_shape(self.out))[1:]
        self.max_batch = max_batch
        self.d_in = _check(cudart.cudaMalloc(max_batch * int(np.prod(in_dims)) * 4))
        self.d_out = _check(cudart.cudaMalloc(max_batch * int(np.prod(out_dims)) * 4))
        self.out_dims = out_dims
        self.stream = _check(cudart.cudaStreamCreate())
        self.start = _check(cudart.cudaEventCreate())
        self.stop = _check(cudart.cudaEventCreate())
        self.last_gpu_ms = float("nan")

    def __call__(self, x) -> np.ndarray:
        if isinstance(x, dict):  # named inputs (edgekd profile): this runner takes one
            if len(x) != 1:
                raise ValueError(f"the engine runner takes one input, not {len(x)}: {list(x)}")
            x = next(iter(x.values()))
        outs = [self._run(x[i : i + self.max_batch]) for i in range(0, len(x), self.max_batch)]
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def _run(self, x: np.ndarray) -> np.ndarray:
        cudart, kind = self.cudart, self.cudart.cudaMemcpyKind
        x = np.ascontiguousarray(x, dtype=np.float32)
        y = np.empty((len(x), *self.out_dims), dtype=np.float32)
        self.context.set_input_shape(self.inp, x.shape)
        self.context.set_tensor_address(self.inp, int(self.d_in))
        self.context.set_tensor_address(self.out, int(self.d_out))
        h2d, d2h = kind.cudaMemcpyHostToDevice, kind.cudaMemcpyDeviceToHost
        _check(cudart.cudaMemcpyAsync(self.d_in, x.ctypes.data, x.nbytes, h2d, self.stream))
        _check(cudart.cudaEventRecord(self.start, self.stream))
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        _check(cudart.cudaEventRecord(self.stop, self.stream))
        _check(cudart.cudaMemcpyAsync(y.ctypes.data, self.d_out, y.nbytes, d2h, self.stream))
        _check(cudart.cudaStreamSynchronize(self.stream))
        self.last_gpu_ms = float(_check(cudart.cudaEventElapsedTime(self.start, self.stop)))
        return y

    def describe(self) -> dict:
        return {"device": "CUDA", "timing": "CUDA events around execute_async_v3"}


# @standalone-only
def cli() -> None:
    ap = argparse.ArgumentParser(description="Build a TensorRT engine from an (QDQ) ONNX file.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("onnx")
    b.add_argument("engine")
    b.add_argument("--precision", choices=["fp32", "fp16", "int8"], default="fp16")
    b.add_argument("--max-batch", type=int, default=256)
    args = ap.parse_args()
    print(build(args.onnx, args.engine, args.precision, args.max_batch))


if __name__ == "__main__":
    cli()
# @end-standalone-only
