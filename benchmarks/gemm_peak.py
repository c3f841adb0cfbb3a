"""This machine's achievable GEMM peak, measured now: fp32 (torch.mm) and int8 (ONNX Runtime
MatMulInteger, u8 x s8 -> s32), both with 2 threads. Each runs in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

N = 1024
FP32 = f"""
import time, torch
torch.set_num_threads(2)
a, b = torch.randn({N}, {N}), torch.randn({N}, {N})
for _ in range(3): a @ b
best = 1e9
for _ in range(10):
    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
print(2 * {N}**3 / best / 1e9)
"""
INT8 = f"""
import time, numpy as np, onnx, onnxruntime as ort
from onnx import TensorProto, helper
a = helper.make_tensor_value_info("a", TensorProto.UINT8, [{N}, {N}])
b = helper.make_tensor_value_info("b", TensorProto.INT8, [{N}, {N}])
y = helper.make_tensor_value_info("y", TensorProto.INT32, [{N}, {N}])
g = helper.make_graph([helper.make_node("MatMulInteger", ["a", "b"], ["y"])], "g", [a, b], [y])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
so = ort.SessionOptions(); so.intra_op_num_threads = 2
s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
feed = {{"a": np.random.randint(0, 255, ({N}, {N}), dtype=np.uint8),
         "b": np.random.randint(-127, 127, ({N}, {N}), dtype=np.int8)}}
for _ in range(3): s.run(None, feed)
best = 1e9
for _ in range(10):
    t = time.perf_counter(); s.run(None, feed); best = min(best, time.perf_counter() - t)
print(2 * {N}**3 / best / 1e9)
"""


def _run(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def gemm_peaks() -> dict:
    return {"n": N, "threads": 2, "fp32_gflops": _run(FP32), "int8_gops": _run(INT8)}


if __name__ == "__main__":
    print(json.dumps(gemm_peaks(), indent=2))
