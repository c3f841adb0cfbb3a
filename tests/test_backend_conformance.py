"""Every registered backend that runs here passes the same checks on a real pipeline run.

Compile fp32 and int8, load the deploy bundle (manifest verified), run it, agree with the
ONNX Runtime fp32 artifact, describe() placement, and predict.py in a subprocess reproduces
the accuracy the pipeline measured for that artifact.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from backend_helpers import LOCAL_TARGETS, check_backend_contract, rows, tiny_run

from edgekd.backends import BACKENDS
from edgekd.config.load import load_target
from edgekd.data import Splits
from edgekd.deploy import load_bundle
from edgekd.errors import ArtifactError

TESTS = Path(__file__).resolve().parent


def _target_or_skip(runtime: str) -> str:
    if runtime not in LOCAL_TARGETS:
        pytest.skip(f"'{runtime}' has no target measured on this machine (see its own test file)")
    target = LOCAL_TARGETS[runtime]
    status = BACKENDS.get(runtime)(load_target(target)).status()
    if not status.runs_here:
        pytest.skip(f"{runtime} does not run here: {status.reason}")
    return target


def _test_split(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    data = next((run_dir / "stages").glob("data-*"))
    meta = json.loads((data / "stage.json").read_text())["info"]
    splits = Splits.load(data, meta)
    return splits.x["test"], splits.y["test"]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A torch MLP and its checked ONNX export, for backends that start from either."""
    import torch

    from edgekd.config.schema import ExportConfig
    from edgekd.export.onnx import export_onnx
    from edgekd.models import build_model

    torch.manual_seed(0)
    model = build_model("mlp", {"hidden": [16]}, (1, 40), 10).eval()
    x = np.random.default_rng(0).standard_normal((32, 1, 40)).astype(np.float32)
    path = tmp_path_factory.mktemp("small") / "model.onnx"
    export_onnx(model, x, path, ExportConfig(), {})
    return model, path, x


EXAMPLES = [(name, i) for name, cls in BACKENDS.items() for i in range(len(cls.examples))]


@pytest.mark.parametrize("runtime, example", EXAMPLES, ids=[f"{n}-{i}" for n, i in EXAMPLES])
def test_every_backend_keeps_the_contract(runtime, example, small_model, tmp_path):
    """With each of the runtime_options sets the backend declares as its examples."""
    from edgekd.backends import CompileContext
    from edgekd.config.schema import TargetConfig

    model, onnx_path, x = small_model
    options = BACKENDS.get(runtime).examples[example]
    target = TargetConfig(name="t", runtime=runtime, threads=1, runtime_options=options)
    backend = BACKENDS.get(runtime)(target)
    assert backend.options == backend.Options.model_validate(options)
    context = CompileContext(load_model=lambda: model, val=(x, np.zeros(len(x), np.int64)))
    check_backend_contract(backend, onnx_path, x, tmp_path, context)


def test_runtime_names_stay_in_backends():
    """profile/, report/ and the orchestration read neutral summaries: no runtime named there."""
    package = TESTS.parent / "edgekd"
    files = [*(package / "profile").glob("*.py"), *(package / "report").glob("*.py")]
    files += [package / "engine.py", package / "deploy_flow.py", *(package / "stages").glob("*.py")]
    names = "|".join(re.escape(n) for n in BACKENDS.names())
    quoted = re.compile(rf"[\"']({names})[\"']|^\s*(from|import) ({names})\b", re.M)
    hits = [f"{f.relative_to(package)}: {m.group(0)}" for f in files
            for m in quoted.finditer(f.read_text())]  # fmt: skip
    assert not hits, hits


def test_every_backend_has_a_test_file():
    for name in BACKENDS.names():
        path = TESTS / f"test_backend_{name.replace('-', '_')}.py"
        assert path.is_file(), f"backend '{name}' has no {path.name}"


@pytest.mark.parametrize("runtime", BACKENDS.names())
@pytest.mark.parametrize("model", ["teacher", "mlp-t"])
def test_compiled_artifacts_agree_with_ort_fp32(runtime, model):
    target = _target_or_skip(runtime)
    run_dir, report = tiny_run()
    x, _ = _test_split(run_dir)
    ref_manifest, ref = load_bundle(run_dir / "deploy" / "cpu-onnxruntime" / f"{model}-fp32")
    expected = ref(x)
    for precision in ("fp32", "int8"):
        [row] = rows(report, model=model, target=target, precision=precision)
        assert row["status"] == "ok", row
        manifest, runner = load_bundle(run_dir / row["bundle"])
        assert manifest["precision"] == precision and manifest["runtime"] == runtime
        got = runner(x)
        assert got.shape == expected.shape
        agree = float((got.argmax(1) == expected.argmax(1)).mean())
        if precision == "fp32":
            np.testing.assert_allclose(got, expected, atol=1e-3, rtol=1e-3)
        else:
            assert agree >= 0.75, f"{runtime} int8 agrees with fp32 on only {agree:.0%}"
            assert not np.allclose(got, expected, atol=1e-7), "int8 output is bit-identical"
        assert isinstance(runner.describe(), dict) and runner.describe()
        assert row["acc_artifact"] == pytest.approx(
            float((got.argmax(1) == _test_split(run_dir)[1]).mean()), abs=0.01
        )
    assert ref_manifest["files"]


@pytest.mark.parametrize("runtime", BACKENDS.names())
def test_predict_py_reproduces_pipeline_accuracy(runtime, tmp_path):
    target = _target_or_skip(runtime)
    run_dir, report = tiny_run()
    x, y = _test_split(run_dir)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    for row in rows(report, target=target):
        bundle = run_dir / row["bundle"]
        out = subprocess.run(
            [sys.executable, str(bundle / "predict.py"), str(tmp_path / "x.npy"), "--labels",
             str(tmp_path / "y.npy")],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["n"] == len(y)
        assert result["accuracy"] == pytest.approx(row["acc_artifact"], abs=0.005), row["bundle"]


@pytest.mark.parametrize("runtime", BACKENDS.names())
def test_tampered_bundle_is_refused(runtime, tmp_path):
    target = _target_or_skip(runtime)
    run_dir, report = tiny_run()
    row = rows(report, target=target, model="mlp-t", precision="fp32")[0]
    bundle = tmp_path / "bundle"
    shutil.copytree(run_dir / row["bundle"], bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    artifact = bundle / manifest["artifact"]
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="sha256"):
        load_bundle(bundle)
    np.save(tmp_path / "one.npy", _test_split(run_dir)[0][:1])
    out = subprocess.run(
        [sys.executable, str(bundle / "predict.py"), str(tmp_path / "one.npy")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode != 0 and "does not match" in out.stderr


def test_backends_import_their_runtimes_lazily():
    code = (
        "import sys; from edgekd.backends import BACKENDS; BACKENDS.names(); "
        "heavy = ['onnxruntime', 'openvino', 'nncf', 'executorch', 'tensorrt', 'cuda']; "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _wide_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="300")
    cmd = [sys.executable, "-m", "edgekd", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_doctor_and_targets_list_every_runtime():
    doctor = _wide_cli("doctor")
    assert doctor.returncode == 0, doctor.stderr
    for name in BACKENDS.names():
        assert name in doctor.stdout
    targets = _wide_cli("targets")
    assert targets.returncode == 0, targets.stderr
    for name in ["cpu-onnxruntime", "cpu-openvino", "mobile-executorch", "mobile-ort"]:
        assert name in targets.stdout
    for name in ["jetson-orin-nano", "jetson-agx-orin", "raspberry-pi-5"]:
        assert name in targets.stdout
