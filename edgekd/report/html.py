"""report.html: self-contained (inline CSS, inline SVG plots, no scripts, no network)."""

from __future__ import annotations

from html import escape

from edgekd.records import LatencySource
from edgekd.report.agreement import agreement_html
from edgekd.report.columns import FULL, cell, columns_for, split_text
from edgekd.report.markdown import environment_text, frontier_rows, method_text, not_measured
from edgekd.report.model import KdVerdict, Report, ReportRow
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
from edgekd.report.plot import pareto_svg
from edgekd.report.search import search_html

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;
max-width:1400px}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:1em 0}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:nth-child(-n+5){text-align:left}
tr.estimated td{font-style:italic;color:#555;background:#fafaf0}
tr.front td:first-child{font-weight:bold}
.badge{display:inline-block;padding:0 .4em;border-radius:3px;font-size:.8em;color:#fff}
.measured-local{background:#2c7a2c}.measured-remote{background:#1f5fa8}
.estimated{background:#a86b1f}.wrap{overflow-x:auto}.env{color:#555;font-size:.9em}
.plot svg{display:block;width:100%;max-width:1200px;height:auto}
.warn{background:#fff4e0;border-left:4px solid #d08000;padding:.4em .8em}
.nogain{color:#a00}.gain{color:#2c7a2c}.pick{background:#fffbe0;padding:.2em .5em}
table.cm td{text-align:center;min-width:2.2em}
"""


def badge(source: LatencySource | None) -> str:
    s = str(source) if source else "not measured"
    return f'<span class="badge {escape(s)}">{escape(s)}</span>'


def full_table(rows: list[ReportRow]) -> str:
    columns = columns_for(rows, FULL)
    head = "".join(f"<th>{escape(h)}</th>" for _, h, _ in columns)
    body = []
    for r in rows:
        cls = " ".join(
            c for c in ("estimated" if r.estimated else "", "front" if r.pareto else "") if c
        )
        cells = []
        for k, _, f in columns:
            text = badge(r.latency_source) if k == "latency_source" else escape(cell(r, k, f))
            cells.append(f"<td>{text}</td>")
        body.append(f'<tr class="{cls}">{"".join(cells)}</tr>')
    return (
        f'<div class="wrap"><table id="rows"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def target_section(report: Report, target: str) -> str:
    rows = report.rows_on(target)
    front = frontier_rows(report, target)
    items = "".join(
        f"<li>{escape(r.label)}: accuracy {escape(cell(r, 'accuracy', '{:.2%}'))}, "
        f"p90 {escape(cell(r, 'p90_ms', '{}'))} ms {badge(r.latency_source)}</li>"
        for r in front
    )
    rec = report.recommended.get(target)
    pick = (rec.model, rec.precision) if rec else None
    plot = (
        pareto_svg(rows, target, pick) if front else "<p>No artifact was measured or estimated.</p>"
    )
    info = report.targets.get(target)
    where = escape(f"{info.runtime}, host {info.host}" if info else ", host local")
    return (
        f'<section class="target" id="target-{escape(target)}"><h2>{escape(target)} '
        f"<small>({where})</small></h2>"
        f'<div class="plot">{plot}</div><h3>Pareto frontier</h3><ol>{items}</ol>'
        f'<p class="env">{escape(environment_text(report, target))}</p>'
        f"{classes_html(report, target)}{layers_html(rows)}</section>"
    )


def layers_html(rows: list[ReportRow]) -> str:
    parts = []
    for r in rows:
        layers = r.layers
        if layers is None or not layers.top:
            continue
        trs = "".join(
            f"<tr><td>{escape(op.name)}</td><td>{escape(op.op_type)}</td>"
            f"<td>{op.mean_us:.2f}</td><td>{op.share:.1%}</td></tr>"
            for op in layers.top
        )
        parts.append(
            f"<details><summary>{escape(r.label)}: {escape(layers.tool)}, "
            f"{layers.total_us:.1f} us kernel time per run{escape(split_text(layers))}"
            "</summary><table><thead><tr>"
            f"<th>op</th><th>type</th><th>mean us</th><th>share</th></tr></thead>"
            f"<tbody>{trs}</tbody></table></details>"
        )
    return ("<h3>Slowest ops (top 10)</h3>" + "".join(parts)) if parts else ""


def recommended_html(report: Report) -> str:
    items = []
    for t in sorted(set(report.recommended) | set(report.decisions)):
        rec, decision = report.recommended.get(t), report.decisions.get(t)
        text = ""
        if rec is not None:
            row = pick_row(report, t)
            text += (
                f'<span class="pick">{escape(pick_text(report, t, rec))}</span> '
                f"{badge(row.latency_source if row else None)}"
            )
        if decision is not None:
            text += f"<br>{escape(decision.summary)}"
            tips = "".join(f"<li>try {escape(a)}</li>" for a in decision.advice)
            text += f"<ul>{tips}</ul>" if tips else ""
        items.append(f"<li><b>{escape(t)}</b>: {text}</li>")
    if not items:
        return ""
    return (
        f"<h2>Recommended artifact per target</h2><p>{escape(objective_line(report))}</p>"
        f'<ul id="recommended">{"".join(items)}</ul>'
    )


def findings_html(report: Report) -> str:
    items = "".join(
        f"<li><b>{escape(str(f.kind))}</b>: {escape(f.text)}</li>" for f in report.findings
    )
    return f'<h2>Warnings</h2><div class="warn"><ul>{items}</ul></div>' if items else ""


def kd_html(report: Report) -> str:
    css = {KdVerdict.GAIN: "gain", KdVerdict.NO_GAIN: "nogain"}
    items = "".join(
        f'<li class="{css.get(e.verdict, "")}">'
        f"{escape(' '.join(filter(None, (kd_line(e), baseline_note(report, e)))))}</li>"
        for e in report.kd
    )
    return f'<h2>Did distillation help?</h2><ul id="kd">{items}</ul>' if items else ""


def classes_html(report: Report, target: str) -> str:
    """Per-class accuracy and the confusion matrix of the recommended artifact."""
    row = pick_row(report, target)
    if row is None or not row.confusion:
        return ""
    trs = "".join(
        f"<tr><td>{escape(c.name)}</td><td>{c.samples:,}</td><td>{escape(acc)}</td>"
        f"<td>{escape(ci)}</td><td>{escape(c.confused_with or '-')}</td></tr>"
        for c, acc, ci in class_cells(report, row)
    )
    return (
        f"<h3>Per-class accuracy of {escape(row.label)} (recommended)</h3><table><thead><tr>"
        "<th>class</th><th>test samples</th><th>accuracy</th><th>95% CI</th>"
        "<th>most often taken for</th>"
        f"</tr></thead><tbody>{trs}</tbody></table>{confusion_html(report, row)}"
    )


def confusion_html(report: Report, row: ReportRow) -> str:
    """Rows: true class; columns: predicted; shaded by the share of the true class."""
    names = class_names(report, len(row.confusion))
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    body = []
    for name, counts in zip(names, row.confusion):
        total = sum(counts) or 1
        cells = "".join(
            f'<td style="background:rgba(31,119,180,{c / total:.2f})">{c}</td>' for c in counts
        )
        body.append(f"<tr><th>{escape(name)}</th>{cells}</tr>")
    return (
        "<details><summary>Confusion matrix (rows: true class, columns: predicted)</summary>"
        f'<div class="wrap"><table class="cm"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></details>"
    )


def render_html(report: Report) -> str:
    sections = "".join(target_section(report, t) for t in report.target_names())
    skipped = "".join(
        f"<li>{escape(r.label)} on {escape(r.target)}: {escape(r.reason or '')}</li>"
        for r in not_measured(report)
    )
    title = escape(f"edgekd report: {report.pipeline}")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{CSS}</style></head><body><h1>{title}</h1><p>{escape(method_text(report))}</p>"
        + (f"<p>{escape(interval_text(report))}</p>" if interval_text(report) else "")
        + f"{recommended_html(report)}{findings_html(report)}{kd_html(report)}"
        f"{agreement_html(report)}{search_html(report)}"
        f"{sections}<h2>All rows</h2>{full_table(report.rows)}"
        + (f"<h2>Not measured</h2><ul>{skipped}</ul>" if skipped else "")
        + "</body></html>\n"
    )
