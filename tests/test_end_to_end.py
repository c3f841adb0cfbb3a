"""The whole pipeline on tiny data: artifacts, manifest, report, cache reuse, partial reruns."""

from __future__ import annotations

import json

import numpy as np

from edgekd.config.load import load_pipeline
from edgekd.deploy import verify_bundle
from edgekd.engine import run_pipeline
from edgekd.progress import Reporter


def _stage_dirs(run):
    return {p.name for p in (run / "stages").iterdir() if not p.name.startswith(".")}


def test_tiny_pipeline_end_to_end(tiny_config, write_pipeline, tmp_path, cli):
    path = write_pipeline(tiny_config)
    run = tmp_path / "run"
    res = cli("run", path, "--out", run, "--quiet")
    assert res.returncode == 0, res.stderr
    report = json.loads((run / "report.json").read_text())
    assert report["schema"] == "edgekd.report/4"
    assert {r["precision"] for r in report["rows"]} == {"fp32", "int8"}
    rows = {r["model"]: r for r in report["rows"] if r["precision"] == "fp32"}
    assert set(rows) == {"teacher", "mlp-t", "mlp-t-scratch"}
    assert {r["role"] for r in rows.values()} == {"teacher", "distilled", "baseline"}
    for row in rows.values():
        assert row["status"] == "ok"
        assert 0.0 <= row["acc_artifact"] <= 1.0
        assert abs(row["acc_artifact"] - row["acc_torch"]) <= 0.005  # fp32 ONNX == PyTorch
        assert 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]
        assert row["throughput"] > 0 and row["size_bytes"] > 0 and row["params"] > 0
        assert row["latency_source"] == "measured-local"
    assert rows["teacher"]["params"] > rows["mlp-t"]["params"]
    assert rows["teacher"]["speedup_vs_teacher"] == 1.0
    md = (run / "report.md").read_text()
    assert "| teacher |" in md and "| mlp-t-scratch |" in md

    bundle = run / rows["mlp-t"]["bundle"]
    manifest = verify_bundle(bundle)
    assert manifest["input"]["shape"] == [None, 1, 40] and len(manifest["labels"]) == 10
    guides = {"predict.py", "README.md", "requirements.txt", "measurements.json"}
    assert set(manifest["files"]) == {"model.onnx"} | guides
    np.save(tmp_path / "x.npy", np.zeros((3, 1, 40), np.float32))
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, bundle / "predict.py", tmp_path / "x.npy"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(out.stdout.strip().splitlines()) == 3

    res = cli("report", run)
    assert res.returncode == 0 and "mlp-t" in res.stdout


def test_rerun_is_cached_and_student_change_reruns_only_dependents(
    tiny_config, write_pipeline, tmp_path
):
    run = tmp_path / "run"
    path = write_pipeline(tiny_config)
    run_pipeline(load_pipeline(path), path, out=run, reporter=Reporter(quiet=True))
    first = _stage_dirs(run)
    run_pipeline(load_pipeline(path), path, out=run, reporter=Reporter(quiet=True))
    assert _stage_dirs(run) == first  # nothing recomputed

    tiny_config["students"][0]["distill"]["losses"][0]["options"]["temperature"] = 2.0
    path = write_pipeline(tiny_config)
    run_pipeline(load_pipeline(path), path, out=run, reporter=Reporter(quiet=True))
    new = _stage_dirs(run) - first
    # the distilled student, its export, compile and profile: nothing else
    expected = ["mlp-t", "export-mlp-t"] + [
        f"{kind}-mlp-t-cpu-onnxruntime-{p}"
        for kind in ("compile", "profile")
        for p in ("fp32", "int8")
    ]
    assert sorted(n.rsplit("-", 1)[0] for n in new) == sorted(expected)


def test_teacher_from_checkpoint(tiny_config, write_pipeline, tmp_path):
    import torch

    from edgekd.models import build_model

    torch.manual_seed(1)
    teacher = build_model("cnn1d", {"channels": [16, 16]}, (1, 40), 10)
    torch.save(teacher.state_dict(), tmp_path / "teacher.pt")
    from safetensors.torch import save_file

    save_file(teacher.state_dict(), tmp_path / "teacher.safetensors")
    for name in ("teacher.pt", "teacher.safetensors"):
        tiny_config["teacher"]["checkpoint"] = str(tmp_path / name)
        path = write_pipeline(tiny_config)
        run = tmp_path / f"run-{name}"
        run_pipeline(load_pipeline(path), path, out=run, reporter=Reporter(quiet=True))
        report = json.loads((run / "report.json").read_text())
        assert report["models"]["teacher"]["method"] == "checkpoint"
