"""The report's student-search section: every candidate with its latency on the target, the
accuracies the search chose on, the family's frontier, and the student it picked. Rendered
alike in report.md (a table) and report.html (the table and its plot)."""

from __future__ import annotations

from html import escape

from edgekd.records import LatencySource
from edgekd.report.columns import fmt_ms
from edgekd.report.model import Report, SearchCandidate, StudentSearch

HEADERS = ("candidate", "options", "params", "p90 ms", "latency source", "in budget")
HEADERS += ("val acc (short)", "val acc (full)", "test acc (full)")


def title(s: StudentSearch) -> str:
    return f"Student search: {s.student} on {s.target} (p90 <= {fmt_ms(s.budget_ms)} ms)"


def method(s: StudentSearch) -> str:
    inside = sum(c.in_budget for c in s.candidates)
    depth = f", depth: {s.depth_option}" if s.depth_option else ""
    picked = s.picked
    pick = (
        f" Picked: {picked.variant} ({options_text(picked)}), validation accuracy "
        f"{picked.val_acc:.2%}, test accuracy {pct(picked.test_acc)}, p90 "
        f"{latency(picked)} ms."
        if picked is not None and picked.val_acc is not None
        else ""
    )
    return (
        f"{len(s.candidates)} width x depth variants of `{s.model}` (width: {s.width_option}"
        f"{depth}), each compiled for {s.target} ({s.precision}) and timed untrained "
        f"({s.profile_tier} tier, batch-1 p90) before any training; the {inside} within the "
        f"budget were distilled for {s.short_schedule} and scored on the validation split; "
        f"the {s.finalists} best were distilled with the student's full recipe, and the most "
        "accurate of those on the validation split became the student (its rows are the "
        f"report's '{s.student}'). Test accuracy is shown, never chosen on. The search's "
        f"stages took {s.stage_seconds:.0f} s.{pick}"
    )


def pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.2%}"


def options_text(c: SearchCandidate) -> str:
    return ", ".join(f"{k}={v}" for k, v in c.options.items())


def latency(c: SearchCandidate) -> str:
    if c.latency_source is not LatencySource.ESTIMATED:
        return fmt_ms(c.p90_ms)
    band = f" [{fmt_ms(c.low_ms)}–{fmt_ms(c.high_ms)}]" if c.low_ms and c.high_ms else ""
    return f"~{fmt_ms(c.p90_ms)} (est.){band}"


def cells(c: SearchCandidate) -> list[str]:
    return [
        c.variant + (" (picked)" if c.picked else ""),
        options_text(c),
        "-" if c.params is None else f"{c.params:,}",
        latency(c),
        str(c.latency_source),
        "yes" if c.in_budget else "no",
        pct(c.short_val_acc),
        pct(c.val_acc),
        pct(c.test_acc),
    ]


def search_lines(report: Report) -> list[str]:
    """report.md's section ([] without a search)."""
    s = report.student_search
    if s is None:
        return []
    lines = ["", f"## {title(s)}", "", method(s), ""]
    lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for c in sorted(s.candidates, key=lambda c: c.p90_ms):
        row = cells(c)
        lines.append("| " + " | ".join(f"**{x}**" if c.picked else x for x in row) + " |")
    return lines


def search_html(report: Report) -> str:
    s = report.student_search
    if s is None:
        return ""
    from edgekd.report.search_plot import search_svg

    head = "".join(f"<th>{escape(h)}</th>" for h in HEADERS)
    body = "".join(
        f'<tr class="{"front" if c.picked else ""}">'
        + "".join(f"<td>{escape(x)}</td>" for x in cells(c))
        + "</tr>"
        for c in sorted(s.candidates, key=lambda c: c.p90_ms)
    )
    return (
        f'<section id="student-search"><h2>{escape(title(s))}</h2>'
        f"<p>{escape(method(s))}</p>"
        f'<div class="plot">{search_svg(s)}</div>'
        f'<div class="wrap"><table id="search-trials"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div></section>"
    )
