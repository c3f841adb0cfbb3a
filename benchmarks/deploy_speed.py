"""Deployment speed on this machine, measured side by side in one run.

For the quickstart student (MLP on MNIST-1D) and a CIFAR-size ResNet student (ResNet-8 on
digits resampled to 3x32x32): PyTorch eager fp32, torch.compile, and every artifact edgekd
built (ONNX Runtime, OpenVINO, ExecuTorch; fp32 and int8) — batch-1 p90 and batch-32
throughput, each in a fresh process with edgekd's profiler and the runtime settings its
bundle ships (what predict.py uses). Also: which artifact edgekd's report recommends, how it
compares with hand-tuned settings of the same runtime, each artifact's achieved GFLOP/s as a
share of this machine's peak for the row's precision (the larger of the best measured GEMM
and the ISA bound, benchmarks/gemm_peak.py; never above 100%), and teacher vs recommended
student per target. Rounds are interleaved; medians are reported.

    python benchmarks/deploy_speed.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from gemm_peak import gemm_peaks, peak_for, share_of_peak

from _common import write_result

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CASES = {
    "quickstart-mlp": ("pipelines/quickstart.yaml", "runs/bench-quickstart", "mlp"),
    "cifar-resnet8": ("pipelines/digits32_resnet.yaml", "runs/bench-digits32", "resnet8"),
}
TARGETS = ["cpu-onnxruntime", "cpu-openvino", "mobile-executorch"]
PROFILE = {
    "tier": "quick",
    "warmup": 50,
    "min_queries": 1024,
    "min_time_s": 1.0,
    "throughput_batch": 32,
    "throughput_time_s": 1.0,
    "layers": False,
}
THREADS = [1, 2]


def ensure_run(pipeline: str, out: str) -> dict:
    args = [sys.executable, "-m", "edgekd", "run", pipeline, "--out", out, "-q"]
    for t in TARGETS:
        args += ["--target", t]
    subprocess.run(args, cwd=REPO, check=True)
    return json.loads((REPO / out / "report.json").read_text())


def profile_bundle(bundle: Path, target_name: str, update: dict | None = None) -> dict:
    """The bundle measured as predict.py runs it (its manifest's tuned settings), or with the
    target's settings changed by `update` (a hand-tuned alternative)."""
    from edgekd.config.load import load_target
    from edgekd.config.schema import ProfileConfig
    from edgekd.deploy import verify_bundle
    from edgekd.profile.isolate import profile_artifact
    from edgekd.profile.protocol import make_spec
    from edgekd.records import RuntimeSettings

    manifest = verify_bundle(bundle)
    target = load_target(target_name)
    if update:
        base = target.runtime_options  # parsed into the backend's Options by load_target
        base = base.model_dump() if hasattr(base, "model_dump") else dict(base)
        opts = {**base, **update.pop("runtime_options", {})}
        target = target.model_copy(update={**update, "runtime_options": opts})
    spec = make_spec(
        bundle,
        manifest["artifact"],
        target,
        ProfileConfig(**PROFILE),
        manifest["input"]["shape"][1:],
        files=list(manifest["files"]),
    )
    if not update and manifest.get("tuned_settings"):
        shipped = RuntimeSettings.model_validate(manifest["tuned_settings"])
        spec = spec.model_copy(update={"settings": shipped})
    res = profile_artifact(spec)
    return {
        "p50_ms": res["latency"]["p50_ms"],
        "p90_ms": res["latency"]["p90_ms"],
        "throughput": res["throughput"]["samples_per_s"],
    }


def torch_variant(run_dir: str, label: str, mode: str) -> dict:
    """PyTorch eager or torch.compile in a fresh process (see `torch_worker`)."""
    out = subprocess.run(
        [sys.executable, __file__, "--torch-worker", run_dir, label, mode],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def torch_worker(run_dir: str, label: str, mode: str) -> None:
    import time

    import numpy as np
    import torch

    from edgekd.config.schema import ProfileConfig
    from edgekd.profile.latency import measure_latency, measure_throughput
    from edgekd.stages.data import load_splits
    from edgekd.stages.models import load_trained

    torch.set_num_threads(2)
    stages = REPO / run_dir / "stages"
    data = _stage(stages, "data")
    splits = load_splits(data)
    model = load_trained(_stage(stages, label), splits)
    t0 = time.perf_counter()
    fn = torch.compile(model) if mode == "compile" else model
    x = np.ascontiguousarray(splits.x["test"][:1])
    batch = np.ascontiguousarray(np.resize(splits.x["test"], (32, *splits.input_shape)))

    @torch.inference_mode()
    def run(a):
        return fn(torch.from_numpy(a))

    run(x), run(batch)  # compile both shapes before timing
    setup_s = time.perf_counter() - t0
    lat = measure_latency(run, x, ProfileConfig(**PROFILE))["stats"]
    thr = measure_throughput(run, batch, PROFILE["throughput_time_s"])
    print(
        json.dumps(
            {
                "p50_ms": lat["p50_ms"],
                "p90_ms": lat["p90_ms"],
                "throughput": thr["samples_per_s"],
                "setup_s": setup_s,
            }
        )
    )


def _stage(stages: Path, label: str):
    from edgekd.store import StageResult

    for d in sorted(stages.iterdir()):
        if d.name.rsplit("-", 1)[0] == label and (d / "stage.json").is_file():
            rec = json.loads((d / "stage.json").read_text())
            return StageResult(label, d, rec["content_hash"], rec, True)
    raise SystemExit(f"no stage '{label}' in {stages}")


def tuned_settings(runtime: str) -> list[dict]:
    """Hand-tuned alternatives a user would try for the recommended artifact's runtime."""
    out = [{"threads": t} for t in THREADS]
    if runtime == "onnxruntime":
        out += [
            {"threads": t, "runtime_options": {"graph_optimization_level": "extended"}}
            for t in THREADS
        ]
    if runtime == "openvino":
        out += [
            {"threads": t, "runtime_options": {"performance_hint": "THROUGHPUT"}} for t in THREADS
        ]
    return out


def measure_case(name: str, rounds: int) -> dict:
    pipeline, run_dir, student = CASES[name]
    report = ensure_run(pipeline, run_dir)
    names = (student, f"{student}-scratch", "teacher")
    rows = [r for r in report["rows"] if r["status"] == "ok" and r["model"] in names]
    rec = report.get("recommended", {})
    best_target = min(rec, key=lambda t: rec[t]["p90_ms"])  # the machine-wide pick
    pick = rec[best_target]
    variants = {
        f"torch-eager fp32 ({student})": lambda: torch_variant(run_dir, student, "eager"),
        f"torch.compile fp32 ({student})": lambda: torch_variant(run_dir, student, "compile"),
    }
    precision = {k: "fp32" for k in variants}  # what each variant computes in
    for r in rows:
        key = f"{r['target']} {r['precision']} ({r['model']})"
        variants[key] = lambda r=r: profile_bundle(REPO / run_dir / r["bundle"], r["target"])
        precision[key] = r["precision"]
    runtime = report["targets"][best_target]["runtime"]
    for i, upd in enumerate(tuned_settings(runtime)):
        key = f"tuned#{i} {json.dumps(upd)}"
        variants[key] = lambda upd=upd: profile_bundle(
            REPO / run_dir / pick["bundle"], best_target, json.loads(json.dumps(upd))
        )
        precision[key] = pick["precision"]
    samples = {k: [] for k in variants}
    for _ in range(rounds):
        for k, fn in variants.items():
            samples[k].append(fn())
    med = {
        k: {m: statistics.median(s[m] for s in v) for m in ("p50_ms", "p90_ms", "throughput")}
        for k, v in samples.items()
    }
    return summarize(name, report, rows, student, best_target, pick, med, precision)


def summarize(name, report, rows, student, best_target, pick, med, precision) -> dict:
    peaks = gemm_peaks()
    flops = {r["model"]: r["flops"] for r in rows}
    table = []
    for k, m in med.items():
        model = k.rsplit("(", 1)[-1].rstrip(")") if k.endswith(")") else student
        peak = peak_for(precision[k], peaks)
        f = flops.get(model, flops[student])
        table.append(
            {
                "variant": k,
                "precision": precision[k],
                **m,
                "gflops_b1": f / (m["p50_ms"] * 1e6),
                "peak_gops": peak,
                # share_of_peak refuses > 100%: the run stops rather than print it
                "share_of_peak_b1": share_of_peak(f, m["p50_ms"] / 1e3, peak),
                "share_of_peak_b32": share_of_peak(f * m["throughput"], 1.0, peak),
            }
        )
    eager = med[f"torch-eager fp32 ({student})"]["p90_ms"]
    rec_key = f"{best_target} {pick['precision']} ({pick['model']})"  # maybe the scratch twin
    tuned = [v["p90_ms"] for k, v in med.items() if k.startswith("tuned#")] + [
        med[rec_key]["p90_ms"]
    ]
    teacher_vs = {}
    for t, p in report.get("recommended", {}).items():
        tk = f"{t} fp32 (teacher)"
        sk = f"{t} {p['precision']} ({student})"
        if tk in med and sk in med:
            t_acc = next(
                r["accuracy"]
                for r in rows
                if r["target"] == t and r["model"] == "teacher" and r["precision"] == "fp32"
            )
            teacher_vs[t] = {
                "latency_ratio_teacher_over_student": med[tk]["p90_ms"] / med[sk]["p90_ms"],
                "accuracy_teacher": t_acc,
                "accuracy_student": p["accuracy"],
                "accuracy_difference_points": 100 * (t_acc - p["accuracy"]),
            }
    naive_key = f"cpu-onnxruntime fp32 ({student}-scratch)"
    naive = None
    if naive_key in med:  # the small model from scratch, torch.onnx, ORT defaults
        n_acc = next(
            r["accuracy"]
            for r in rows
            if r["model"] == f"{student}-scratch"
            and r["target"] == "cpu-onnxruntime"
            and r["precision"] == "fp32"
        )
        naive = {
            "accuracy": n_acc,
            "p90_ms": med[naive_key]["p90_ms"],
            "accuracy_gain_points": 100 * (pick["accuracy"] - n_acc),
            "speedup_p90": med[naive_key]["p90_ms"] / med[rec_key]["p90_ms"],
        }
    return {
        "naive_path": naive,
        "case": name,
        "student": student,
        "peaks": peaks,
        "variants": table,
        "recommended": {"target": best_target, **pick},
        "recommended_vs_eager_p90": eager / med[rec_key]["p90_ms"],
        "recommended_vs_best_tuned_p90": med[rec_key]["p90_ms"] / min(tuned),
        "teacher_vs_student": teacher_vs,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--torch-worker", nargs=3)
    ap.add_argument("--case", action="append")
    args = ap.parse_args()
    if args.torch_worker:
        return torch_worker(*args.torch_worker)
    results = {c: measure_case(c, args.rounds) for c in (args.case or CASES)}
    for c, r in results.items():
        print(
            f"{c}: recommended {r['recommended']['target']} {r['recommended']['precision']}: "
            f"{r['recommended_vs_eager_p90']:.1f}x faster than eager (p90); "
            f"{r['recommended_vs_best_tuned_p90']:.2f}x the best hand-tuned p90"
        )
    write_result("deploy_speed", {"rounds": args.rounds, "profile": PROFILE, "cases": results})


if __name__ == "__main__":
    main()
