"""The report's int8 recovery section: plain int8 (PTQ) beside QAT-KD and mixed precision,
per student and target, with the accuracy gate and what each costs in batch-1 p90."""

from __future__ import annotations

from edgekd.report.model import Report, ReportRow

RECOVERED = ("int8-qat", "int8-mixed")


def acc_text(r: ReportRow | None) -> str:
    if r is None or r.accuracy is None:
        return "-"
    gate = f" ({r.gate})" if r.gate is not None else ""
    return f"{100 * r.accuracy:.2f}%{gate}"


def p90_text(r: ReportRow | None, base: ReportRow | None) -> str:
    if r is None or r.p90_ms is None:
        return "-"
    if base is None or not base.p90_ms or r is base:
        return f"{r.p90_ms:.4f}"
    return f"{r.p90_ms:.4f} ({r.p90_ms / base.p90_ms - 1:+.0%})"


def recovery_lines(report: Report) -> list[str]:
    pairs = dict.fromkeys((r.model, r.target) for r in report.rows if r.precision in RECOVERED)
    if not pairs:
        return []
    out = [
        "",
        "## Int8 recovery (plain int8 vs QAT-KD vs mixed precision)",
        "",
        "Accuracy on the compiled artifact over the test split, with the gate against the fp32 "
        "student; p90 in ms at batch 1, its change against plain int8 in brackets.",
        "",
        "| model | target | int8 | int8-qat | int8-mixed | float layers | p90 int8 | p90 qat "
        "| p90 mixed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model, target in pairs:
        by = {r.precision: r for r in report.rows if r.model == model and r.target == target}
        ptq, qat, mixed = by.get("int8"), by.get("int8-qat"), by.get("int8-mixed")
        layers = (
            "-" if mixed is None or mixed.float_layers is None else str(len(mixed.float_layers))
        )
        if mixed is not None and mixed.float_layers:
            layers += ": " + ", ".join(mixed.float_layers)
        cells = [model, target, acc_text(ptq), acc_text(qat), acc_text(mixed), layers]
        cells += [p90_text(ptq, ptq), p90_text(qat, ptq), p90_text(mixed, ptq)]
        out.append("| " + " | ".join(cells) + " |")
    return out
