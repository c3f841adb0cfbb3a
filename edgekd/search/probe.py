"""The probe stage: one untrained candidate student exported, compiled for the search's
target and its batch-1 latency measured there, or estimated where it cannot be measured.

Latency depends on the compiled graph, not on the weights, so a candidate is timed before
any training, and only those within the budget are trained. The export, compile and profile
stage functions are the ones the pipeline's own stages run, so a candidate is timed as its
trained artifact will be. Nothing here scores accuracy: the untrained model's outputs are
dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgekd.backends import CompileContext
from edgekd.config.schema import ExportConfig, ModelSpec, ProfileConfig, TargetConfig
from edgekd.data import Splits
from edgekd.errors import ConfigError, RuntimeMissingError
from edgekd.profile.hosts import RemoteError
from edgekd.records import LatencySource
from edgekd.stages.compile import run_compile
from edgekd.stages.export import run_export
from edgekd.stages.models import new_model
from edgekd.stages.profile import run_profile


@dataclass(frozen=True)
class Compiled:
    """A compiled artifact's folder and compile info, as the profile stage reads them."""

    path: Path
    info: dict


def run_probe(
    spec: ModelSpec,
    backend,
    target: TargetConfig,
    precision: str,
    splits: Splits,
    data,
    settings: tuple[ExportConfig, ProfileConfig, float],
    seed: int,
    folder: Path,
) -> dict:
    """{"p90_ms", "latency_source", ...} of the candidate `spec` on `target`; `settings` are
    the export settings, the profile settings and the accuracy gate compile may need."""
    from edgekd.models import count_flops, count_params

    export_cfg, profile_cfg, gate = settings
    model = new_model(spec, splits, seed)
    info = {"params": count_params(model), "flops": count_flops(model, splits.input_shape)}
    (folder / "export").mkdir()
    meta = {"edgekd.model": "search candidate (untrained, for latency only)"}
    run_export(model, splits, export_cfg, meta, folder / "export")
    onnx = folder / "export" / "model.onnx"
    status = backend.status()
    reason = status.reason
    if status.runs_here:
        context = CompileContext(lambda: model, (splits.x["val"], splits.y["val"]), gate)
        (folder / "compile").mkdir()
        comp = run_compile(backend, onnx, precision, splits, folder / "compile", context)
        compiled = Compiled(folder / "compile", comp)
        try:
            return info | measured(backend, target, compiled, data, profile_cfg, folder)
        except (RemoteError, RuntimeMissingError) as exc:  # an unreachable device: estimated
            if target.host == "local":
                raise
            reason = f"not measured: {exc}"
    return info | estimated(target, onnx, precision, reason)


def measured(backend, target, comp: Compiled, data, cfg: ProfileConfig, folder: Path) -> dict:
    (folder / "profile").mkdir()
    result = run_profile(backend, target, comp, data, cfg, folder / "profile")
    (folder / "profile" / "test_logits.npy").unlink(missing_ok=True)
    lat = result["latency"]
    return {
        "p90_ms": lat["p90_ms"],
        "p50_ms": lat["p50_ms"],
        "queries": lat["queries"],
        "latency_source": result["source"],
        "bytes": comp.info.get("bytes"),
        "versions": result.get("versions", {}),
    }


def estimated(target: TargetConfig, onnx: Path, precision: str, reason: str) -> dict:
    """A labelled roofline estimate; a target with neither a runtime here nor device specs
    cannot be searched."""
    from edgekd.profile.estimate import estimate_latency

    est, why = estimate_latency(target, onnx, precision, reason)
    if est is None:
        raise ConfigError(
            f"search_students: target '{target.name}' cannot be measured here ({why}) and has "
            "no device specs (memory_bandwidth_gbps and a peak for this precision) to estimate "
            "from. Install its runtime, attach the device, or add its specs to the target YAML."
        )
    return {
        "p90_ms": est.latency_ms,
        "latency_source": LatencySource.ESTIMATED.value,
        "estimate": est.model_dump(mode="json"),
        "reason": why,
    }
