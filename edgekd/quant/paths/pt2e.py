"""PT2E for ExecuTorch + XNNPACK: QAT with `prepare_qat_pt2e` and XNNPACKQuantizer's QAT
config, mixed precision by partial quantization (a filter function on the quantizer leaves
the kept modules' nodes unannotated, so they stay in float), both lowered to .pte by the
ExecuTorch backend's own export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.quant import INT8_PATHS, Candidate, Int8Path, NotKeepable

TRAIN_BATCH_BOUND = 1 << 16  # the exported training graph's batch bound (evaluation batches)


def _quantizer(qat: bool, keep: list[str] = ()):
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    config = get_symmetric_quantization_config(is_per_channel=True, is_qat=qat)
    quantizer = XNNPACKQuantizer().set_global(config)
    if keep:  # `set_module_name(name, None)` asserts in this ExecuTorch: filter them out
        from torchao.quantization.pt2e.quantizer import get_module_name_filter

        kept = [get_module_name_filter(name) for name in keep]
        quantizer.set_filter_function(lambda node: not any(f(node) for f in kept))
    return quantizer


def _graph(model, calib: np.ndarray, bound: int):
    import torch

    example = (torch.from_numpy(np.ascontiguousarray(calib[:2])),)
    dynamic = ({0: torch.export.Dim("batch", min=1, max=bound)},)
    return torch.export.export(model, example, dynamic_shapes=dynamic).module()


def _calibrate(prepared, calib: np.ndarray) -> None:
    import torch

    with torch.no_grad():
        for i in range(0, len(calib), 32):
            prepared(torch.from_numpy(np.ascontiguousarray(calib[i : i + 32])))


def _lower(converted, calib: np.ndarray, out_dir: Path, backend, method: str) -> dict:
    """The ExecuTorch backend's export of a graph that already holds its int8 q/dq ops
    (precision "fp32" there means: do not quantize again)."""
    from edgekd.backends.executorch import export_pte

    pte = Path(out_dir) / backend.artifact
    info = export_pte(converted, calib, "fp32", pte, backend.options.max_batch)
    return info | {
        "precision": "int8",
        "files": [backend.artifact],
        "quantization": {"method": method},
    }


def drop_batch_counters(graph_module):
    """Remove batch norm's `num_batches_tracked += 1` from the converted graph.

    QAT exports the model in training mode, so its graph keeps each BN's in-place counter
    update; in the inference program those adds have no users, fall outside XNNPACK (one
    non-delegated op per BN) and would bump a buffer on every call. Nothing reads them."""
    import torch

    for node in list(graph_module.graph.nodes):
        src = node.args[0] if node.args else None
        if (
            node.op == "call_function"
            and node.target is torch.ops.aten.add_.Tensor
            and not node.users
            and str(getattr(src, "target", "")).endswith("num_batches_tracked")
        ):
            graph_module.graph.erase_node(node)
    graph_module.recompile()
    return graph_module


@INT8_PATHS.register("pt2e-xnnpack")
class Pt2eXnnpack(Int8Path):
    description = "PT2E: prepare_qat_pt2e / partial quantization with XNNPACKQuantizer"
    library = "torchao.quantization.pt2e"

    def prepare_qat(self, model, calib: np.ndarray):
        from torchao.quantization.pt2e import allow_exported_model_train_eval
        from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

        prepared = prepare_qat_pt2e(
            _graph(model.train(), calib, TRAIN_BATCH_BOUND), _quantizer(True)
        )
        _calibrate(prepared, calib)
        allow_exported_model_train_eval(prepared)  # .train()/.eval() switch fake quant and BN
        return prepared

    def export_qat(self, prepared, calib: np.ndarray, out_dir: Path) -> dict:
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

        prepared.eval()
        method = "PT2E QAT (prepare_qat_pt2e, XNNPACKQuantizer symmetric per-channel)"
        converted = drop_batch_counters(convert_pt2e(prepared))
        return _lower(converted, calib, out_dir, self.backend, method)

    def layers(self, model, onnx_path: Path) -> list[str]:
        from torch import nn

        kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
        return [name for name, m in model.named_modules() if isinstance(m, kinds)]

    def candidate(
        self, model, onnx_path: Path, calib: np.ndarray, keep: list[str], work: Path
    ) -> Candidate:
        """Lowered and loaded here, so the search scores the .pte itself: XNNPACK refuses
        some partially quantized graphs (a float conv between int8 layers: "Weight and
        Input should both be quantized"; a float first conv failed at load time), and
        those layers cannot stay in float on this runtime (NotKeepable)."""
        import shutil

        from edgekd.backends.executorch import EtRunner

        method = "PT2E XNNPACKQuantizer, symmetric per-channel; modules kept in float"
        converted = partially_quantized(model, calib, keep)
        try:
            info = _lower(converted, calib, Path(work), self.backend, method)
            runner = EtRunner(Path(work) / self.backend.artifact, len(calib), 1)
            runner(calib[:1])
        except Exception as exc:  # XNNPACK's lowering or its runtime init refused the graph
            why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise NotKeepable(
                f"ExecuTorch/XNNPACK cannot run {list(keep)} in float: {why}"
            ) from exc

        def write(out_dir: Path) -> dict:
            shutil.copyfile(
                Path(work) / self.backend.artifact, Path(out_dir) / self.backend.artifact
            )
            return dict(info)

        return Candidate(runner, write)


def partially_quantized(model, calib: np.ndarray, keep: list[str]):
    """The model after PT2E post-training int8 (calibrated on `calib`), with the modules
    named in `keep` left in float: a converted graph module, not yet lowered."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    graph = _graph(model.eval(), calib, TRAIN_BATCH_BOUND)
    prepared = prepare_pt2e(graph, _quantizer(False, keep))
    _calibrate(prepared, calib)
    return convert_pt2e(prepared)
