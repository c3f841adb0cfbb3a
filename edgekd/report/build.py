"""Build report.json and report.md from the stage records of one run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import edgekd
from edgekd.errors import ArtifactError
from edgekd.fsutil import write_json_atomic, write_text_atomic

SCHEMA = "edgekd.report/1"


def write_report(run_dir: Path, cfg, models, targets, rows: list[dict]) -> dict:
    infos = {m.label: m.stage.info for m in models}
    teacher_p50 = {
        (r["target"], r["precision"]): r["profile"]["latency"]["p50_ms"]
        for r in rows
        if r["role"] == "teacher" and r["status"] == "ok"
    }
    table = []
    for r in rows:
        info = infos[r["model"]]
        row = {
            "model": r["model"],
            "role": r["role"],
            "method": info.get("method"),
            "target": r["target"],
            "runtime": r["runtime"],
            "precision": r["precision"],
            "status": r["status"],
            "params": info["params"],
            "flops": info["flops"],
            "acc_torch": info["acc_test"],
        }
        if r["status"] == "ok":
            prof, lat = r["profile"], r["profile"]["latency"]
            keeps = prof["acc_artifact"] / info["acc_test"] if info["acc_test"] else 0.0
            base = teacher_p50.get((r["target"], "fp32"))
            row.update(
                acc_artifact=prof["acc_artifact"],
                gate="pass" if keeps >= cfg.accuracy_gate else "fail",
                accuracy_kept=keeps,
                p50_ms=lat["p50_ms"],
                p90_ms=lat["p90_ms"],
                p99_ms=lat["p99_ms"],
                throughput=prof["throughput"]["samples_per_s"],
                throughput_batch=prof["throughput"]["batch"],
                size_bytes=r["compile"]["bytes"],
                speedup_vs_teacher=(base / lat["p50_ms"]) if base else None,
                latency_source=prof["source"],
                threads=prof["placement"].get("intra_op_threads"),
                versions=r["compile"].get("versions", {}),
                bundle=r["bundle"],
            )
        else:
            row["reason"] = r.get("reason", "")
        table.append(row)
    report = {
        "schema": SCHEMA,
        "edgekd_version": edgekd.__version__,
        "pipeline": cfg.name,
        "seed": cfg.seed,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset": cfg.data.dataset,
        "accuracy_gate": cfg.accuracy_gate,
        "targets": [t.name for t in targets],
        "models": {m.label: {"role": m.role, **_model_summary(m.stage.info)} for m in models},
        "rows": table,
    }
    write_json_atomic(Path(run_dir) / "report.json", report)
    write_text_atomic(Path(run_dir) / "report.md", render_markdown(report))
    return report


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
    if report.get("schema") != SCHEMA:
        raise ArtifactError(f"'{path}' has schema {report.get('schema')!r}, not {SCHEMA}.")
    return report


COLUMNS = [
    ("model", "model", "{}"),
    ("role", "role", "{}"),
    ("method", "method", "{}"),
    ("target", "target", "{}"),
    ("precision", "prec", "{}"),
    ("acc_torch", "acc (torch)", "{:.2%}"),
    ("acc_artifact", "acc (artifact)", "{:.2%}"),
    ("gate", "gate", "{}"),
    ("params", "params", "{:,}"),
    ("flops", "FLOPs", "{:,}"),
    ("p50_ms", "p50 ms", "{:.4f}"),
    ("p90_ms", "p90 ms", "{:.4f}"),
    ("throughput", "samples/s", "{:,.0f}"),
    ("size_bytes", "size KB", "{}"),
    ("speedup_vs_teacher", "speed-up vs teacher", "{:.2f}x"),
    ("latency_source", "latency", "{}"),
]


def cell(row: dict, key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None:
        return row.get("reason", "-") if key == "p50_ms" else "-"
    if key == "size_bytes":
        return f"{value / 1024:.1f}"
    return fmt.format(value)


def _scheme_notes(report: dict) -> list[str]:
    """What a reader must know to judge a distilled row: e.g. data-free sample counts."""
    notes = []
    for label, m in report["models"].items():
        if "synthetic_samples" in m:
            notes.append(
                f"- {label}: distilled data-free from {m['synthetic_samples']:,} synthetic "
                f"inputs ({m.get('synthesis')}); {m.get('training_samples_read', 0)} training "
                "samples read."
            )
        for i, peer in enumerate(m.get("peers", [])[1:], start=1):
            notes.append(
                f"- {label}: mutual-learning peer {i} ({peer['model']}) reached "
                f"{peer['acc_test']:.2%} test accuracy (not exported)."
            )
    return ["", "## Notes", "", *notes] if notes else []


def render_markdown(report: dict) -> str:
    lines = [
        f"# edgekd report: {report['pipeline']}",
        "",
        f"dataset `{report['dataset']}`, seed {report['seed']}, edgekd "
        f"{report['edgekd_version']}, {report['created']}. Accuracy is on the whole test split; "
        f"latency is batch 1 (nearest-rank percentiles); the gate passes an artifact that keeps "
        f">= {report['accuracy_gate']:.0%} of its PyTorch model's accuracy.",
        "",
        "| " + " | ".join(h for _, h, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in report["rows"]:
        lines.append("| " + " | ".join(cell(row, k, f) for k, _, f in COLUMNS) + " |")
    lines += _scheme_notes(report)
    skipped = [r for r in report["rows"] if r["status"] != "ok"]
    if skipped:
        lines += ["", "## Not measured", ""]
        lines += [
            f"- {r['model']} on {r['target']} ({r['precision']}): {r['status']} — "
            f"{r.get('reason', '')}"
            for r in skipped
        ]
    return "\n".join(lines) + "\n"
