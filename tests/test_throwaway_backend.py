"""Adding a runtime is one backend class, a target YAML and a test: nothing in profile/,
report/ or the orchestration changes.

Three throwaway backends are registered for the duration of the test only: one that runs
here (ONNX Runtime under another name, with its own artifact name, options, layer timer and
placement summary), one whose runtime is missing, and one that compiles for a device only.
They pass the shared contract checks, then a tiny pipeline runs on throwaway target YAMLs:
the first is compiled, bundled and measured in the profiling worker (which imports this file
to find the backend), the others are estimated.

Keep this module's top-level imports to edgekd, numpy and pytest: the worker imports it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from edgekd.backends import BACKENDS, Backend

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class ToyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str = "toy"


class ToyRunner:
    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.input, self.threads = self.session.get_inputs()[0].name, threads

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: x})[0]

    def describe(self) -> dict:
        return {"intra_op_threads": self.threads, "engine": "toy-engine"}


class ToyBackend(Backend):
    Options = ToyOptions
    description = "a throwaway runtime for tests: ONNX Runtime under another name"
    packages = ("onnxruntime",)
    artifact = "model.toy"
    precisions = ("fp32",)

    def compile(self, onnx_path, precision, calib, out_dir, context=None) -> dict:
        self.check_precision(precision)
        shutil.copyfile(onnx_path, Path(out_dir) / self.artifact)
        return {"precision": precision, "files": [self.artifact], "toy": self.options.label}

    def load(self, artifact_dir: Path) -> ToyRunner:
        self.require_runtime()
        return ToyRunner(Path(artifact_dir) / self.artifact, self.target.threads or 1)

    def layer_profile(self, artifact_dir: Path, sample: np.ndarray, runs: int):
        from edgekd.profile.layers import per_run_totals, summarize_nodes

        runner, events = self.load(artifact_dir), []
        for i in range(runs):
            t = time.perf_counter()
            runner(sample)
            events.append((i, ("graph", "WholeModel"), (time.perf_counter() - t) * 1e6))
        return summarize_nodes(per_run_totals(runs, events), runs, "toy timer")

    def placement_summary(self, compile_info: dict, runtime_placement: dict) -> str:
        where = runtime_placement.get("engine", "the device")
        return f"{compile_info['toy']}: whole graph on {where}"


class ToyMissing(ToyBackend):
    packages = ("edgekd_no_such_runtime",)


class ToyDeviceOnly(ToyBackend):
    packages = ("edgekd_no_such_runtime",)
    compiles_without_runtime = True


DEVICE = {"memory_bandwidth_gbps": 50.0, "peak_fp32_gflops": 100.0, "source": "test figures"}
TARGETS = {
    "toy-cpu": {"runtime": "toy", "threads": 1, "runtime_options": {"label": "toyish"}},
    "toy-missing": {"runtime": "toy-missing", "device": DEVICE},
    "toy-device": {"runtime": "toy-device", "device": DEVICE},
}


@pytest.fixture
def toys():
    with (
        BACKENDS.registered("toy", ToyBackend),
        BACKENDS.registered("toy-missing", ToyMissing),
        BACKENDS.registered("toy-device", ToyDeviceOnly),
    ):
        yield


def _target_yamls(folder: Path) -> list[str]:
    import yaml

    paths = []
    for name, body in TARGETS.items():
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": name, **body}))
        paths.append(str(path))
    return paths


def test_throwaway_backends_keep_the_contract(toys, tmp_path):
    from backend_helpers import check_backend_contract

    from edgekd.config.load import load_target
    from edgekd.records import BackendStatus

    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    onnx_path = _matmul_onnx(tmp_path / "m.onnx")
    status = {}
    for path in _target_yamls(tmp_path):
        target = load_target(path)
        backend = BACKENDS.get(target.runtime)(target)
        out = tmp_path / target.name
        out.mkdir()
        check_backend_contract(backend, onnx_path, x, out)
        status[target.name] = backend.status()
    assert {name: s.state for name, s in status.items()} == {
        "toy-cpu": BackendStatus.RUNS_HERE,
        "toy-missing": BackendStatus.MISSING,
        "toy-device": BackendStatus.COMPILES_ONLY,
    }
    assert "edgekd_no_such_runtime is not installed" in status["toy-missing"].reason
    assert status["toy-device"].reason.startswith("not built here: ")


def test_a_bad_option_of_a_throwaway_backend_is_a_config_error(toys, tmp_path):
    import yaml

    from edgekd.config.load import load_target
    from edgekd.errors import ConfigError

    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "runtime": "toy", "runtime_options": {"x": 1}}))
    with pytest.raises(ConfigError, match="runtime_options"):
        load_target(str(path))


def test_pipeline_on_throwaway_targets(toys, tmp_path, tiny_config, write_pipeline):
    from edgekd.config.load import load_pipeline
    from edgekd.deploy import load_bundle, verify_bundle
    from edgekd.engine import run_pipeline
    from edgekd.progress import Reporter
    from edgekd.records import LatencySource, RowStatus
    from edgekd.report.load import load_report

    tiny_config["students"][0]["baseline"] = False
    tiny_config["profile"]["layer_runs"] = 3
    tiny_config["targets"] = _target_yamls(tmp_path)
    path = write_pipeline(tiny_config)
    run = run_pipeline(load_pipeline(path), path, out=tmp_path / "run", reporter=Reporter(True))
    report = load_report(run)

    measured = report.rows_on("toy-cpu")
    assert {r.model for r in measured} == {"teacher", "mlp-t"}
    for r in measured:
        assert r.status is RowStatus.OK and r.latency_source is LatencySource.MEASURED_LOCAL
        assert abs(r.acc_artifact - r.acc_torch) <= 0.005  # the fp32 ONNX, run by "toy"
        assert r.placement == "toyish: whole graph on toy-engine" and r.threads == 1
        assert r.layers.tool == "toy timer" and r.layers.top[0].op_type == "WholeModel"
        manifest = verify_bundle(run / r.bundle)
        files = {"model.toy", "README.md", "requirements.txt", "measurements.json"}
        assert manifest["runtime"] == "toy" and set(manifest["files"]) == files
        _, runner = load_bundle(run / r.bundle)
        assert runner(np.zeros((2, 1, 40), np.float32)).shape == (2, 10)
    for r in report.rows_on("toy-missing"):
        assert r.status is RowStatus.ESTIMATED and r.bundle is None
        assert "edgekd_no_such_runtime is not installed" in r.reason
    for r in report.rows_on("toy-device"):
        assert r.status is RowStatus.ESTIMATED and r.reason.startswith("not built here")
        assert r.placement == "toy: whole graph on the device"  # this target's default label
        assert verify_bundle(run / r.bundle)["files"]  # built here for the device
    md = (run / "report.md").read_text()
    assert "toy timer" in md and "## Estimated rows (not measured)" in md


def _matmul_onnx(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "w"], ["logits"])],
        "mm",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 3])],
        [numpy_helper.from_array(w, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path
