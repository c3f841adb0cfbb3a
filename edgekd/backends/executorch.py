"""ExecuTorch with the XNNPACK delegate (.pte), exported from the trained PyTorch module.

ExecuTorch starts from torch.export, not ONNX, so compile() asks the CompileContext for the
torch model. int8 is PT2E: XNNPACKQuantizer (symmetric, per-channel) calibrated on the
calibration split. The compile info counts delegated and non-delegated ops, because ops that
fall outside XNNPACK run on slow portable kernels.
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgekd.backends import BACKENDS
from edgekd.backends.base import (
    Backend,
    CompileContext,
    Feed,
    local_threads,
    package_versions,
    single_input,
)
from edgekd.errors import ArtifactError, ConfigError

IGNORED = ("getitem", "sym_size", "executorch_call_delegate")
# What Method.execute raises when an input does not fit the program's bounded input tensor:
# set_inputs fails with Error::NotSupported (0x10). Delegated conv programs can keep the
# export example's batch size (seen with 2-D ResNets), so a larger batch lands here.
INPUT_REJECTED = "set_inputs() for method 'forward' failed with error 0x10"


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_batch: int = Field(256, ge=1)  # upper bound of the exported dynamic batch dimension


def _quantize(model, example, calib: np.ndarray, dynamic):
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True)
    )
    graph = torch.export.export(model, example, dynamic_shapes=dynamic).module()
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for i in range(0, len(calib), 32):
            prepared(torch.from_numpy(np.ascontiguousarray(calib[i : i + 32])))
    return convert_pt2e(prepared)


def delegation(graph_module) -> dict:
    """Delegated vs non-delegated op counts of a lowered graph, by op type."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(graph_module)
    kept = collections.Counter()
    delegated = 0
    for op, row in info.delegation_by_operator.items():
        delegated += row.delegated
        if row.non_delegated and not any(s in op for s in IGNORED):
            kept[op] += row.non_delegated
    return {
        "delegate": "XnnpackBackend",
        "delegated_subgraphs": int(info.num_delegated_subgraphs),
        "delegated_ops": int(delegated),
        "non_delegated_ops": int(sum(kept.values())),
        "non_delegated_by_op": dict(kept),
    }


def export_pte(model, calib: np.ndarray, precision: str, out: Path, max_batch: int) -> dict:
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    example = (torch.from_numpy(np.ascontiguousarray(calib[: min(2, max_batch)])),)
    dynamic = ({0: torch.export.Dim("batch", min=1, max=max_batch)},)
    if precision == "int8":
        model = _quantize(model, example, calib, dynamic)
    program = torch.export.export(model, example, dynamic_shapes=dynamic)
    edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    placement = delegation(edge.exported_program().graph_module)
    out.write_bytes(edge.to_executorch().buffer)
    return placement


class EtRunner:
    def __init__(self, pte: Path, max_batch: int, threads: int):
        import torch
        from executorch.runtime import Runtime

        self.torch, self.max_batch, self.threads = torch, max_batch, threads
        _set_threads(threads)
        try:
            self.method = Runtime.get().load_program(str(pte)).load_method("forward")
        except Exception as exc:  # the runtime raises RuntimeError/ValueError on bad files
            raise ArtifactError(
                f"ExecuTorch cannot load '{pte}': {str(exc).splitlines()[0][:200]}. Rebuild it "
                "with `edgekd run`."
            ) from None

    def __call__(self, x: Feed) -> np.ndarray:
        x = single_input(x, "ExecuTorch")
        outs = []
        for i in range(0, len(x), self.max_batch):
            chunk = np.ascontiguousarray(x[i : i + self.max_batch])
            try:
                outs.append(self.method.execute([self.torch.from_numpy(chunk)])[0].numpy())
            except RuntimeError as exc:
                if len(chunk) == 1 or INPUT_REJECTED not in str(exc):
                    raise  # not the batch-size case: a real failure, say so
                # The program kept its example's batch size: one sample at a time from now on.
                self.max_batch = 1
                return self(x)
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def describe(self) -> dict:
        return {
            "runtime": "executorch.runtime (XNNPACK)",
            "max_batch": self.max_batch,
            "intra_op_threads": self.threads,
        }


@BACKENDS.register("executorch")
class ExecuTorchBackend(Backend):
    Options = Options
    description = "ExecuTorch with the XNNPACK delegate (.pte; int8 via PT2E)"
    packages = ("executorch", "torchao")
    extra = "executorch"
    wheel_platforms = ("linux-x86_64", "linux-aarch64", "darwin-arm64", "win32-AMD64")
    artifact = "model.pte"
    precisions = ("fp32", "int8")
    examples = ({}, {"max_batch": 8})

    def versions(self) -> dict[str, str]:
        return package_versions("executorch", "torch", "torchao")

    def compile(
        self,
        onnx_path: Path,
        precision: str,
        calib: np.ndarray,
        out_dir: Path,
        context: CompileContext | None = None,
    ) -> dict:
        self.check_precision(precision)
        if context is None or context.load_model is None:
            raise ConfigError(
                f"target '{self.target.name}': ExecuTorch exports from the PyTorch model, and "
                "none was given; compile it through `edgekd run`, which passes the model."
            )
        model = context.load_model().eval()
        with contextlib.redirect_stderr(io.StringIO()), _quiet_logs():
            placement = export_pte(
                model, calib, precision, Path(out_dir) / self.artifact, self.options.max_batch
            )
        method = "PT2E XNNPACKQuantizer, symmetric per-channel" if precision == "int8" else None
        info = {"precision": precision, "placement": placement, "files": [self.artifact]}
        return info | ({"quantization": {"method": method}} if method else {})

    def load(self, artifact_dir: Path) -> EtRunner:
        self.require_runtime()
        threads = local_threads(self.target)
        return EtRunner(Path(artifact_dir) / self.artifact, self.options.max_batch, threads)

    def placement_summary(self, compile_info: dict, runtime_placement: dict) -> str:
        """Delegated vs non-delegated ops: the latter run on slow portable kernels."""
        where = compile_info.get("placement") or {}
        if "delegated_ops" not in where:
            return super().placement_summary(compile_info, runtime_placement)
        text = f"{where['delegated_ops']} ops delegated, {where['non_delegated_ops']} not"
        kept = where["non_delegated_by_op"]
        return text + (f" ({', '.join(kept)})" if where["non_delegated_ops"] else "")


def _set_threads(threads: int) -> None:
    """Size ExecuTorch's shared XNNPACK threadpool (a private but stable pybinding)."""
    from executorch.extension.pybindings import portable_lib

    reset = getattr(portable_lib, "_unsafe_reset_threadpool", None)
    if reset is not None:
        reset(threads)


@contextlib.contextmanager
def _quiet_logs():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
