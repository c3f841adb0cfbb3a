"""report.md: method, per-target Pareto frontiers, the full table, slowest ops, estimates."""

from __future__ import annotations

from edgekd.config.schema import TUNE_BUDGET_S
from edgekd.records import Gate, RowStatus
from edgekd.report.agreement import agreement_lines
from edgekd.report.columns import FULL, band_text, cell, columns_for, fmt_ms, split_text
from edgekd.report.model import Report, ReportRow
from edgekd.report.narrative import (
    baseline_note,
    class_cells,
    class_names,
    interval_text,
    kd_line,
    objective_line,
    pick_row,
    pick_text,
)
from edgekd.report.recovery import recovery_lines
from edgekd.report.search import search_lines

MAX_MATRIX = 20  # classes; a larger confusion matrix is not readable as a markdown table


def method_text(report: Report) -> str:
    prof = report.profile
    return (
        f"dataset `{report.dataset}`, seed {report.seed}, edgekd "
        f"{report.edgekd_version}, {report.created}. Accuracy is on the whole test split "
        "(of the compiled artifact; `(torch)` where the artifact could not be run). Latency is "
        f"single-stream batch 1 in a fresh process per artifact, {prof.get('tier', '?')} tier: "
        f"{prof.get('warmup', '?')} warm-up queries, then at least "
        f"{prof.get('min_queries', '?')} queries and {prof.get('min_time_s', '?')} s "
        f"(nearest-rank percentiles){rounds_text(prof)}; load and first-inference times are "
        "kept apart. "
        "`~x (est.)` marks a roofline estimate for a device that is not attached: an optimistic "
        "bound, not a measurement. The gate passes an artifact that keeps "
        f">= {report.accuracy_gate:.0%} of its PyTorch model's accuracy."
    )


def rounds_text(prof: dict) -> str:
    """How latency rounds and tuning were run ('' for a report made before either)."""
    if "rounds" not in prof:
        return ""
    text = (
        f" in {prof['rounds']} rounds, interleaved with the target's other artifacts where "
        "measured here; p50 and p90 are the medians of the rounds' figures, shown with the "
        "p90s' min–max (UNSTABLE where they differ by more than 1.5x)"
    )
    tune = prof.get("tune") or {}
    if not tune.get("enabled"):
        return text + ". Each artifact ran with its target's settings (threads capped at the CPUs)"
    budget = tune.get("budget_s") or TUNE_BUDGET_S.get(prof.get("tier"), "?")
    return text + (
        ". Each artifact ran with the fastest of the settings its runtime declares worth "
        "trying (threads up to the CPUs there, optimisation level, hints), screened in "
        f"{tune.get('rounds', '?')} interleaved rounds within {budget} s: what its bundle "
        "ships (`tuned_settings`)"
    )


def frontier_rows(report: Report, target: str) -> list[ReportRow]:
    return sorted((r for r in report.rows_on(target) if r.pareto), key=lambda r: r.p90_ms)


def frontier_lines(report: Report, target: str) -> list[str]:
    return [
        f"- {r.label}: accuracy {cell(r, 'accuracy', '{:.2%}')}, p90 "
        f"{cell(r, 'p90_ms', '{}')} ms — {r.latency_source}"
        for r in frontier_rows(report, target)
    ] or ["- (no measured or estimated artifacts)"]


def environment_text(report: Report, target: str) -> str:
    """Where and with what the target's rows were measured (distinct values, in row order)."""
    rows = [r for r in report.rows_on(target) if r.status is RowStatus.OK]
    if not rows:
        return ""

    def distinct(key: str) -> str:
        seen = []
        for r in rows:
            v = getattr(r, key)
            v = ", ".join(f"{k} {x}" for k, x in v.items()) if isinstance(v, dict) else str(v)
            if v not in seen:
                seen.append(v)
        return " / ".join(seen)

    return (
        f"Measured on {distinct('cpu')} (host {distinct('host')}), "
        f"{distinct('latency_source')}; threads {distinct('threads')}"
        f"{ceiling_text(report, target, rows)}, CPU affinity "
        f"{distinct('affinity')}; {distinct('versions')}."
    )


def ceiling_text(report: Report, target: str, rows: list[ReportRow]) -> str:
    """A target's thread count is a ceiling on its device, never an oversubscription here:
    say so where the measuring host has fewer CPUs than the target names. Reports made
    before latency rounds are left alone: their threads were not always capped."""
    if "rounds" not in report.profile:
        return ""
    summary = report.targets.get(target)
    asked = summary.threads if summary else None
    cpus = [len(r.affinity) for r in rows if r.affinity]
    if not asked or not cpus or asked <= min(cpus):
        return ""
    n = min(cpus)
    return f" (target asks {asked} threads; {n} CPUs here: measured with <= {n})"


def table_lines(rows: list[ReportRow], columns=FULL) -> list[str]:
    columns = columns_for(rows, columns)
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r, k, f) for k, _, f in columns) + " |" for r in rows]
    return lines


def layer_lines(report: Report) -> list[str]:
    out = []
    for r in report.rows:
        layers = r.layers
        if layers is None or not layers.top:
            continue
        out += [
            "",
            f"### {r.model} on {r.target} ({r.precision}) — {layers.tool}, "
            f"{layers.runs} runs, {layers.total_us:.1f} us of kernel time per run"
            f"{split_text(layers)}",
            "",
            "| op | type | mean us | share |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {op.name} | {op.op_type} | {op.mean_us:.2f} | {op.share:.1%} |" for op in layers.top
        ]
    return (["", "## Slowest ops (top 10 per artifact)"] + out) if out else []


def estimate_lines(report: Report) -> list[str]:
    rows = [r for r in report.rows if r.estimated and r.estimate is not None]
    if not rows:
        return []
    out = ["", "## Estimated rows (not measured)", ""]
    for r in rows:
        e = r.estimate
        out.append(
            f"- {r.label} on {r.target}: ~{fmt_ms(e.latency_ms)} ms, {e.bound}-bound "
            f"roofline ({e.flops:,} FLOPs at {e.peak:g} G/s, {e.bytes:,} bytes at "
            f"{e.memory_bandwidth_gbps:g} GB/s; specs: {e.spec_source or 'n/a'}).{fixed_text(e)} "
            f"Why not measured: {r.reason or ''}"
        )
    return out


def fixed_text(e) -> str:
    """The fixed costs and error band of an estimate that has them ('' for older ones)."""
    if e.fixed_ms is None:
        return ""
    return (
        f" Includes {fmt_ms(e.fixed_ms)} ms of fixed costs ({e.layers} layers); error band"
        f"{band_text(e)} ms ({e.band_source})."
    )


def recommended_lines(report: Report) -> list[str]:
    if not report.recommended and not report.decisions:
        return []
    out = ["", "## Recommended artifact per target", "", objective_line(report), ""]
    for target in sorted(set(report.recommended) | set(report.decisions)):
        rec, decision = report.recommended.get(target), report.decisions.get(target)
        head = f"- **{target}**: "
        if rec is not None:
            out.append(f"{head}{pick_text(report, target, rec)}; bundle `{rec.bundle}`")
            head = "  "  # the decision continues the pick's list item
        if decision is not None:
            out.append(f"{head}{decision.summary}")
            out += [f"  - try {a}" for a in decision.advice]
    return out


def findings_lines(report: Report) -> list[str]:
    if not report.findings:
        return []
    return ["", "## Warnings", ""] + [f"- **{f.kind}**: {f.text}" for f in report.findings]


def kd_lines(report: Report) -> list[str]:
    if not report.kd:
        return []
    lines = ["", "## Did distillation help?", ""]
    for e in report.kd:
        note = baseline_note(report, e)
        lines.append(f"- {kd_line(e)}" + (f" {note}" if note else ""))
    return lines


def class_table_lines(report: Report, target: str) -> list[str]:
    """Per-class accuracy of the recommended artifact, and its confusion matrix if small."""
    row = pick_row(report, target)
    if row is None or not row.confusion:
        return []
    out = ["", f"### Per-class accuracy of {row.label} (recommended on {target})", ""]
    out += ["| class | test samples | accuracy | 95% CI | most often taken for |"]
    out += ["|---|---|---|---|---|"]
    for c, acc, ci in class_cells(report, row):
        out.append(f"| {c.name} | {c.samples:,} | {acc} | {ci} | {c.confused_with or '-'} |")
    if len(row.confusion) <= MAX_MATRIX:
        names = class_names(report, len(row.confusion))
        out += ["", "Confusion matrix (rows: true class, columns: predicted class):", ""]
        out += ["| true / predicted | " + " | ".join(names) + " |"]
        out += ["|---|" + "---|" * len(names)]
        out += [f"| {n} | " + " | ".join(map(str, r)) + " |" for n, r in zip(names, row.confusion)]
    return out


def scheme_notes(report: Report) -> list[str]:
    """What a reader must know to judge a distilled row: e.g. data-free sample counts."""
    notes = []
    for label, m in report.models.items():
        if m.synthetic_samples is not None:
            notes.append(
                f"- {label}: distilled data-free from {m.synthetic_samples:,} synthetic "
                f"inputs ({m.synthesis}); {m.training_samples_read or 0} training "
                "samples read."
            )
        for i, peer in enumerate((m.peers or [])[1:], start=1):
            notes.append(
                f"- {label}: mutual-learning peer {i} ({peer['model']}) reached "
                f"{peer['acc_test']:.2%} test accuracy (not exported)."
            )
    return ["", "## Notes", "", *notes] if notes else []


def gate_lines(report: Report) -> list[str]:
    failed = [r for r in report.rows if r.gate is Gate.FAIL]
    if not failed:
        return []
    return ["", "## Accuracy gate failures", ""] + [
        f"- {r.model} on {r.target} ({r.precision}): accuracy "
        f"{cell(r, 'acc_artifact', '{:.2%}')} vs {cell(r, 'acc_torch', '{:.2%}')} in PyTorch "
        f"(keeps {cell(r, 'accuracy_kept', '{:.2%}')}), below the "
        f"{report.accuracy_gate:.0%} gate; bundle {r.bundle or '-'}"
        for r in failed
    ]


def not_measured(report: Report) -> list[ReportRow]:
    return [r for r in report.rows if r.status is RowStatus.SKIPPED]


def render_markdown(report: Report) -> str:
    lines = [f"# edgekd report: {report.pipeline}", "", method_text(report)]
    ci = interval_text(report)
    lines += ["", ci] if ci else []
    lines += recommended_lines(report) + findings_lines(report) + kd_lines(report)
    lines += agreement_lines(report) + search_lines(report)
    for target in report.target_names():
        lines += ["", f"## Pareto frontier on {target} (accuracy vs p90 latency)", ""]
        lines += frontier_lines(report, target)
        env = environment_text(report, target)
        lines += ["", env] if env else []
        lines += class_table_lines(report, target)
    lines += ["", "## All rows", ""] + table_lines(report.rows)
    lines += recovery_lines(report)
    lines += scheme_notes(report) + gate_lines(report) + layer_lines(report)
    lines += estimate_lines(report)
    skipped = not_measured(report)
    if skipped:
        lines += ["", "## Not measured", ""]
        lines += [f"- {r.model} on {r.target} ({r.precision}): {r.reason or ''}" for r in skipped]
    return "\n".join(lines) + "\n"
