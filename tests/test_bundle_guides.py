"""A bundle a device engineer can take away (issue 16, point 5): README.md (the model, its
input/output, preprocessing as numbers, runtime settings, measured figures with provenance,
how to run it, and for ExecuTorch the C++ runtime), requirements.txt pinned to what built
and measured it, measurements.json, all hash-checked; ExecuTorch's predict.py imports only
the runtime. Checked on the bundles of a real tiny run over every local runtime.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest
from backend_helpers import rows, tiny_run

from edgekd.deploy import verify_bundle
from edgekd.deploy.readme_parts import preprocessing_section, settings_section
from edgekd.errors import ArtifactError
from edgekd.report.columns import fmt_ms

GUIDES = {"README.md", "requirements.txt"}


def bundles(status: str | None = None) -> list[dict]:
    _, report = tiny_run()
    return [r for r in report["rows"] if r["bundle"] and (status is None or r["status"] == status)]


def read(row: dict, name: str) -> str:
    run_dir, _ = tiny_run()
    return (run_dir / row["bundle"] / name).read_text()


def test_every_bundle_lists_its_readme_requirements_and_figures():
    assert bundles("ok") and bundles("estimated")
    for row in bundles():
        run_dir, _ = tiny_run()
        files = set(verify_bundle(run_dir / row["bundle"])["files"])
        assert GUIDES <= files, row["bundle"]
        assert ("measurements.json" in files) == (row["status"] == "ok"), row["bundle"]


def test_measured_figures_match_the_report_and_say_where_they_come_from():
    for row in bundles("ok"):
        ms = json.loads(read(row, "measurements.json"))
        assert ms["accuracy"]["top1"] == pytest.approx(row["acc_artifact"])
        assert ms["accuracy"]["samples"] > 0 and ms["source"] == "measured-local"
        assert ms["latency"]["p50_ms"] == pytest.approx(row["p50_ms"])
        assert ms["latency"]["p90_ms"] == pytest.approx(row["p90_ms"])
        assert ms["host"]["cpu"] and ms["measured_at"] and ms["versions"]
        readme = read(row, "README.md")
        for text in (fmt_ms(row["p50_ms"]), fmt_ms(row["p90_ms"]), f"{row['acc_artifact']:.2%}"):
            assert text in readme, (row["bundle"], text)
        for text in (ms["host"]["cpu"], ms["measured_at"], "measured-local", ms["profile_stage"]):
            assert text in readme, (row["bundle"], text)


def test_unmeasured_bundles_say_why():
    for row in bundles("estimated"):
        readme = read(row, "README.md")
        assert "Not measured: " in readme and row["reason"].split(":")[0] in readme, readme


def test_readme_gives_input_output_labels_and_preprocessing():
    run_dir, report = tiny_run()
    data = json.loads(next((run_dir / "stages").glob("data-*/stage.json")).read_text())["info"]
    for row in bundles():
        readme = read(row, "README.md")
        assert "| input | `input` | [N, 1, 40] | float32 |" in readme
        assert "| output | `logits` | [N, 10] | float32 |" in readme
        prep = data["preprocessing"]
        assert (prep["text"] if isinstance(prep, dict) else prep) in readme
        assert "0 = `0`" in readme
        assert "## How to run" in readme and "pip install -r requirements.txt" in readme
        assert "$" not in readme.replace("$ANDROID_NDK", ""), "a placeholder was left"


def test_requirements_pin_the_runtime_that_built_and_measured_it():
    for row in bundles():
        reqs = read(row, "requirements.txt")
        versions = verify_bundle(tiny_run()[0] / row["bundle"])["versions"]
        if row["target"] in ("cpu-onnxruntime", "mobile-ort", "raspberry-pi-5"):
            assert f"onnxruntime=={metadata.version('onnxruntime')}" in reqs.splitlines()
        elif row["target"] == "mobile-executorch":
            assert f"executorch=={versions['executorch']}" in reqs.splitlines()
            assert f"torch=={versions['torch'].split('+')[0]}" in reqs.splitlines()
        elif row["target"] == "cpu-openvino":
            assert f"openvino=={versions['openvino']}" in reqs.splitlines()
        elif row["target"].startswith("jetson"):
            assert "tensorrt>=10" in reqs.splitlines()
        assert any(line.startswith("numpy>=") for line in reqs.splitlines()), reqs


def et_rows() -> list[dict]:
    _, report = tiny_run()
    found = rows(report, target="mobile-executorch", status="ok")
    if not found:
        pytest.skip("ExecuTorch does not run here")
    return found


def test_executorch_readme_shows_the_cpp_runtime_with_this_models_shapes():
    readme = read(et_rows()[0], "README.md")
    for text in (
        "executor_runner --model_path /path/to/model.pte",
        'Module module("/path/to/model.pte");',
        "from_blob(input.data(), {1, 1, 40})",
        "std::vector<float> input(40);",
        "-DEXECUTORCH_BUILD_XNNPACK=ON",
        "https://docs.pytorch.org/executorch/stable/using-executorch-cpp.html",
    ):
        assert text in readme, text


def test_executorch_predict_imports_the_runtime_not_the_export_stack(tmp_path):
    """executorch.runtime pulls in executorch.exir (export passes, torchao): seconds and
    about 130 MB before the first inference. The bundle's predict.py must not."""
    run_dir, _ = tiny_run()
    bundle = run_dir / et_rows()[0]["bundle"]
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 40), np.float32))
    out = subprocess.run(
        [sys.executable, "-X", "importtime", str(bundle / "predict.py"), str(tmp_path / "x.npy")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(out.stdout.splitlines()) == 2
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "executorch.extension.pybindings._C" in imported
    heavy = sorted(m for m in imported if m.startswith(("executorch.exir", "torchao")))
    assert not heavy, heavy[:10]


def test_an_edited_readme_is_refused_like_any_changed_file(tmp_path):
    run_dir, _ = tiny_run()
    bundle = tmp_path / "b"
    shutil.copytree(run_dir / bundles("ok")[0]["bundle"], bundle)
    with open(bundle / "README.md", "a") as f:
        f.write("\nfaster than ever!\n")
    with pytest.raises(ArtifactError, match="README.md"):
        verify_bundle(bundle)


# -------------------------------------------------------------- sections, from records
IMAGE = {
    "text": "RGB, shorter side to 256 (bilinear), center crop 224, pixel / 255, mean/std",
    "kind": "image",
    "channels": 3,
    "resize": 256,
    "interpolation": "bilinear",
    "crop": [224, 224],
    "scale": 1 / 255,
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "layout": "NCHW",
    "dtype": "float32",
}


def test_image_preprocessing_is_written_as_numbers():
    text = preprocessing_section(IMAGE)
    for part in (
        "shorter side to 256 px",
        "center, 224 x 224 px",
        "mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]",
        "x 0.003921568627 (1/255)",
        "NCHW, float32",
        "RGB",
    ):
        assert part in text, part


def test_text_or_other_preprocessing_is_shown_as_given():
    for prep in ("signals standardised (zero mean)", {"text": "signals standardised (zero mean)"}):
        text = preprocessing_section(prep)
        assert "signals standardised (zero mean)" in text and "text only" in text
    other = preprocessing_section({"text": "arrays as stored", "clip": [0, 1]})
    assert "arrays as stored" in other and "| `clip` | `[0, 1]` |" in other


def test_tuned_settings_are_read_from_the_manifest_whatever_they_hold():
    manifest = {
        "target_config": {"threads": 4, "runtime_options": {"max_batch": 8}},
        "tuned": {"threads": 2, "graph_optimization_level": "extended"},
        "compile": {"quantization": {"method": "static QDQ"}},
    }
    measured = {"placement": {"intra_op_threads": 2}}
    text = settings_section(manifest, measured)
    for row in (
        "| tuned.threads | 2 |",
        "| tuned.graph_optimization_level | extended |",
        "| runtime_options.max_batch | 8 |",
        "| compile.quantization.method | static QDQ |",
        "| profiled_with.intra_op_threads | 2 |",
    ):
        assert row in text, row
