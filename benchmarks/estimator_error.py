"""How far the roofline estimator is from measured latency on the targets measurable here.

The roofline needs the device's peak compute and memory bandwidth. For this machine they are
measured (achievable peak: a 256^3 MatMul in ONNX Runtime with the same threads; bandwidth: a
16 MB array copy (beyond L2), like STREAM;
both the median time per call) unless --gflops and --gbps give published figures.
Prints measured / estimated per model and runtime.

    .venv/bin/python benchmarks/estimator_error.py [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PEAKS = """
import json, sys, time, numpy as np, onnx, onnx.numpy_helper, onnxruntime as ort
from onnx import TensorProto, helper
n, threads = 256, int(sys.argv[1])  # short calls: long ones get preempted
w = np.random.rand(n, n).astype(np.float32)  # constant weights, prepacked like a model's
g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
    [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
    [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])],
    [onnx.numpy_helper.from_array(w, "b")])
so = ort.SessionOptions(); so.intra_op_num_threads = threads
s = ort.InferenceSession(helper.make_model(g).SerializeToString(), so)
a = np.random.rand(n, n).astype(np.float32); feed = {"a": a}; s.run(None, feed)
def best(fn, work):  # median time per call: on a shared CPU, means include preemption
    times = []
    for _ in range(50):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return work / sorted(times)[len(times) // 2] / 1e9
gflops = best(lambda: s.run(None, feed), 2 * n**3)
x = np.ones(16 * 2**20 // 4, np.float32); y = np.empty_like(x); np.copyto(y, x)
gbps = best(lambda: np.copyto(y, x), 2 * x.nbytes)
print(json.dumps({"gflops": gflops, "gbps": gbps}))
"""


def measure_peaks(threads: int) -> dict:
    env = os.environ | {k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                  "MKL_NUM_THREADS")}  # fmt: skip
    cmd = [sys.executable, "-c", PEAKS, str(threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def measure(onnx_path: Path, shape: list[int], runtime: str, threads: int) -> float:
    from edgekd.config.schema import ProfileConfig, TargetConfig
    from edgekd.profile.isolate import profile_artifact
    from edgekd.profile.protocol import make_spec

    profile = ProfileConfig(min_queries=1024, min_time_s=0.5, layers=False, throughput_time_s=0.1)
    target = TargetConfig(name=f"local-{runtime}", runtime=runtime, threads=threads)
    if runtime == "openvino":
        from _models import to_openvino
        from _peers import BENCHMARK_APP_OPTIONS

        xml = to_openvino(onnx_path)
        target = target.model_copy(update={"runtime_options": BENCHMARK_APP_OPTIONS})
        spec = make_spec(xml.parent, xml.name, target, profile, shape,
                         files=[xml.name, xml.with_suffix(".bin").name])  # fmt: skip
    else:
        spec = make_spec(onnx_path.parent, "model.onnx", target, profile, shape,
                         files=["model.onnx"])  # fmt: skip
    return profile_artifact(spec)["latency"]["p50_ms"]


def main() -> int:
    from _models import MODELS, export

    from edgekd.backends import missing_packages
    from edgekd.config.schema import DeviceSpec
    from edgekd.profile.estimate import graph_cost, roofline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--gflops", type=float, help="published fp32 peak (default: measured)")
    ap.add_argument("--gbps", type=float, help="published memory bandwidth (default: measured)")
    ap.add_argument("--out", type=Path, default=Path("runs/benchmarks/estimator_error.json"))
    args = ap.parse_args()
    peaks = measure_peaks(args.threads)
    spec = DeviceSpec(peak_fp32_gflops=args.gflops or peaks["gflops"],
                      memory_bandwidth_gbps=args.gbps or peaks["gbps"])  # fmt: skip
    print(f"device: {spec.peak_fp32_gflops:.1f} GFLOP/s fp32, {spec.memory_bandwidth_gbps:.1f} "
          f"GB/s ({'given' if args.gflops else 'measured'}), {args.threads} thread(s)")  # fmt: skip
    runtimes = ["onnxruntime"] + ([] if missing_packages("openvino") else ["openvino"])
    rows = []
    print(f"{'model':9} {'runtime':12} {'MFLOPs':>8} {'KB moved':>9} {'bound':8} "
          f"{'est. ms':>9} {'meas. ms':>9} {'meas/est':>9}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            onnx_path, shape, _ = export(name, Path(tmp) / name)
            est = roofline(graph_cost(onnx_path), spec, "fp32")
            for rt in runtimes:
                ms = measure(onnx_path, shape, rt, args.threads)
                rows.append({"model": name, "runtime": rt, "estimate": est, "measured_ms": ms,
                             "ratio": ms / est["latency_ms"]})  # fmt: skip
                print(f"{name:9} {rt:12} {est['flops'] / 1e6:8.2f} {est['bytes'] / 1024:9.1f} "
                      f"{est['bound']:8} {est['latency_ms']:9.4f} {ms:9.4f} "
                      f"{ms / est['latency_ms']:8.1f}x")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"device": spec.model_dump(), "rows": rows}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
