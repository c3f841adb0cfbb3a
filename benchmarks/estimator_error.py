"""How far the estimator (roofline + fixed costs) is from measured latency on the local runtimes.

Everything the estimate needs is measured here first, apart from the models it is checked on:
- peaks: fp32 compute from a 256^3 MatMul in ONNX Runtime (prepacked constant weights, the
  same threads) and memory bandwidth from a 16 MB copy (beyond L2), both the median per call;
- fixed costs per runtime: chains of 1 and 33 tiny layers (Linear 16x16 + ReLU, one kernel
  each): per layer = (t33 - t1) / 32, per inference = t1 - one layer.
Then every model of the benchmark suite (benchmarks/_models.py) is estimated (with the fixed
costs just measured, and with the defaults edgekd ships in profile/estimate.py CLASS_COSTS)
and measured with edgekd's worker on ONNX Runtime, OpenVINO and ExecuTorch; the script prints
measured / estimated and the band of those ratios per runtime. Goal: within 2x for each.

    .venv/bin/python benchmarks/estimator_error.py [--threads 1] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

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
CHAIN = (1, 33)  # layers of the fixed-cost probes
WIDTH = 16
GOAL = 2.0


def measure_peaks(threads: int) -> dict:
    env = os.environ | {k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                  "MKL_NUM_THREADS")}  # fmt: skip
    cmd = [sys.executable, "-c", PEAKS, str(threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def chain(layers: int):
    import torch

    torch.manual_seed(0)
    mods = []
    for _ in range(layers):
        mods += [torch.nn.Linear(WIDTH, WIDTH, bias=False), torch.nn.ReLU()]
    return torch.nn.Sequential(*mods).eval()


def p50(art, threads: int, rounds: int) -> float:
    from _artifacts import measure

    return statistics.median(measure(art, threads)["p50_ms"] for _ in range(rounds))


def fixed_costs(tmp: Path, runtimes: list[str], threads: int, rounds: int) -> dict:
    """{runtime: {"per_inference_us", "per_layer_us", "t1_ms", "t33_ms"}} from the probes."""
    from _artifacts import build

    arts = {n: build(f"chain{n}", tmp / f"chain{n}", runtimes, chain(n), [WIDTH]) for n in CHAIN}
    out = {}
    for rt in runtimes:
        t1, tn = (p50(arts[n][rt], threads, rounds) for n in CHAIN)
        per_layer = max(tn - t1, 0.0) / (CHAIN[1] - CHAIN[0]) * 1e3
        out[rt] = {"per_inference_us": max(t1 * 1e3 - per_layer, 0.0), "per_layer_us": per_layer,
                   "t1_ms": t1, "t33_ms": tn}  # fmt: skip
    return out


def main() -> int:
    from _artifacts import available, build
    from _models import MODELS

    from edgekd.backends.fixed_costs import CLASS_COSTS, FixedCosts
    from edgekd.config.schema import DeviceSpec
    from edgekd.profile.estimate import graph_cost, roofline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2, help="measurements per artifact (median)")
    ap.add_argument("--gflops", type=float, help="published fp32 peak (default: measured)")
    ap.add_argument("--gbps", type=float, help="published memory bandwidth (default: measured)")
    args = ap.parse_args()
    peaks = measure_peaks(args.threads)
    spec = DeviceSpec(peak_fp32_gflops=args.gflops or peaks["gflops"],
                      memory_bandwidth_gbps=args.gbps or peaks["gbps"])  # fmt: skip
    runtimes = available()
    print(f"device: {spec.peak_fp32_gflops:.1f} GFLOP/s fp32, {spec.memory_bandwidth_gbps:.1f} "
          f"GB/s ({'given' if args.gflops else 'measured'}), {args.threads} thread(s); "
          f"runtimes: {', '.join(runtimes)}")  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fixed = fixed_costs(Path(tmp), runtimes, args.threads, args.rounds)
        for rt, f in fixed.items():
            print(f"fixed costs {rt:12} {f['per_inference_us']:6.1f} us per inference, "
                  f"{f['per_layer_us']:5.2f} us per layer (1 layer {f['t1_ms'] * 1e3:.1f} us, "
                  f"33 layers {f['t33_ms'] * 1e3:.1f} us)")  # fmt: skip
        print(f"{'model':9} {'runtime':12} {'layers':>6} {'MFLOPs':>8} {'bound':10} "
              f"{'est. ms':>8} {'meas. ms':>9} {'meas/est':>9} {'shipped':>8}")  # fmt: skip
        for name in MODELS:
            arts = build(name, Path(tmp) / name, runtimes)
            cost = graph_cost(Path(tmp) / name / "model.onnx")
            for rt, art in arts.items():
                here = FixedCosts(fixed[rt]["per_inference_us"], fixed[rt]["per_layer_us"],
                                  (1, 1), "measured now")  # fmt: skip
                est = roofline(cost, spec, "fp32", here)
                shipped = roofline(cost, spec, "fp32", CLASS_COSTS[rt])
                ms = p50(art, args.threads, args.rounds)
                row = {"model": name, "runtime": rt, "estimate": est, "measured_ms": ms,
                       "ratio": ms / est["latency_ms"],
                       "ratio_shipped": ms / shipped["latency_ms"]}  # fmt: skip
                rows.append(row)
                print(f"{name:9} {rt:12} {cost['layers']:6d} {cost['flops'] / 1e6:8.2f} "
                      f"{est['bound']:10} {est['latency_ms']:8.4f} {ms:9.4f} "
                      f"{row['ratio']:8.2f}x {row['ratio_shipped']:7.2f}x")  # fmt: skip
    bands = {}
    for rt in runtimes:
        r = [x["ratio"] for x in rows if x["runtime"] == rt]
        s = [x["ratio_shipped"] for x in rows if x["runtime"] == rt]
        bands[rt] = {"measured_fixed": [min(r), max(r)], "shipped_fixed": [min(s), max(s)]}
        ok = all(1 / GOAL <= v <= GOAL for v in r)
        print(f"band {rt:12} measured/estimated {min(r):.2f}-{max(r):.2f} (shipped defaults "
              f"{min(s):.2f}-{max(s):.2f}): {'within' if ok else 'OUTSIDE'} {GOAL:g}x")  # fmt: skip
    result = {"device": spec.model_dump(), "threads": args.threads, "fixed_costs": fixed,
              "rows": rows, "bands": bands, "goal_factor": GOAL}  # fmt: skip
    write_result("estimator_error", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
