"""Does the fastest int8 artifact beat the fp32 ONNX Runtime artifact at batch 1?

    python benchmarks/int8_vs_fp32.py runs/cnn-student [--json out.json]

Reads a run's report.json (all figures from that one run, so they share the machine's load)
and prints, per model, the fp32 ORT p50, every measured int8 artifact's p50 and the ratio.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def compare(report: dict) -> list[dict]:
    out = []
    measured = [r for r in report["rows"] if r["status"] == "ok"]
    for model in dict.fromkeys(r["model"] for r in measured):
        base = [
            r
            for r in measured
            if r["model"] == model and r["runtime"] == "onnxruntime" and r["precision"] == "fp32"
        ]
        int8 = sorted(
            (r for r in measured if r["model"] == model and r["precision"] == "int8"),
            key=lambda r: r["p50_ms"],
        )
        if not base or not int8:
            continue
        fp32 = base[0]
        out.append(
            {
                "model": model,
                "fp32_ort_p50_ms": fp32["p50_ms"],
                "fp32_ort_acc": fp32["acc_artifact"],
                "int8": [
                    {
                        "target": r["target"],
                        "p50_ms": r["p50_ms"],
                        "p90_ms": r["p90_ms"],
                        "speedup_vs_fp32_ort": fp32["p50_ms"] / r["p50_ms"],
                        "acc": r["acc_artifact"],
                        "gate": r["gate"],
                    }
                    for r in int8
                ],
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    result = compare(json.loads((args.run_dir / "report.json").read_text()))
    for m in result:
        print(
            f"{m['model']}: fp32 ORT p50 {m['fp32_ort_p50_ms']:.4f} ms, acc {m['fp32_ort_acc']:.2%}"
        )
        for r in m["int8"]:
            print(
                f"  int8 {r['target']:<18} p50 {r['p50_ms']:.4f} ms  p90 {r['p90_ms']:.4f} ms  "
                f"x{r['speedup_vs_fp32_ort']:.2f} vs fp32 ORT  acc {r['acc']:.2%}  gate {r['gate']}"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
