"""The report's agreement section: how faithfully each compiled artifact reproduces the
teacher, beside its accuracy. Two students of equal accuracy can differ in how often they
decide as the teacher does; a quantized artifact can keep its accuracy and still drift from
its own float model. Rendered alike in report.md and report.html."""

from __future__ import annotations

from html import escape

from edgekd.report.columns import cell
from edgekd.report.model import Report, ReportRow

HEADERS = ("model", "role", "target", "prec", "accuracy", "agreement", "KL (nats)")


def agreement_rows(report: Report) -> list[ReportRow]:
    if report.agreement_reference is None:
        return []
    return [r for r in report.rows if r.agreement is not None]


def agreement_text(report: Report) -> str:
    ref = report.agreement_reference
    runtime = "PyTorch" if ref.runtime == "pytorch" else ref.runtime
    return (
        "Fidelity to the teacher (Stanton et al. 2021, Does Knowledge Distillation Really "
        "Work?): `agreement` "
        f"is the share of the {ref.samples:,} {ref.split} samples on which the compiled "
        "artifact's top-1 class is the teacher's; `KL` is the mean KL(teacher || artifact) "
        "of their softmax outputs at temperature 1, in nats (0: the same outputs). Reference: "
        f"teacher '{ref.teacher}' ({ref.model or 'model'}) run in {runtime} on the "
        f"{ref.split} split; the teacher's own artifacts compare it with itself."
    )


def cells(r: ReportRow) -> list[str]:
    kl = r.kl_to_teacher
    kl = "-" if kl is None else f"{kl:.4f}" if kl == 0 or kl >= 1e-4 else f"{kl:.1e}"
    return [
        r.model,
        str(r.role),
        r.target,
        r.precision,
        cell(r, "accuracy", "{:.2%}"),
        f"{r.agreement:.2%}",
        kl,
    ]


def agreement_lines(report: Report) -> list[str]:
    """report.md's section ([] when no row carries agreement)."""
    rows = agreement_rows(report)
    if not rows:
        return []
    lines = ["", "## Agreement with the teacher", "", agreement_text(report), ""]
    lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return lines


def agreement_html(report: Report) -> str:
    rows = agreement_rows(report)
    if not rows:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells(r)) + "</tr>" for r in rows
    )
    return (
        f"<h2>Agreement with the teacher</h2><p>{escape(agreement_text(report))}</p>"
        f'<table id="agreement"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )
