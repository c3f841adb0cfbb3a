"""report.md and report.html say what the numbers mean for the decision (the pick and why,
whether distillation helped with its interval, warnings, per-class accuracy, load and
first-inference times, peak memory beside size), and report.html is checked in a real
headless Chromium: the plots fill the content width and the recommended point and its label
are visible."""

from __future__ import annotations

import json

import pytest
from helpers.chromium import HeadlessChromium, chromium_path
from test_report_model import _profile

from edgekd.config.schema import Objective
from edgekd.records import Role
from edgekd.report.build import conclusions, write_outputs
from edgekd.report.model import DataSummary, FindingKind, KdVerdict, Report
from edgekd.report.rows import Built, Subject, measured_row

LABELS = ["zero", "one", "two"]


def subject(model, role, acc, params, target="cpu", precision="fp32"):
    info = {"method": "kd" if role is Role.DISTILLED else "scratch", "params": params,
            "flops": params * 2, "acc_test": acc}  # fmt: skip
    student = None if role is Role.TEACHER else model.removesuffix("-scratch")
    return Subject(model, role, student, info, target, "onnxruntime", precision)


def measured(model, role, acc, params, p50, target="cpu", precision="fp32"):
    prof = _profile(p50, acc) | {"confusion": [[90, 8, 2], [5, 95, 0], [0, 0, 0]]}
    built = Built({"bytes": params * 4}, f"deploy/{target}/{model}-{precision}", "-")
    return measured_row(subject(model, role, acc, params, target, precision), built, prof, 0.99)


def hand_report(test_samples=200, students=((0.90, 0.89), (0.93, 0.80))) -> Report:
    """A teacher and two students with scratch twins on two targets; the first student's
    gain is within noise, the second's is real; class "two" has no test samples."""
    rows = []
    for target in ("cpu", "arm"):
        rows.append(measured("teacher", Role.TEACHER, 0.95, 5000, 0.05, target))
        for i, (kd, scratch) in enumerate(students):
            name, speed = f"s{i}", 0.006 + 0.003 * i
            rows.append(measured(name, Role.DISTILLED, kd, 400 + 100 * i, speed, target))
            rows.append(measured(f"{name}-scratch", Role.BASELINE, scratch, 400 + 100 * i,
                                 speed * 1.01, target))  # fmt: skip
    data = DataSummary(content_hash="d" * 64, dataset="hand", labels=LABELS,
                       sizes={"train": 900, "test": test_samples},
                       test_class_counts=[100, 100, 0])  # fmt: skip
    return Report(
        edgekd_version="0", pipeline="hand", seed=0, created="now", dataset="hand",
        accuracy_gate=0.99, profile={"tier": "quick"},
        targets={t: {"runtime": "onnxruntime"} for t in ("cpu", "arm")},
        **conclusions(rows, Objective(max_accuracy_drop=3.0), data),
    )  # fmt: skip


def test_verdicts_and_warnings():
    rep = hand_report()
    kd = {e.student: e for e in rep.kd}
    assert kd["s0"].verdict is KdVerdict.WITHIN_NOISE and kd["s0"].low < 0 < kd["s0"].high
    assert kd["s1"].verdict is KdVerdict.GAIN and kd["s1"].low > 0
    kinds = {f.kind for f in rep.findings}
    assert FindingKind.SMALL_TEST_SPLIT in kinds and FindingKind.EMPTY_TEST_CLASS in kinds
    small = next(f for f in rep.findings if f.kind is FindingKind.SMALL_TEST_SPLIT)
    assert "only 200 samples" in small.text and "±3.1 points" in small.text
    assert rep.recommended["cpu"].model == "s1" and not rep.decisions["cpu"].teacher_wins
    worse = hand_report(test_samples=5000, students=((0.85, 0.86),))
    (e,) = worse.kd
    assert e.verdict is KdVerdict.NO_GAIN and e.gain < 0
    assert FindingKind.SMALL_TEST_SPLIT not in {f.kind for f in worse.findings}


def test_a_student_larger_or_slower_than_its_teacher_is_warned():
    rep = hand_report()
    rows = [r.model_copy() for r in rep.rows]
    for r in rows:
        if r.model == "s0":
            r.params, r.p90_ms = 9999, 1.0
    found = conclusions(rows, Objective(max_accuracy_drop=1.0), rep.data)["findings"]
    texts = [f.text for f in found]
    assert any(t.startswith("s0 has 9,999 parameters, no fewer than its teacher") for t in texts)
    slower = "s0 (kd, fp32) on cpu has p90 1.00 ms, no faster than its teacher at the same"
    assert any(slower in t for t in texts)


def test_markdown_says_what_the_numbers_mean(tmp_path):
    write_outputs(tmp_path, hand_report())
    md = (tmp_path / "report.md").read_text()
    assert "## Did distillation help?" in md and "not a clear gain: the interval covers zero" in md
    assert "s1 vs its scratch twin s1-scratch" in md and "a gain: the interval lies above" in md
    assert "## Warnings" in md and "class without test samples" in md and "'two'" in md
    assert "Wilson score interval" in md and "Newcombe" in md
    assert "- **cpu**: s1 (kd, fp32) — accuracy 93.00% (95% CI" in md
    assert "size 2.0 KB, peak RSS 48 MB" in md
    header = next(ln for ln in md.splitlines() if ln.startswith("| model | role |"))
    assert "| load ms | 1st inference ms |" in header and "| size KB | peak RSS MB |" in header
    assert "| acc 95% CI |" in header
    assert "### Per-class accuracy of s1 (kd, fp32) (recommended on cpu)" in md
    assert "| one | 100 | 95.0% |" in md and "| two | 0 | - | - | - |" in md
    assert "| zero | 90 | 8 | 2 |" in md  # the confusion matrix, rows = true class


def test_teacher_win_is_said_plainly(tmp_path):
    rep = hand_report(students=((0.80, 0.79),))
    rep.recommended, rep.decisions = {}, {}
    from edgekd.report.recommend import recommendations

    rep.recommended, rep.decisions = recommendations(rep.rows, Objective(max_accuracy_drop=1))
    write_outputs(tmp_path, rep)
    md = (tmp_path / "report.md").read_text()
    assert "No student paid off on cpu: the teacher itself" in md
    assert "  - try a teacher assistant" in md
    html = (tmp_path / "report.html").read_text()
    assert "No student paid off on cpu" in html and "<li>try a larger student" in html


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")
def test_html_in_headless_chromium(tmp_path):
    write_outputs(tmp_path, hand_report())
    with HeadlessChromium(tmp_path, width=1400, height=900) as browser:
        page = browser.open(tmp_path / "report.html")
        assert page["console_errors"] == [] and page["remote_requests"] == []
        found = json.loads(browser.evaluate(PROBE))
        shot = browser.screenshot(tmp_path / "report.png")
    assert len(found) == 2  # one plot per target
    for plot in found:
        content = plot["content"]
        assert plot["width"] >= 0.95 * min(content, 1200), plot  # fills the content width
        assert 0.35 <= plot["height"] / plot["width"] <= 0.6, plot
        assert plot["star"] and inside(plot["star"], plot["box"]), plot
        label = plot["label"]
        assert label and label["text"] == "s1-fp32 (recommended)", plot
        assert inside(label["rect"], plot["box"]) and label["rect"]["w"] > 40
        assert label["visible"], "something covers the recommended label"
    assert shot.stat().st_size > 20_000


def inside(r: dict, box: dict) -> bool:
    return (
        r["x"] >= box["x"] - 1
        and r["y"] >= box["y"] - 1
        and r["x"] + r["w"] <= box["x"] + box["w"] + 1
        and r["y"] + r["h"] <= box["y"] + box["h"] + 1
    )


# For each plot: its size, its container's width, the star's box and the pick label's box,
# and whether the label is the topmost element at its centre (visible, not covered).
PROBE = """JSON.stringify([...document.querySelectorAll('.plot svg')].map(svg => {
  const rect = e => { const r = e.getBoundingClientRect();
                      return {x: r.x, y: r.y, w: r.width, h: r.height}; };
  const star = svg.querySelector('[id^="recommended-"]');
  const text = [...svg.querySelectorAll('text')].find(t => t.textContent.includes('(recommended)'));
  let label = null;
  if (text) {
    text.scrollIntoView({block: 'center'});
    const r = text.getBoundingClientRect();
    const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    label = {text: text.textContent, rect: rect(text), visible: text.contains(top) || top === text};
  }
  return {width: svg.getBoundingClientRect().width, height: svg.getBoundingClientRect().height,
          content: svg.parentElement.getBoundingClientRect().width, box: rect(svg),
          star: star ? rect(star) : null, label};
}))"""
