"""What edgekd's harness adds to batch-1 latency, against each runtime's own loop and tool.

For every benchmark model (benchmarks/_models.py) and local runtime, interleaved rounds of:
- edgekd: the profiling worker (fresh process, its runner, nearest-rank median);
- bare: a fresh process looping over the runtime's Python API with the input prepared once
  (ONNX Runtime session.run, OpenVINO InferRequest.infer with a shared input tensor and the
  output read as a view, ExecuTorch Method.execute), the median of per-call times;
- OpenVINO's benchmark_app on the same IR and settings (benchmarks/_peers.py).
Same threads (1 by default), same IR/model file, batch 1. Goal: edgekd within 15% of the
bare loop for models of 0.1 ms or more. Below that the fixed costs dominate, so the script
reports them apart instead: the binding floor (the bare loop on a one-layer model: what the
runtime's Python call costs with almost no work) and edgekd's own per-call overhead (edgekd
minus bare, in us).

    python benchmarks/harness_overhead.py [--threads 1] [--rounds 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

GOAL = 0.15
LARGE_MS = 0.1
BARE = {
    "onnxruntime": """
import onnxruntime as ort
so = ort.SessionOptions(); so.intra_op_num_threads = THREADS; so.inter_op_num_threads = 1
s = ort.InferenceSession(PATH, so, providers=["CPUExecutionProvider"])
feed = {s.get_inputs()[0].name: X}
call = lambda: s.run(None, feed)
""",
    "openvino": """
import openvino as ov
cfg = {"INFERENCE_NUM_THREADS": THREADS, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1",
       "INFERENCE_PRECISION_HINT": "f32"}
req = ov.Core().compile_model(PATH, "CPU", cfg).create_infer_request()
req.set_input_tensor(0, ov.Tensor(X, shared_memory=True))
def call():
    req.infer()
    return req.get_output_tensor(0).data  # the result, as a view (the others return it too)
""",
    "executorch": """
import torch
from executorch.extension.pybindings import portable_lib
from executorch.runtime import Runtime
portable_lib._unsafe_reset_threadpool(THREADS)
method = Runtime.get().load_program(PATH).load_method("forward")
inputs = [torch.from_numpy(X)]
call = lambda: method.execute(inputs)
""",
}
LOOP = """
import json, sys, time, numpy as np
PATH, THREADS, SHAPE = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
X = np.random.default_rng(0).random([1, *SHAPE], dtype=np.float32)
{setup}
for _ in range(50): call()
times, start = [], time.perf_counter()
while len(times) < 2000 or time.perf_counter() - start < 1.0:
    t = time.perf_counter(); call(); times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({{"p50_ms": times[len(times) // 2] * 1e3, "calls": len(times)}}))
"""


def bare(art, threads: int) -> float:
    code = LOOP.format(setup=BARE[art.runtime])
    args = [str(art.folder / art.name), str(threads), json.dumps(art.shape)]
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])["p50_ms"]


def compare(arts: dict, threads: int, rounds: int) -> dict:
    """{runtime: {"edgekd_ms", "bare_ms", ["benchmark_app_ms"], rounds...}}, medians."""
    from _artifacts import measure
    from _peers import run_benchmark_app

    out = {}
    for rt, art in arts.items():
        got: dict[str, list[float]] = {"edgekd_ms": [], "bare_ms": []}
        for _ in range(rounds):  # interleaved: the CPU is shared
            got["edgekd_ms"].append(measure(art, threads)["p50_ms"])
            got["bare_ms"].append(bare(art, threads))
            if rt == "openvino":
                xml = art.folder / art.name
                got.setdefault("benchmark_app_ms", []).append(
                    run_benchmark_app(xml, threads, 2000)["median_ms"]
                )
        out[rt] = {k: statistics.median(v) for k, v in got.items()} | {"rounds": got}
    return out


def verdict(r: dict, floor_ms: float) -> dict:
    """Within GOAL of the bare loop for models of LARGE_MS or more; below, the overheads."""
    ratio = r["edgekd_ms"] / r["bare_ms"]
    extra = {"ratio_vs_bare": ratio, "harness_us": (r["edgekd_ms"] - r["bare_ms"]) * 1e3,
             "binding_floor_us": floor_ms * 1e3}  # fmt: skip
    if "benchmark_app_ms" in r:
        extra["ratio_vs_benchmark_app"] = r["edgekd_ms"] / r["benchmark_app_ms"]
    if r["bare_ms"] >= LARGE_MS:
        extra["within_goal"] = abs(ratio - 1) <= GOAL
    return extra


def main() -> int:
    from _artifacts import available, build
    from _models import MODELS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", action="append", choices=sorted(MODELS))
    args = ap.parse_args()
    runtimes = available()
    results: dict = {"floor": {}, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        from estimator_error import chain

        probe = build("floor", Path(tmp) / "floor", runtimes, chain(1), [16], static_batch=True)
        results["floor"] = {rt: statistics.median(bare(a, args.threads) for _ in range(3))
                            for rt, a in probe.items()}  # fmt: skip
        for name in args.model or MODELS:
            arts = build(name, Path(tmp) / name, runtimes, static_batch=True)
            res = compare(arts, args.threads, args.rounds)
            for rt, r in res.items():
                r.update(verdict(r, results["floor"][rt]))
                peer = ""
                if "benchmark_app_ms" in r:
                    peer = (f", benchmark_app {r['benchmark_app_ms']:.4f} ms "
                            f"({r['ratio_vs_benchmark_app']:.2f}x)")  # fmt: skip
                goal = {True: "within 15%", False: "OUTSIDE 15%"}.get(r.get("within_goal"), "small")
                print(f"{name:9} {rt:12} edgekd {r['edgekd_ms']:.4f} ms, bare {r['bare_ms']:.4f} "
                      f"ms ({r['ratio_vs_bare']:.2f}x, {r['harness_us']:+.1f} us){peer}; "
                      f"binding floor {r['binding_floor_us']:.1f} us: {goal}")  # fmt: skip
            results["models"][name] = res
    write_result("harness_overhead", {"threads": args.threads, "rounds": args.rounds,
                                      "goal": GOAL, "large_ms": LARGE_MS, **results})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
