"""The benchmark models as artifacts of every local runtime, and edgekd's worker measuring them.

ONNX Runtime and OpenVINO run the exported ONNX file (OpenVINO as an fp32 IR, with the
settings benchmark_app is given); ExecuTorch runs a .pte exported from the same torch model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RUNTIMES = ("onnxruntime", "openvino", "executorch")


@dataclass(frozen=True)
class Artifact:
    runtime: str
    folder: Path
    name: str  # the main file
    files: list[str]
    shape: list[int]  # input shape without the batch
    options: dict


def torch_model(name: str):
    """The benchmark model `name` (benchmarks/_models.py), built as export() builds it."""
    import torch
    from _models import MODELS

    from edgekd.models import build_model

    kind, options, shape = MODELS[name]
    torch.manual_seed(0)
    return build_model(kind, options, shape, 10).eval()


def available() -> list[str]:
    from edgekd.backends import BACKENDS
    from edgekd.config.schema import TargetConfig

    return [
        rt
        for rt in RUNTIMES
        if BACKENDS.get(rt)(TargetConfig(name="x", runtime=rt)).status().runs_here
    ]


def build(
    name: str, folder: Path, runtimes: list[str], model=None, shape=None, static_batch=False
) -> dict:
    """{runtime: Artifact} for a benchmark model (or a given torch `model` and `shape`);
    `static_batch`: ONNX/IR fixed at batch 1 (what benchmark_app needs)."""
    import numpy as np
    from _models import export, export_module, to_openvino
    from _peers import BENCHMARK_APP_OPTIONS

    folder.mkdir(parents=True, exist_ok=True)
    if model is None:
        onnx_path, shape, _ = export(name, folder, static_batch=static_batch)
        model = torch_model(name)
    else:
        onnx_path = export_module(model, list(shape), folder, static_batch=static_batch)
    out = {}
    if "onnxruntime" in runtimes:
        out["onnxruntime"] = Artifact("onnxruntime", folder, "model.onnx", ["model.onnx"],
                                      list(shape), {})  # fmt: skip
    if "openvino" in runtimes:
        xml = to_openvino(onnx_path)
        files = [xml.name, xml.with_suffix(".bin").name]
        out["openvino"] = Artifact("openvino", folder, xml.name, files, list(shape),
                                   BENCHMARK_APP_OPTIONS)  # fmt: skip
    if "executorch" in runtimes:
        from edgekd.backends.executorch import export_pte

        calib = np.random.default_rng(0).random((4, *shape), dtype=np.float32)
        export_pte(model, calib, "fp32", folder / "model.pte", 64)
        out["executorch"] = Artifact("executorch", folder, "model.pte", ["model.pte"],
                                     list(shape), {"max_batch": 64})  # fmt: skip
    return out


def measure(art: Artifact, threads: int, min_queries: int = 1024, min_time_s: float = 0.5):
    """edgekd's profiling worker on the artifact, batch 1: its latency statistics (ms)."""
    from edgekd.config.schema import ProfileConfig, TargetConfig
    from edgekd.profile.isolate import profile_artifact
    from edgekd.profile.protocol import make_spec

    profile = ProfileConfig(min_queries=min_queries, min_time_s=min_time_s, layers=False,
                            throughput_time_s=0.05)  # fmt: skip
    target = TargetConfig(name=f"local-{art.runtime}", runtime=art.runtime, threads=threads,
                          runtime_options=art.options)  # fmt: skip
    spec = make_spec(art.folder, art.name, target, profile, art.shape, batch=1, files=art.files)
    return profile_artifact(spec)["latency"]
