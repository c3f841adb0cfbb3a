"""Schemes from YAML through the engine: `teachers:`, ONNX teachers, paired views, no teacher."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from edgekd.config.load import load_pipeline
from edgekd.engine import run_pipeline
from edgekd.errors import ConfigError
from edgekd.progress import Reporter


def quick(cfg: dict) -> dict:
    cfg["teacher"]["train"]["epochs"] = 1
    for s in cfg["students"]:
        s["train"]["epochs"] = 1
        s["baseline"] = False
    cfg["targets"] = []
    return cfg


def student(name: str, distill: dict, model: str = "mlp") -> dict:
    kd = [{"name": "kd", "weight": 0.9, "options": {"temperature": 4.0}}]
    return {
        "name": name,
        "model": model,
        "options": {"hidden": [16]} if model == "mlp" else {"channels": [8]},
        "train": {"epochs": 1, "batch_size": 64},
        "baseline": False,
        "distill": {"ce_weight": 0.1, "losses": kd} | distill,
    }


def run(cfg: dict, write_pipeline, tmp_path) -> tuple[dict, object]:
    path = write_pipeline(cfg)
    out = run_pipeline(load_pipeline(path), path, out=tmp_path / "run", reporter=Reporter(True))
    return json.loads((out / "report.json").read_text()), out


def test_teachers_list_multi_teacher_data_free_and_dml(tiny_config, write_pipeline, tmp_path):
    cfg = quick(tiny_config)
    teacher = cfg.pop("teacher")
    cfg["teachers"] = [teacher, copy.deepcopy(teacher) | {"options": {"channels": [4, 8]}}]
    free = {"num_samples": 64, "batch_size": 32, "steps": 2}
    cfg["students"] = [
        student("multi", {"scheme": "multi-teacher", "options": {"weighting": "mean"}}),
        student("free", {"scheme": "data-free", "ce_weight": 0.0, "options": free}),
        student("mutual", {"scheme": "dml", "options": {"peers": 2}}),
    ]
    report, out = run(cfg, write_pipeline, tmp_path)
    models = report["models"]
    assert {"teacher", "teacher-1", "multi", "free", "mutual"} <= set(models)
    assert models["multi"]["teachers"] == 2
    assert models["free"]["synthetic_samples"] == 64
    assert "64 synthetic inputs" in (out / "report.md").read_text()
    record = json.loads(next((out / "stages").glob("mutual-*/stage.json")).read_text())
    assert set(record["inputs"]) == {"data"}  # DML depends on no teacher


def test_onnx_teacher_black_box(tiny_config, write_pipeline, tmp_path):
    from edgekd.config.schema import ExportConfig
    from edgekd.distill.onnx_teacher import OnnxTeacher
    from edgekd.export.onnx import export_onnx
    from edgekd.models import build_model

    torch.manual_seed(0)
    net = build_model("cnn1d", {"channels": [8, 8]}, (1, 40), 10).eval()
    sample = torch.randn(4, 1, 40)
    export_onnx(net, sample.numpy(), tmp_path / "teacher.onnx", ExportConfig(), {})
    ort_teacher = OnnxTeacher(tmp_path / "teacher.onnx")
    assert torch.allclose(ort_teacher(sample), net(sample), atol=1e-4)

    cfg = quick(tiny_config)
    cfg["teacher"] = {"onnx": "teacher.onnx"}  # relative to the pipeline file
    cfg["students"] = [student("bb", {"scheme": "black-box"})]
    cfg["targets"] = ["cpu-onnxruntime"]
    report, _ = run(cfg, write_pipeline, tmp_path)
    assert report["models"]["teacher"]["method"] == "onnx (black box)"
    teacher_rows = [r for r in report["rows"] if r["model"] == "teacher"]
    assert teacher_rows and all(r["status"] == "skipped" for r in teacher_rows)
    assert any(r["model"] == "bb" and r["status"] == "ok" for r in report["rows"])


def test_corrupt_or_missing_onnx_teacher_is_a_config_error(tiny_config, write_pipeline, tmp_path):
    cfg = quick(tiny_config)
    cfg["teacher"] = {"onnx": "missing.onnx"}
    with pytest.raises(ConfigError, match="does not exist"):
        load_pipeline(write_pipeline(cfg))
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage" * 10)
    cfg["teacher"] = {"onnx": "bad.onnx"}
    with pytest.raises(ConfigError, match="not a valid ONNX model"):
        load_pipeline(write_pipeline(cfg))


def test_cli_reports_a_corrupt_onnx_teacher_without_traceback(tiny_config, write_pipeline, cli):
    cfg = quick(tiny_config)
    path = write_pipeline(cfg)
    (path.parent / "bad.onnx").write_bytes(b"not onnx")
    cfg["teacher"] = {"onnx": str(path.parent / "bad.onnx")}
    res = cli("run", write_pipeline(cfg))
    assert res.returncode == 2 and "Traceback" not in res.stderr + res.stdout
    assert "not a valid ONNX model" in res.stderr + res.stdout


def test_cross_modal_pipeline(tiny_config, write_pipeline, tmp_path):
    cfg = quick(tiny_config)
    cfg["data"]["dataset"] = "mnist1d-pair"
    cfg["students"] = [student("spectrum", {"scheme": "cross-modal"})]
    cfg["targets"] = ["cpu-onnxruntime"]  # each model compiled and profiled on its own view
    report, out = run(cfg, write_pipeline, tmp_path)
    assert {r["model"] for r in report["rows"] if r["status"] == "ok"} == {"teacher", "spectrum"}
    manifest = json.loads(next((out / "deploy").rglob("teacher-fp32/manifest.json")).read_text())
    assert manifest["input"]["shape"] == [None, 1, 40]
    data = json.loads(next((out / "stages").glob("data-*/stage.json")).read_text())["info"]
    assert data["input_shape"] == [1, 21] and data["teacher_input_shape"] == [1, 40]
    assert {"teacher", "spectrum"} <= set(report["models"])
    export = next((out / "stages").glob("export-teacher-*"))  # teacher exported on its view
    assert (export / "model.onnx").is_file()


def test_scheme_requirements_are_checked_at_load(tiny_config, write_pipeline):
    cfg = quick(tiny_config)
    cfg["students"] = [student("m", {"scheme": "multi-teacher"})]
    with pytest.raises(ConfigError, match="needs 2 or more teachers"):
        load_pipeline(write_pipeline(cfg))
    cfg["students"] = [student("c", {"scheme": "cross-modal"})]
    with pytest.raises(ConfigError, match="mnist1d-pair"):
        load_pipeline(write_pipeline(cfg))
    cfg["students"] = [
        student("d", {"scheme": "dml", "options": {"peers": 3, "models": [{"model": "mlp"}]}})
    ]
    with pytest.raises(ConfigError, match=r"students\[0\]\.distill\.options"):
        load_pipeline(write_pipeline(cfg))
    cfg["students"] = [student("t", {"scheme": "tf-kd", "options": {"correct_probb": 0.9}})]
    with pytest.raises(ConfigError, match=r"unknown key 'correct_probb'.*correct_prob"):
        load_pipeline(write_pipeline(cfg))
    cfg["students"] = [student("d", {"scheme": "dml", "options": {"models": [{"model": "mpl"}]}})]
    with pytest.raises(ConfigError, match="unknown model 'mpl'"):
        load_pipeline(write_pipeline(cfg))


def test_teacher_sources_are_exclusive(tiny_config, write_pipeline):
    cfg = quick(copy.deepcopy(tiny_config))
    cfg["teacher"]["onnx"] = "t.onnx"
    with pytest.raises(ConfigError, match="exactly one of `model`"):
        load_pipeline(write_pipeline(cfg))
    cfg = quick(tiny_config)
    cfg["teachers"] = [cfg["teacher"]]
    with pytest.raises(ConfigError, match="not both"):
        load_pipeline(write_pipeline(cfg))


def test_teacher_free_pipeline_needs_no_teacher(tiny_config, write_pipeline):
    cfg = quick(tiny_config)
    del cfg["teacher"]
    cfg["students"] = [
        student("tf", {"scheme": "tf-kd"}),
        student("b", {"scheme": "byot", "options": {"taps": ["features.0"]}}, model="cnn1d"),
    ]
    assert load_pipeline(write_pipeline(cfg)).all_teachers == []
    cfg["students"].append(student("o", {"scheme": "offline"}))
    with pytest.raises(ConfigError, match="needs a teacher"):
        load_pipeline(write_pipeline(cfg))


def test_feature_losses_are_refused_where_only_logits_exist(tiny_config, write_pipeline, tmp_path):
    fit = {
        "name": "fitnets",
        "options": {"student_layer": "features.0", "teacher_layer": "features.0"},
    }
    cfg = quick(copy.deepcopy(tiny_config))
    cfg["students"] = [student("d", {"scheme": "dml", "losses": [fit]})]
    with pytest.raises(ConfigError, match=r"losses\[0\].*'fitnets' is a feature loss"):
        load_pipeline(write_pipeline(cfg))
    from edgekd.config.schema import ExportConfig
    from edgekd.export.onnx import export_onnx
    from edgekd.models import build_model

    net = build_model("mlp", {"hidden": [8]}, (1, 40), 10)
    export_onnx(net, torch.zeros(2, 1, 40).numpy(), tmp_path / "t.onnx", ExportConfig(), {})
    cfg = quick(tiny_config)
    cfg["students"] = [student("o", {"scheme": "offline", "losses": [fit]})]
    cfg["teacher"] = {"onnx": "t.onnx"}
    with pytest.raises(ConfigError, match="ONNX teacher is a black box"):
        load_pipeline(write_pipeline(cfg))
