"""Cross-check our batch-1 median latency with OpenVINO's own benchmark_app, same IR and
settings (LATENCY hint, 1 stream, 1 request, sync, same threads, f32). Target: within +-15%.

    .venv/bin/python benchmarks/benchmark_app_check.py [--model resnet8] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from _models import MODELS, export, to_openvino
    from _peers import cross_check

    from _common import machine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="resnet8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("runs/benchmarks/benchmark_app_check.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path, shape, _ = export(args.model, Path(tmp), static_batch=True)
        res = cross_check(to_openvino(onnx_path), shape, args.threads, args.queries, args.rounds)
    ok = abs(res["ratio"] - 1) <= 0.15
    print(f"model {args.model}, {args.threads} thread(s), {args.queries} queries x {args.rounds}")
    print(f"edgekd median:        {res['ours_median_ms']:.4f} ms")
    print(f"benchmark_app median: {res['benchmark_app_median_ms']:.4f} ms")
    print(f"ratio {res['ratio']:.3f} -> {'within' if ok else 'OUTSIDE'} +-15%")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    extra = {"machine": machine(), "model": args.model, "within_15pct": ok}
    args.out.write_text(json.dumps(extra | res, indent=2))
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
