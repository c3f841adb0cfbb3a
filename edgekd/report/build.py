"""Build report.json, report.md and report.html from the stage records of one run.

Schema edgekd.report/2: one row per model x target x precision. Every row with a latency says
where it came from in `latency_source` (measured-local, measured-remote, estimated) and where
its accuracy came from in `accuracy_source` (artifact: the compiled artifact over the whole
test split; torch: the PyTorch model, used where the artifact could not be run).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import edgekd
from edgekd.errors import ArtifactError
from edgekd.fsutil import write_json_atomic, write_text_atomic
from edgekd.report.pareto import mark_frontier
from edgekd.report.recommend import recommendations

SCHEMA = "edgekd.report/2"
READABLE = ("edgekd.report/1", SCHEMA)


def write_report(run_dir: Path, cfg, models, targets, rows: list[dict]) -> dict:
    infos = {m.label: m.stage.info for m in models}
    table = [report_row(r, infos[r["model"]], cfg.accuracy_gate) for r in rows]
    add_speedups(table)
    mark_frontier(table)
    report = {
        "schema": SCHEMA,
        "edgekd_version": edgekd.__version__,
        "pipeline": cfg.name,
        "seed": cfg.seed,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset": cfg.data.dataset,
        "accuracy_gate": cfg.accuracy_gate,
        "profile": cfg.profile.model_dump(mode="json"),
        "targets": {t.name: target_summary(t) for t in targets},
        "models": {m.label: {"role": m.role, **_model_summary(m.stage.info)} for m in models},
        "rows": table,
        "recommended": recommendations(table, cfg.accuracy_gate),
    }
    write_outputs(Path(run_dir), report)
    return report


def write_outputs(run_dir: Path, report: dict) -> None:
    from edgekd.report.html import render_html
    from edgekd.report.markdown import render_markdown

    write_json_atomic(run_dir / "report.json", report)
    write_text_atomic(run_dir / "report.md", render_markdown(report))
    write_text_atomic(run_dir / "report.html", render_html(report))


def target_summary(t) -> dict:
    return {
        "runtime": t.runtime,
        "host": t.host,
        "threads": t.threads,
        "description": t.description,
        "device": t.device.model_dump(mode="json", exclude_none=True),
    }


def report_row(r: dict, info: dict, gate: float) -> dict:
    row = {
        "model": r["model"],
        "role": r["role"],
        "method": info.get("method"),
        "student": r.get("student"),
        "target": r["target"],
        "runtime": r["runtime"],
        "precision": r["precision"],
        "status": r["status"],
        "params": info["params"],
        "flops": info["flops"],
        "acc_torch": info["acc_test"],
    }
    if r["status"] == "ok":
        row.update(measured_fields(r, info, gate))
    elif r["status"] == "estimated":
        row.update(estimated_fields(r, info))
    else:
        row["reason"] = r.get("reason", "")
    if "compile" in r:  # compiled here (measured or not): the bundle ships either way
        row.update(bundle=r["bundle"], size_bytes=r["compile"]["bytes"])
        row["placement"] = placement_summary(r["compile"], r.get("profile", {}))
    return row


def placement_summary(compile_info: dict, profile: dict) -> str:
    """One short cell: where ops ran (delegation, runtime precisions) or how int8 was made."""
    where = compile_info.get("placement") or {}
    if "delegated_ops" in where:
        text = f"{where['delegated_ops']} ops delegated, {where['non_delegated_ops']} not"
        return text + (
            f" ({', '.join(where['non_delegated_by_op'])})" if where["non_delegated_ops"] else ""
        )
    layers = profile.get("placement", {}).get("runtime_precision_layers")
    note = (compile_info.get("quantization") or {}).get("note")
    if layers:
        text = "layers " + ", ".join(f"{k}:{v}" for k, v in sorted(layers.items()))
        return f"{text} ({note})" if note else text
    quant = compile_info.get("quantization") or {}
    if "mode" in quant:
        return f"{quant['mode']} int8, reduce_range={quant.get('reduce_range')}"
    return quant.get("method", "-") if quant else "-"


def measured_fields(r: dict, info: dict, gate: float) -> dict:
    prof, lat = r["profile"], r["profile"]["latency"]
    acc = prof["acc_artifact"]
    keeps = acc / info["acc_test"] if info["acc_test"] else 0.0
    env = prof.get("environment", {})
    return {
        "acc_artifact": acc,
        "accuracy": acc,
        "accuracy_source": "artifact",
        "gate": "pass" if keeps >= gate else "fail",
        "accuracy_kept": keeps,
        **{k: lat[k] for k in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "std_ms")},
        "min_ms": lat["min_ms"],
        "max_ms": lat["max_ms"],
        "queries": lat["queries"],
        "load_ms": prof["load_ms"],
        "first_inference_ms": lat.get("first_inference_ms"),
        "throughput": prof["throughput"]["samples_per_s"],
        "throughput_batch": prof["throughput"]["batch"],
        "peak_rss_bytes": prof.get("memory", {}).get("peak_rss_bytes"),
        "size_bytes": r["compile"]["bytes"],
        "latency_source": prof["source"],
        "threads": prof["placement"].get("intra_op_threads", prof["placement"].get("threads")),
        "affinity": env.get("affinity"),
        "host": env.get("hostname"),
        "cpu": env.get("cpu"),
        "versions": prof.get("versions") or r["compile"].get("versions", {}),
        "layers": prof.get("layers"),
        "bundle": r["bundle"],
    }


def estimated_fields(r: dict, info: dict) -> dict:
    est = r["estimate"]
    ms = est["latency_ms"]
    return {
        "acc_artifact": None,  # the artifact was not run
        "accuracy": info["acc_test"],
        "accuracy_source": "torch",
        "gate": "n/a",
        "p50_ms": ms,
        "p90_ms": ms,
        "p99_ms": ms,
        "size_bytes": est["size_bytes"],
        "latency_source": "estimated",
        "estimate": est,
        "reason": r.get("reason", ""),
        "bundle": r.get("bundle"),  # built here for the device, when its compiler runs here
    }


def add_speedups(rows: list[dict]) -> None:
    """p50 of the teacher (fp32, same target, same kind of figure) over each row's p50."""
    base = {
        (r["target"], r.get("latency_source")): r["p50_ms"]
        for r in rows
        if r["role"] == "teacher" and r["precision"] == "fp32" and r.get("p50_ms")
    }
    for r in rows:
        b = base.get((r["target"], r.get("latency_source")))
        r["speedup_vs_teacher"] = b / r["p50_ms"] if b and r.get("p50_ms") else None


def _model_summary(info: dict) -> dict:
    keep = ("model", "options", "method", "scheme", "params", "flops", "acc_test")
    keep += ("synthetic_samples", "synthesis", "training_samples_read", "peers", "teachers")
    return {k: info[k] for k in keep if k in info}


def load_report(run_dir: Path) -> dict:
    path = Path(run_dir) / "report.json"
    if not path.is_file():
        raise ArtifactError(f"'{run_dir}' has no report.json. Run `edgekd run PIPELINE` first.")
    try:
        report = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise ArtifactError(f"'{path}' is not valid JSON; rerun the pipeline.") from None
    if report.get("schema") not in READABLE:
        raise ArtifactError(
            f"'{path}' has schema {report.get('schema')!r}; this edgekd reads "
            f"{', '.join(READABLE)}. Rerun the pipeline to rebuild the report."
        )
    for row in report["rows"]:
        row.setdefault("accuracy", row.get("acc_artifact"))
        row.setdefault("latency_source", row.get("latency_source"))
    return report
