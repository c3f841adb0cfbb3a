"""report.md: method, per-target Pareto frontiers, the full table, slowest ops, estimates."""

from __future__ import annotations

from edgekd.report.columns import FULL, cell, fmt_ms


def method_text(report: dict) -> str:
    prof = report.get("profile", {})
    return (
        f"dataset `{report['dataset']}`, seed {report['seed']}, edgekd "
        f"{report['edgekd_version']}, {report['created']}. Accuracy is on the whole test split "
        "(of the compiled artifact; `(torch)` where the artifact could not be run). Latency is "
        f"single-stream batch 1 in a fresh process per artifact, {prof.get('tier', '?')} tier: "
        f"{prof.get('warmup', '?')} warm-up queries, then at least "
        f"{prof.get('min_queries', '?')} queries and {prof.get('min_time_s', '?')} s "
        "(nearest-rank percentiles); load and first-inference times are kept apart. "
        "`~x (est.)` marks a roofline estimate for a device that is not attached: an optimistic "
        "bound, not a measurement. The gate passes an artifact that keeps "
        f">= {report['accuracy_gate']:.0%} of its PyTorch model's accuracy."
    )


def point_label(r: dict) -> str:
    return f"{r['model']} ({r.get('method') or r['role']}, {r['precision']})"


def frontier_lines(report: dict, target: str) -> list[str]:
    rows = [r for r in report["rows"] if r["target"] == target and r.get("pareto")]
    rows.sort(key=lambda r: r["p90_ms"])
    return [
        f"- {point_label(r)}: accuracy {cell(r, 'accuracy', '{:.2%}')}, p90 "
        f"{cell(r, 'p90_ms', '{}')} ms — {r['latency_source']}"
        for r in rows
    ] or ["- (no measured or estimated artifacts)"]


def table_lines(rows: list[dict], columns=FULL) -> list[str]:
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r, k, f) for k, _, f in columns) + " |" for r in rows]
    return lines


def layer_lines(report: dict) -> list[str]:
    out = []
    for r in report["rows"]:
        layers = r.get("layers") or {}
        if not layers.get("top"):
            continue
        out += [
            "",
            f"### {r['model']} on {r['target']} ({r['precision']}) — {layers['tool']}, "
            f"{layers['runs']} runs, {layers['total_us']:.1f} us of kernel time per run",
            "",
            "| op | type | mean us | share |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {op['name']} | {op['op_type']} | {op['mean_us']:.2f} | {op['share']:.1%} |"
            for op in layers["top"]
        ]
    return (["", "## Slowest ops (top 10 per artifact)"] + out) if out else []


def estimate_lines(report: dict) -> list[str]:
    rows = [r for r in report["rows"] if r.get("latency_source") == "estimated"]
    if not rows:
        return []
    out = ["", "## Estimated rows (not measured)", ""]
    for r in rows:
        e = r["estimate"]
        out.append(
            f"- {point_label(r)} on {r['target']}: ~{e['latency_ms']:.4f} ms, {e['bound']}-bound "
            f"roofline ({e['flops']:,} FLOPs at {e['peak']:g} G/s, {e['bytes']:,} bytes at "
            f"{e['memory_bandwidth_gbps']:g} GB/s; specs: {e.get('spec_source') or 'n/a'}). "
            f"Why not measured: {r.get('reason', '')}"
        )
    return out


def recommended_lines(report: dict) -> list[str]:
    rec = report.get("recommended") or {}
    if not rec:
        return []
    out = [
        "",
        "## Recommended artifact per target",
        "",
        "The fastest student artifact (p90) that keeps the accuracy gate relative to the "
        "most accurate student artifact on that target; measured rows only.",
        "",
    ]
    for target, r in rec.items():
        out.append(
            f"- **{target}**: {r['model']} ({r.get('method')}, {r['precision']}) — accuracy "
            f"{r['accuracy']:.2%}, p90 {fmt_ms(r['p90_ms'])} ms; bundle `{r.get('bundle')}`"
        )
    return out


def scheme_notes(report: dict) -> list[str]:
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


def gate_lines(report: dict) -> list[str]:
    failed = [r for r in report["rows"] if r.get("gate") == "fail"]
    if not failed:
        return []
    return ["", "## Accuracy gate failures", ""] + [
        f"- {r['model']} on {r['target']} ({r['precision']}): accuracy "
        f"{cell(r, 'acc_artifact', '{:.2%}')} vs {cell(r, 'acc_torch', '{:.2%}')} in PyTorch "
        f"(keeps {cell(r, 'accuracy_kept', '{:.2%}')}), below the "
        f"{report['accuracy_gate']:.0%} gate; bundle {r.get('bundle', '-')}"
        for r in failed
    ]


def render_markdown(report: dict) -> str:
    lines = [f"# edgekd report: {report['pipeline']}", "", method_text(report)]
    lines += recommended_lines(report)
    for target in sorted({r["target"] for r in report["rows"]}):
        lines += ["", f"## Pareto frontier on {target} (accuracy vs p90 latency)", ""]
        lines += frontier_lines(report, target)
    lines += ["", "## All rows", ""] + table_lines(report["rows"])
    lines += scheme_notes(report) + gate_lines(report) + layer_lines(report)
    lines += estimate_lines(report)
    skipped = [r for r in report["rows"] if r["status"] not in ("ok", "estimated")]
    if skipped:
        lines += ["", "## Not measured", ""]
        lines += [
            f"- {r['model']} on {r['target']} ({r['precision']}): {r.get('reason', '')}"
            for r in skipped
        ]
    return "\n".join(lines) + "\n"
