"""This machine's peak compute per precision: a figure no measurement on it can exceed.

Two bounds, and the larger is the peak:
- measured: the best of large GEMMs (sizes SIZES, every thread count up to the CPUs this
  process may use), each kind in a fresh process: fp32 torch.mm and ONNX Runtime MatMul
  (prepacked weights), bf16 torch.mm, int8 torch._int_mm and ONNX Runtime MatMulInteger;
- ISA: cores x clock x operations per cycle per core of the widest unit the CPU flags show
  (stated with the figures): fp32 2 FMA units x SIMD width x 2; bf16 AMX 1024 or AVX-512 BF16
  128; int8 AMX 2048, AVX-512 VNNI 256, AVX-VNNI 128 (Intel's published per-core figures).
  The clock is the highest of what the OS reports (cpufreq max, else /proc/cpuinfo, often
  only the nominal clock in a VM) and what the best one-thread fp32 GEMM implies (its rate /
  fp32 operations per cycle): turbo cannot hide above it.
`share_of_peak` refuses a share above 100%: a row that beats the peak means the peak is wrong.

    python benchmarks/gemm_peak.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SIZES = (512, 1024, 2048)
TORCH = """
import json, sys, time, torch
kind, threads, sizes = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
torch.set_num_threads(threads)
best = 0.0
for n in sizes:
    if kind == "int8":
        a = torch.randint(-128, 127, (n, n), dtype=torch.int8); b = a.clone()
        fn = lambda: torch._int_mm(a, b)
    else:
        dt = torch.bfloat16 if kind == "bf16" else torch.float32
        a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
        fn = lambda: a @ b
    for _ in range(2): fn()
    for _ in range(5):
        t = time.perf_counter(); fn(); best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
print(best)
"""
ORT_FP32 = """
import json, sys, time, numpy as np, onnx.numpy_helper, onnxruntime as ort
from onnx import TensorProto, helper
threads, sizes = int(sys.argv[1]), json.loads(sys.argv[2])
best = 0.0
for n in sizes:
    w = onnx.numpy_helper.from_array(np.random.rand(n, n).astype(np.float32), "b")
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
    g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"])], "g", [a], [y], [w])
    so = ort.SessionOptions(); so.intra_op_num_threads = threads
    s = ort.InferenceSession(helper.make_model(g).SerializeToString(), so,
                             providers=["CPUExecutionProvider"])
    feed = {"a": np.random.rand(n, n).astype(np.float32)}
    for _ in range(2): s.run(None, feed)
    for _ in range(5):
        t = time.perf_counter(); s.run(None, feed)
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
print(best)
"""
ORT_INT8 = """
import json, sys, time, numpy as np, onnxruntime as ort
from onnx import TensorProto, helper
threads, sizes = int(sys.argv[1]), json.loads(sys.argv[2])
best = 0.0
for n in sizes:
    a = helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n])
    b = helper.make_tensor_value_info("b", TensorProto.INT8, [n, n])
    y = helper.make_tensor_value_info("y", TensorProto.INT32, [n, n])
    g = helper.make_graph([helper.make_node("MatMulInteger", ["a", "b"], ["y"])], "g", [a, b], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    so = ort.SessionOptions(); so.intra_op_num_threads = threads
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feed = {"a": np.random.randint(0, 255, (n, n), dtype=np.uint8),
            "b": np.random.randint(-127, 127, (n, n), dtype=np.int8)}
    for _ in range(2): s.run(None, feed)
    for _ in range(5):
        t = time.perf_counter(); s.run(None, feed)
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
print(best)
"""
# operations per cycle per core: (flag, ops, what); the first flag the CPU has wins
ISA = {
    "fp32": [
        ("avx512f", 64, "2 FMA units x 16 fp32 lanes x 2"),
        ("fma", 32, "2 FMA units x 8 fp32 lanes x 2"),
        ("asimd", 16, "2 NEON pipes x 4 fp32 lanes x 2"),
    ],
    "bf16": [
        ("amx_bf16", 1024, "AMX TMUL, 1024 bf16 ops/cycle"),
        ("avx512_bf16", 128, "2 units x VDPBF16PS 32 bf16 MACs x 2"),
    ],
    "int8": [
        ("amx_int8", 2048, "AMX TMUL, 2048 int8 ops/cycle"),
        ("avx512_vnni", 256, "2 units x VPDPBUSD 64 MACs x 2"),
        ("avx_vnni", 128, "2 units x 256-bit VPDPBUSD 32 MACs x 2"),
        ("asimddp", 64, "2 NEON pipes x SDOT 16 MACs x 2"),
    ],
}


def cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def clock_ghz() -> float:
    """The highest clock the OS reports (a VM often shows only the nominal one)."""
    try:
        khz = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text()
        return int(khz) / 1e6
    except (OSError, ValueError):
        pass
    mhz = [float(line.split(":")[1]) for line in Path("/proc/cpuinfo").read_text().splitlines()
           if line.startswith("cpu MHz")]  # fmt: skip
    return max(mhz) / 1e3 if mhz else 0.0


def isa_peaks(flags: set[str], cores: int, ghz: float) -> dict:
    """{precision: {"gops", "basis"}} from the widest unit the flags show."""
    out = {}
    for prec, units in ISA.items():
        for flag, ops, what in units:
            if flag in flags:
                basis = f"{cores} cores x {ghz:.2f} GHz x {ops} ({what})"
                out[prec] = {"gops": cores * ghz * ops, "basis": basis}
                break
    return out


def _run(code: str, *args) -> float:
    cmd = [sys.executable, "-c", code, *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measured_peaks(sizes=SIZES) -> dict:
    """{precision: {"gops", "basis"}}: the best large GEMM over sizes and thread counts, and
    "fp32_1thread": the best one-thread fp32 rate (it bounds the clock from below)."""
    best: dict[str, tuple[float, str]] = {}
    sz = json.dumps(list(sizes))
    for t in range(1, cpus() + 1):
        runs = [(k, "torch.mm" if k != "int8" else "torch._int_mm", TORCH, (k, t, sz))
                for k in ("fp32", "bf16", "int8")]  # fmt: skip
        runs.append(("fp32", "onnxruntime MatMul", ORT_FP32, (t, sz)))
        runs.append(("int8", "onnxruntime MatMulInteger", ORT_INT8, (t, sz)))
        for prec, tool, code, args in runs:
            try:
                g = _run(code, *args)
            except subprocess.CalledProcessError:
                continue  # that kind is not available here (no bf16 GEMM, no _int_mm)
            for key in [prec] + (["fp32_1thread"] if prec == "fp32" and t == 1 else []):
                if g > best.get(key, (0.0, ""))[0]:
                    best[key] = (g, f"{tool}, {t} thread(s), best of {list(sizes)}")
    return {p: {"gops": g, "basis": b} for p, (g, b) in best.items()}


def implied_clock_ghz(measured: dict, flags: set[str]) -> float:
    """The clock the best one-thread fp32 GEMM needs at the ISA's fp32 rate per cycle."""
    one, per_cycle = measured.get("fp32_1thread"), isa_peaks(flags, 1, 1.0).get("fp32")
    return one["gops"] / per_cycle["gops"] if one and per_cycle else 0.0


def gemm_peaks() -> dict:
    """Per precision: the peak (the larger bound), and both bounds with how they were found."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from edgekd.backends.base import cpu_flags

    flags, measured = cpu_flags(), measured_peaks()
    ghz = max(clock_ghz(), implied_clock_ghz(measured, flags))
    isa = isa_peaks(flags, cpus(), ghz)
    peaks = {}
    for prec in ISA:
        bounds = [b for b in (measured.get(prec), isa.get(prec)) if b]
        if bounds:
            peaks[prec] = max(b["gops"] for b in bounds)
    return {"peak_gops": peaks, "measured": measured, "isa": isa, "cpus": cpus(),
            "clock_ghz": ghz, "os_clock_ghz": clock_ghz()}  # fmt: skip


def peak_for(precision: str, peaks: dict) -> float:
    """The peak a row of this precision is compared with (fp16 rows: fp32's, as on CPUs)."""
    table = peaks["peak_gops"]
    return table.get(precision) or table["fp32"]


def share_of_peak(ops: float, seconds: float, peak_gops: float) -> float:
    """Achieved / peak; a share above 1 means the peak is not a peak, and is refused."""
    share = ops / seconds / 1e9 / peak_gops
    if share > 1.0:
        raise ValueError(
            f"{ops / seconds / 1e9:.1f} G/s is {share:.0%} of the {peak_gops:.1f} G/s peak: "
            "the peak is wrong (a GEMM or clock too low), not the measurement"
        )
    return share


if __name__ == "__main__":
    print(json.dumps(gemm_peaks(), indent=2))
