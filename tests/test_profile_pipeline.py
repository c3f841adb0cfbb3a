"""The tiny pipeline with a local target and an unreachable SSH target, then `edgekd profile`
on its bundles and ONNX files, and report.html rendered in a real headless Chromium."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from helpers.chromium import HeadlessChromium, chromium_path
from helpers.sshd import free_port

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
FAR = {
    "name": "far-device",
    "runtime": "onnxruntime",
    "precisions": ["fp32"],
    "device": {
        "memory_bandwidth_gbps": 68.0, "peak_fp32_gflops": 500.0, "peak_int8_gops": 4000.0,
        "source": "test figures, not a real device",
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from conftest import TINY, run_cli

    folder = tmp_path_factory.mktemp("pipe")
    far = FAR | {"host": f"ssh://nobody@127.0.0.1:{free_port()}"}  # nothing listens there
    (folder / "far.yaml").write_text(yaml.safe_dump(far))
    cfg = dict(TINY, targets=["cpu-onnxruntime", str(folder / "far.yaml")])
    (folder / "p.yaml").write_text(yaml.safe_dump(cfg))
    res = run_cli("run", folder / "p.yaml", "--out", folder / "run", "-q")
    assert res.returncode == 0, res.stderr
    return {"dir": folder / "run", "far": folder / "far.yaml",
            "report": json.loads((folder / "run" / "report.json").read_text())}  # fmt: skip


def test_rows_say_how_latency_was_obtained(run):
    rows = run["report"]["rows"]
    local = [r for r in rows if r["target"] == "cpu-onnxruntime"]
    far = [r for r in rows if r["target"] == "far-device"]
    assert local and far and {r["model"] for r in local} == {r["model"] for r in far}
    for r in local:
        assert r["status"] == "ok" and r["latency_source"] == "measured-local"
        assert r["accuracy_source"] == "artifact" and r["layers"]["top"]
        assert r["load_ms"] > 0 and r["peak_rss_bytes"] > 0 and r["queries"] >= 20
    for r in far:
        assert r["status"] == "estimated" and r["latency_source"] == "estimated"
        assert r["accuracy_source"] == "torch" and r["acc_artifact"] is None
        assert "unreachable" in r["reason"] and r["estimate"]["method"] == "roofline"
        assert r["estimate"]["latency_ms"] == r["p90_ms"] > 0
    md = (run["dir"] / "report.md").read_text()
    far_lines = [ln for ln in md.splitlines() if ln.startswith("| ") and "far-device" in ln]
    assert far_lines and all("(est.)" in ln and "estimated" in ln for ln in far_lines)
    assert "## Slowest ops (top 10 per artifact)" in md


def test_profile_a_bundle(run, cli):
    bundle = run["dir"] / "deploy" / "cpu-onnxruntime" / "mlp-t-fp32"
    res = cli("profile", bundle, "--tier", "quick", "--threads", "1", "--batch", "4", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["latency_source"] == "measured-local" and out["target"] == "cpu-onnxruntime"
    assert out["throughput"]["batch"] == 4 and out["threads"] == 1
    assert out["latency"]["p50_ms"] > 0 and out["layers"]["top"]
    human = cli("profile", bundle, "--tier", "quick")
    assert human.returncode == 0 and "p90" in human.stdout and "slowest ops" in human.stdout
    # a bundle is measured with the settings it ships, in rounds
    tuned = json.loads((bundle / "manifest.json").read_text())["tuned_settings"]
    words = " ".join(human.stdout.split())  # rich wraps at 80 columns off a terminal
    assert "medians of 3 rounds" in words
    assert f"runtime settings (as given): threads {tuned['threads']}" in words


def test_a_tampered_bundle_is_refused(run, cli, tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(run["dir"] / "deploy" / "cpu-onnxruntime" / "mlp-t-fp32", bundle)
    with open(bundle / "model.onnx", "ab") as f:
        f.write(b"\0")
    res = cli("profile", bundle, "--tier", "quick")
    assert res.returncode == 2 and "does not match its sha256" in res.stderr
    assert "Traceback" not in res.stderr


def test_profile_a_plain_onnx_file(run, cli, tmp_path):
    onnx_file = next((run["dir"] / "stages").glob("export-mlp-t-*/model.onnx"))
    plain = tmp_path / "student.onnx"
    shutil.copyfile(onnx_file, plain)
    res = cli("profile", plain, "--tier", "quick", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["latency_source"] == "measured-local" and out["path"] == str(plain)
    # a device that cannot be reached fails `edgekd profile` (a pipeline estimates it instead)
    far = cli("profile", plain, "--target", run["far"], "--json")
    assert far.returncode == 2 and "unreachable" in far.stderr and not far.stdout
    assert "--host local" in far.stderr and "Traceback" not in far.stderr
    # a runtime that cannot run here is still a labelled estimate
    est = cli("profile", plain, "--target", "jetson-orin-nano", "--host", "local", "--json")
    assert est.returncode == 0, est.stderr
    out = json.loads(est.stdout)
    assert out["latency_source"] == "estimated" and "not built here" in out["reason"]
    assert "latency" not in out  # no measured figures in an estimate
    missing = cli("profile", tmp_path / "nothing.onnx")
    assert missing.returncode == 2 and "neither a deploy bundle" in missing.stderr


def test_run_outputs_are_readable_by_others(run):
    """0644 like any file the user makes (umask 022): the atomic writer's temp files used to
    leave manifest.json, report.json and report.md at 0600."""
    import os

    umask = os.umask(0)
    os.umask(umask)
    bundle = run["dir"] / "deploy" / "cpu-onnxruntime" / "mlp-t-fp32"
    files = [run["dir"] / f"report.{ext}" for ext in ("json", "md", "html")]
    files += [bundle / n for n in ("manifest.json", "predict.py", "model.onnx")]
    files += list((run["dir"] / "stages").glob("*/stage.json"))
    for f in files:
        assert f.stat().st_mode & 0o777 == 0o666 & ~umask, f


def test_report_budget_and_compare_on_a_real_run(run, cli):
    rows = [r for r in run["report"]["rows"] if r["target"] == "cpu-onnxruntime"]
    res = cli("report", run["dir"], "--budget-ms", "1000", "--target", "cpu-onnxruntime")
    best = max(
        (r for r in rows if r["gate"] == "pass"), key=lambda r: (r["accuracy"], -r["p90_ms"])
    )
    assert res.returncode == 0 and f": {best['model']} (" in res.stdout.splitlines()[-1]
    res = cli("report", run["dir"], "--compare", run["dir"])
    assert res.returncode == 0 and "1.00x" in res.stdout


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")
def test_report_html_renders_in_headless_chromium(run, tmp_path):
    with HeadlessChromium(tmp_path) as browser:
        page = browser.open(run["dir"] / "report.html")
        assert page["console_errors"] == [] and page["remote_requests"] == []
        found = browser.evaluate(
            "JSON.stringify({plots: [...document.querySelectorAll('.plot svg')].map(s => {"
            "const r = s.getBoundingClientRect(); return [r.width, r.height,"
            " s.querySelectorAll('path').length]}),"
            " rows: document.querySelectorAll('#rows tbody tr').length,"
            " tableWidth: document.querySelector('#rows').getBoundingClientRect().width})"
        )
        shot = browser.screenshot(tmp_path / "report.png")
    found = json.loads(found)
    assert len(found["plots"]) == 2  # one Pareto plot per target
    assert all(w > 200 and h > 150 and paths > 5 for w, h, paths in found["plots"])
    assert found["rows"] == len(run["report"]["rows"]) and found["tableWidth"] > 300
    assert shot.stat().st_size > 10_000
