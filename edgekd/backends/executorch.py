"""ExecuTorch with the XNNPACK delegate (.pte), exported from the trained PyTorch module.

ExecuTorch starts from torch.export, not ONNX, so compile() asks the CompileContext for the
torch model. int8 is PT2E: XNNPACKQuantizer (symmetric, per-channel) calibrated on the
calibration split. The compile info counts delegated and non-delegated ops, because ops that
fall outside XNNPACK run on slow portable kernels, and records the batch bound the program
really has. The per-operator profile comes from ETDump (`edgekd.backends.et_profile`).
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
from edgekd.records import LayerProfile, RuntimeSettings

IGNORED = ("getitem", "sym_size", "executorch_call_delegate")


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
    """Write the .pte; returns {"placement", "max_batch"}, the latter read back from the
    program (its input tensor's upper bound), so a runner never has to guess it."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    example = (torch.from_numpy(np.ascontiguousarray(calib[: min(2, max_batch)])),)
    # batch 1 only: a static program (torch.export cannot make a dimension of 1..1 dynamic)
    dynamic = ({0: torch.export.Dim("batch", min=1, max=max_batch)},) if max_batch > 1 else None
    if precision == "int8":
        model = _quantize(model, example, calib, dynamic)
    program = torch.export.export(model, example, dynamic_shapes=dynamic)
    with _size_oblivious():  # both steps re-trace convolutions with fake tensors
        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        placement = delegation(edge.exported_program().graph_module)
        et_program = edge.to_executorch()
    out.write_bytes(et_program.buffer)
    return {"placement": placement, "max_batch": input_batch_bound(et_program)}


@contextlib.contextmanager
def _size_oblivious():
    """Keep XNNPACK's own passes from narrowing the dynamic batch.

    XNNPACK's batch-norm fusion (in to_edge_transform_and_lower) and to_executorch (which
    re-runs each delegate's original graph on fake tensors) re-trace 2-D convolutions; the
    fake conv kernel asks ATen's backend choice, which tests `batch >= 16` (NNPACK's
    threshold). With the export example's batch (2) as the hint, the shape env records the
    guard `batch <= 15`: memory planning then sizes the input [15, C, H, W] and any larger
    batch fails in set_inputs with error 0x10 (the 1-D CNNs and MLPs here kept their batch:
    NNPACK's test is for 2-D convolutions). Upstream: pytorch/executorch#19262 runs the
    XNNPACK passes with backed_size_oblivious=True, which answers such tests without
    guarding; this does the same around both steps for releases without it (1.5.1 here).
    No-op where torch lacks the option.
    """
    from torch.fx.experimental import _config as fx_config

    if not hasattr(fx_config, "backed_size_oblivious"):
        yield
        return
    with fx_config.patch(backed_size_oblivious=True):
        yield


def input_batch_bound(et_program) -> int:
    """The first input's batch capacity in the serialized program (the memory plan's bound)."""
    plan = et_program.executorch_program.execution_plan[0]
    return int(plan.values[plan.inputs[0]].val.sizes[0])


def load_program(pte: Path, **kwargs):
    """executorch.runtime's Program, with a load failure as an ArtifactError."""
    from executorch.runtime import Runtime

    try:
        return Runtime.get().load_program(str(pte), **kwargs)
    except Exception as exc:  # the runtime raises RuntimeError/ValueError on bad files
        raise ArtifactError(
            f"ExecuTorch cannot load '{pte}': {str(exc).splitlines()[0][:200]}. Rebuild it "
            "with `edgekd run`."
        ) from None


def program_batch_bound(method) -> int:
    """The batch capacity the loaded program declares for its input (its upper bound)."""
    return int(method.metadata.input_tensor_meta(0).sizes()[0])


class EtRunner:
    """Batches larger than the program's bound run in chunks of that bound, which export_pte
    makes the target's `max_batch` (a chunk beyond it would fail in set_inputs, error 0x10)."""

    def __init__(self, pte: Path, max_batch: int, threads: int):
        import torch

        self.torch, self.threads = torch, threads
        _set_threads(threads)
        try:
            self.method = load_program(pte).load_method("forward")
        except ArtifactError:
            raise
        except Exception as exc:  # a program that loads but whose method does not
            raise ArtifactError(
                f"ExecuTorch cannot load '{pte}': {str(exc).splitlines()[0][:200]}. Rebuild it "
                "with `edgekd run`."
            ) from None
        self.max_batch = min(max_batch, program_batch_bound(self.method))

    def __call__(self, x: Feed) -> np.ndarray:
        x = single_input(x, "ExecuTorch")
        outs = []
        for i in range(0, len(x), self.max_batch):
            chunk = np.ascontiguousarray(x[i : i + self.max_batch])
            outs.append(self.method.execute([self.torch.from_numpy(chunk)])[0].numpy())
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
    int8_path = "pt2e-xnnpack"  # QAT-KD and mixed precision (edgekd.quant)
    examples = ({}, {"max_batch": 8})
    process_thread_pool = True

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
            exported = export_pte(
                model, calib, precision, Path(out_dir) / self.artifact, self.options.max_batch
            )
        if exported["max_batch"] < self.options.max_batch:  # a guard narrowed it: say so
            raise ArtifactError(
                f"target '{self.target.name}': the exported .pte accepts batches of at most "
                f"{exported['max_batch']}, not max_batch={self.options.max_batch}: a lowering "
                "pass specialised the batch dimension. Set runtime_options.max_batch to "
                f"{exported['max_batch']} or lower, or report the model to edgekd."
            )
        method = "PT2E XNNPACKQuantizer, symmetric per-channel" if precision == "int8" else None
        info = {"precision": precision, **exported, "files": [self.artifact]}
        return info | ({"quantization": {"method": method}} if method else {})

    def tuning_space(self, precision: str) -> list[RuntimeSettings]:
        """XNNPACK's threadpool size, 1 up to the ceiling here (a phone's 4 on a 2-CPU host
        is measured with at most 2)."""
        return self.thread_space()

    def load(self, artifact_dir: Path) -> EtRunner:
        self.require_runtime()
        threads = local_threads(self.target)
        return EtRunner(Path(artifact_dir) / self.artifact, self.options.max_batch, threads)

    def layer_profile(self, artifact_dir: Path, sample: np.ndarray, runs: int) -> LayerProfile:
        from edgekd.backends.et_profile import etdump_layer_profile

        self.require_runtime()
        _set_threads(local_threads(self.target))
        pte = Path(artifact_dir) / self.artifact
        return etdump_layer_profile(load_program(pte, enable_etdump=True), pte, sample, runs)

    def placement_summary(self, compile_info: dict, runtime_placement: dict) -> str:
        """Delegated vs non-delegated ops: the latter run on slow portable kernels."""
        where = compile_info.get("placement") or {}
        if "delegated_ops" not in where:
            return super().placement_summary(compile_info, runtime_placement)
        text = f"{where['delegated_ops']} ops delegated, {where['non_delegated_ops']} not"
        kept = where["non_delegated_by_op"]
        return text + (f" ({', '.join(kept)})" if where["non_delegated_ops"] else "")


def _set_threads(threads: int) -> None:
    """Size ExecuTorch's shared XNNPACK threadpool (a private but stable pybinding). The pool
    is one per process and a loaded delegate keeps using it: resizing it under a live
    runner crashes the process (hence `process_thread_pool`)."""
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
