"""Int8 recovery (edgekd.quant): QAT-KD and accuracy-budgeted mixed precision."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edgekd.backends import BACKENDS
from edgekd.config.schema import StudentConfig
from edgekd.quant import INT8_PATHS, Candidate, Int8Path, NotKeepable
from edgekd.quant.mixed import keep_in_float
from edgekd.quant.qatkd import qat_schedule

KD = {"losses": [{"name": "kd"}]}


def student(**extra) -> StudentConfig:
    train = {"epochs": 30, "lr": 0.005, "optimizer": "adamw", "schedule": "step", "milestones": [9]}
    return StudentConfig(name="s", model="cnn1d", train=train, distill=KD, **extra)


def test_qat_schedule_is_short_and_slow():
    s = student(qat={"epochs": 2, "lr_fraction": 0.1})
    sched = qat_schedule(s)
    assert sched.epochs == 2 and sched.lr == pytest.approx(0.0005)
    assert sched.optimizer == "adamw" and sched.schedule == "cosine" and sched.steps is None


def test_every_int8_path_a_backend_names_is_registered():
    named = {b.int8_path for _, b in BACKENDS.items() if b.int8_path is not None}
    assert named == set(INT8_PATHS.names())
    assert {"qdq-onnx", "nncf-openvino", "pt2e-xnnpack"} <= named


class Fake(Int8Path):
    """A stand-in model whose int8 error comes from named layers: keeping layer i in float
    removes its share of the error. Tests the search, not a runtime."""

    harm = {"a": 0.02, "b": 0.10, "c": 0.0, "d": 0.05}

    def layers(self, model, onnx_path):
        return list(self.harm)

    def candidate(self, model, onnx_path, calib, keep, work):
        acc = 1.0 - sum(v for k, v in self.harm.items() if k not in keep)

        def logits(x):  # right on the first `acc` share of the samples
            right = np.arange(len(x)) < round(acc * len(x))
            return np.stack([right, ~right], 1).astype(np.float32)

        return Candidate(logits, lambda out: {"files": [], "kept": list(keep)})


def test_mixed_keeps_fewest_most_sensitive_layers_first(tmp_path):
    val = (np.zeros((100, 1)), np.zeros(100, int))
    info, kept, trail, gains = keep_in_float(Fake(None), None, None, None, val, 0.94, 4, tmp_path)
    assert kept == ["b", "d"]  # b alone leaves 0.93 < 0.94; b and d give 0.98
    assert info["kept"] == ["b", "d"]
    assert gains["b"] == pytest.approx(0.10) and gains["c"] == 0
    tried = [t["float_layers"] for t in trail]
    assert tried[-1] == ["b", "d"] and tried.count(["b"]) == 1  # b alone is not built twice


def test_mixed_stops_at_max_float_layers_and_keeps_none_when_int8_passes(tmp_path):
    val = (np.zeros((100, 1)), np.zeros(100, int))
    _, kept, _, _ = keep_in_float(Fake(None), None, None, None, val, 0.999, 1, tmp_path)
    assert kept == ["b"]
    _, kept, trail, _ = keep_in_float(Fake(None), None, None, None, val, 0.8, 4, tmp_path)
    assert kept == [] and len(trail) == 1


class Flips(Int8Path):
    """int8 that flips four of the fp32 student's validation predictions unless layer "a"
    stays in float: two right answers made wrong and two wrong ones made right, so the
    accuracy on the labels does not move while 4% of the predictions change."""

    def __init__(self, fp32, flip):
        super().__init__(type("B", (), {"versions": staticmethod(dict)})())
        self.fp32, self.flip = fp32, flip

    def layers(self, model, onnx_path):
        return ["a", "b"]

    def candidate(self, model, onnx_path, calib, keep, work):
        def logits(x):
            out = self.fp32(x).copy()
            if "a" not in keep:
                out[self.flip] = out[self.flip][:, ::-1]
            return out

        return Candidate(logits, lambda out: {"files": [], "kept": list(keep)})


def test_mixed_scores_agreement_with_fp32_not_label_accuracy(tmp_path):
    """Flips in both directions cancel on the labels; the search must still see them."""
    from types import SimpleNamespace

    from edgekd.stages.qat import run_mixed

    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2).eval()
    x = np.random.default_rng(0).standard_normal((100, 2)).astype(np.float32)
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    y = pred.copy()
    y[50:70] = 1 - y[50:70]  # the fp32 student is wrong on 20 samples
    flip = np.array([0, 1, 50, 51])  # two right -> wrong, two wrong -> right

    def fp32(xb):
        with torch.no_grad():
            return model(torch.from_numpy(xb)).numpy()

    path = Flips(fp32, flip)
    splits = SimpleNamespace(x={"calib": x, "val": x}, y={"val": y})
    assert (path.candidate(None, None, None, [], None).logits(x).argmax(1) == y).mean() == 0.8
    s = student(mixed_precision={"max_float_layers": 2})
    info = run_mixed(path, s, model, None, splits, 0.99, tmp_path, None)
    mixed = info["mixed"]
    assert mixed["float_layers"] == ["a"] and info["kept"] == ["a"]
    assert mixed["val_acc_fp32"] == pytest.approx(0.8)
    assert mixed["agreement_floor"] == pytest.approx(1 - 0.01 * 0.8)
    assert mixed["tried"][0]["val_acc"] == pytest.approx(0.96)  # agreement, not accuracy
    assert mixed["val_agreement"] == 1.0 and mixed["passed_on_val"]


class Refuses(Fake):
    """Fake, except that the runtime cannot keep layer "b" in float."""

    def candidate(self, model, onnx_path, calib, keep, work):
        if "b" in keep:
            raise NotKeepable("layer b cannot stay in float here")
        return super().candidate(model, onnx_path, calib, keep, work)


def test_mixed_skips_layers_the_runtime_cannot_keep_in_float(tmp_path):
    val = (np.zeros((100, 1)), np.zeros(100, int))
    _, kept, trail, gains = keep_in_float(Refuses(None), None, None, None, val, 0.94, 4, tmp_path)
    # int8 alone: 0.83; without b the best it can do is 0.90 (d, a, c all in float)
    assert "b" not in gains and kept == ["d", "a", "c"] and trail[-1]["val_acc"] < 0.94
    assert any(t.get("error") for t in trail if t["float_layers"] == ["b"])


def tiny_cnn_onnx(tmp_path: Path):
    from edgekd.models import build_model

    torch.manual_seed(0)
    model = build_model("cnn1d", {"channels": [4, 4]}, (1, 16), 3).eval()
    path = tmp_path / "m.onnx"
    x = torch.randn(1, 1, 16)
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["input"],
        dynamic_axes={"input": {0: "b"}},
        dynamo=False,
    )
    return model, path


def int8_path_for(tmp_path: Path, target: str, name: str):
    """(model, its ONNX file, the int8 path `name` of `target`'s backend, calibration rows)
    for the tiny cnn1d of `tiny_cnn_onnx`."""
    from edgekd.config.load import load_target

    model, path = tiny_cnn_onnx(tmp_path)
    target_cfg = load_target(target)
    backend = BACKENDS.get(target_cfg.runtime)(target_cfg)
    calib = np.random.default_rng(0).normal(size=(16, 1, 16)).astype(np.float32)
    return model, path, INT8_PATHS.get(name)(backend), calib


def quantized_layers(onnx_path: Path) -> set[str]:
    """Conv/Gemm nodes of a QDQ ONNX file that read a DequantizeLinear output."""
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    dq = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    fed = {n.name: list(n.input) for n in graph.node if n.op_type in ("Conv", "Gemm")}
    return {name for name, ins in fed.items() if any(i in dq for i in ins)}


def test_onnxruntime_mixed_leaves_excluded_conv_in_float(tmp_path):
    model, path, qdq, calib = int8_path_for(tmp_path, "cpu-onnxruntime", "qdq-onnx")
    layers = qdq.layers(model, path)
    assert len(layers) == 3  # two convs and the classifier
    (tmp_path / "w").mkdir()
    cand = qdq.candidate(model, path, calib, [layers[0]], tmp_path / "w")
    assert cand.logits(calib).shape == (16, 3)
    info = cand.write(tmp_path)
    assert info["quantization"]["nodes_excluded"] == [layers[0]]
    quantized = quantized_layers(tmp_path / "model.onnx")
    assert layers[0] not in quantized and set(layers[1:]) <= quantized


def test_executorch_mixed_leaves_kept_conv_in_float(tmp_path):
    """Partial PT2E quantization: the kept module's conv reads float weights, the others
    dequantized int8 ones (the path a failing ExecuTorch int8 takes; it asserted before)."""
    import torch

    from edgekd.quant.paths.pt2e import partially_quantized

    model, path, pt2e, calib = int8_path_for(tmp_path, "mobile-executorch", "pt2e-xnnpack")
    layers = pt2e.layers(model, path)
    assert len(layers) == 3  # two convs and the classifier

    def quantized_weights(keep):
        graph = partially_quantized(model, calib, keep)
        ops = [n for n in graph.graph.nodes if n.op == "call_function"]
        layers_ops = [n for n in ops if "conv" in str(n.target) or "linear" in str(n.target)]
        return [
            isinstance(n.args[1], torch.fx.Node) and "dequantize" in str(n.args[1].target)
            for n in layers_ops
        ]

    cand = pt2e.candidate(model, path, calib, [layers[2]], tmp_path)  # the classifier
    assert cand.logits(calib).shape == (16, 3)  # the lowered .pte runs
    with pytest.raises(NotKeepable, match="cannot run"):  # XNNPACK refuses a float middle conv
        pt2e.candidate(model, path, calib, [layers[1]], tmp_path / "x")
    assert quantized_weights([]) == [True, True, True]
    assert quantized_weights([layers[0]]) == [False, True, True]


def test_tensorrt_qat_and_mixed_write_signed_qdq_onnx_and_the_build_script(tmp_path):
    """TensorRT's int8 path (no TensorRT here: the engine is built on the device): QAT-KD's
    QDQ ONNX quantizes with int8 zero points only (explicit quantization takes no uint8,
    not even after a ReLU), and mixed precision leaves the kept conv in float; both come
    with build_engine.sh asking for int8."""
    import onnx

    model, path, trt, calib = int8_path_for(tmp_path, "jetson-orin-nano", "qdq-tensorrt")
    assert trt.backend.int8_path == "qdq-tensorrt"

    def quantized_types(path):
        """The element types QuantizeLinear nodes produce (onnx shape inference)."""
        model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
        types = {v.name: v.type.tensor_type.elem_type for v in model.graph.value_info}
        outs = [n.output[0] for n in model.graph.node if n.op_type == "QuantizeLinear"]
        assert outs and all(o in types for o in outs)
        return {onnx.helper.tensor_dtype_to_np_dtype(types[o]).name for o in outs}

    qat_dir = tmp_path / "qat"
    qat_dir.mkdir()
    info = trt.export_qat(trt.prepare_qat(model, calib), calib, qat_dir)
    assert set(info["files"]) == {"model_qdq.onnx", "build_engine.sh", "trt_engine.py"}
    assert info["engine"] is None and "--int8" in (qat_dir / "build_engine.sh").read_text()
    assert quantized_types(qat_dir / "model_qdq.onnx") == {"int8"}

    layers = trt.layers(model, path)
    (tmp_path / "w").mkdir()
    cand = trt.candidate(model, path, calib, [layers[0]], tmp_path / "w")
    assert cand.logits(calib).shape == (16, 3)
    mixed_dir = tmp_path / "mixed"
    mixed_dir.mkdir()
    info = cand.write(mixed_dir)
    quantized = quantized_layers(mixed_dir / "model_qdq.onnx")
    assert layers[0] not in quantized and set(layers[1:]) <= quantized
    assert quantized_types(mixed_dir / "model_qdq.onnx") == {"int8"}
    assert "build_engine.sh" in info["files"]


def test_student_recovery_options_round_trip():
    s = student(qat={"when": "always"}, mixed_precision={"max_float_layers": 2})
    again = StudentConfig.model_validate(json.loads(s.model_dump_json()))
    assert again.qat.when == "always" and again.mixed_precision.max_float_layers == 2
    assert student().qat is None  # off unless asked for


@pytest.mark.slow
def test_pipeline_adds_qat_and_mixed_rows_beside_int8(tiny_config, write_pipeline, tmp_path):
    """A tiny pipeline with both recoveries asked for: each target gets int8-qat and
    int8-mixed rows, measured on the compiled artifact and gated against the fp32 student."""
    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline
    from edgekd.progress import Reporter

    cfg = tiny_config
    s = cfg["students"][0]
    s.update(model="cnn1d", options={"channels": [4, 4]}, baseline=False)
    s["qat"] = {"when": "always", "epochs": 1}
    s["mixed_precision"] = {"when": "always", "max_float_layers": 1}
    cfg["targets"] = ["cpu-onnxruntime", "cpu-openvino-ptq"]  # ExecuTorch: test below
    path = write_pipeline(cfg)
    out = run_pipeline(load_pipeline(path), path, out=tmp_path / "run", reporter=Reporter(True))
    rows = json.loads((out / "report.json").read_text())["rows"]
    mine = {(r["target"], r["precision"]): r for r in rows if r["model"] == "mlp-t"}
    for target in cfg["targets"]:
        for precision in ("int8", "int8-qat", "int8-mixed"):
            row = mine[(target, precision)]
            assert row["status"] == "ok" and row["acc_artifact"] is not None, row
            assert row["gate"] in ("pass", "fail") and (out / row["bundle"]).is_dir()
        assert mine[(target, "int8-qat")]["placement"].startswith("QAT-KD 1 epochs")
        assert isinstance(mine[(target, "int8-mixed")]["float_layers"], list)
    stages = {p.name.split("-")[0] for p in (out / "stages").iterdir()}
    assert {"qat", "mixed"} <= stages
    # the QAT QDQ graph runs int8 convolutions in ONNX Runtime (batch norms folded first)
    assert "QLinearConv" in ort_kernels(out / mine[("cpu-onnxruntime", "int8-qat")]["bundle"])


def ort_kernels(bundle: Path) -> set[str]:
    import onnx
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.optimized_model_filepath = str(bundle.parent / "optimized.onnx")
    ort.InferenceSession(str(bundle / "model.onnx"), so, providers=["CPUExecutionProvider"])
    return {n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node}


@pytest.mark.slow
def test_executorch_qat_trains_through_pt2e_fake_quant_and_lowers(tmp_path):
    """prepare_qat_pt2e: the fake-quantized graph trains (its weights move), switches to
    eval, converts and lowers to a .pte the ExecuTorch runtime runs, agreeing with torch."""
    from edgekd.config.load import load_target
    from edgekd.models import build_model

    torch.manual_seed(0)
    model = build_model("cnn1d", {"channels": [4, 4]}, (1, 16), 3)
    backend = BACKENDS.get("executorch")(load_target("mobile-executorch"))
    path = INT8_PATHS.get("pt2e-xnnpack")(backend)
    x = np.random.default_rng(0).normal(size=(64, 1, 16)).astype(np.float32)
    prepared = path.prepare_qat(model, x)
    before = {k: v.clone() for k, v in prepared.state_dict().items()}
    opt = torch.optim.SGD(prepared.parameters(), lr=0.1)
    prepared.train()
    loss = torch.nn.functional.cross_entropy(prepared(torch.from_numpy(x)), torch.zeros(64).long())
    loss.backward()
    opt.step()
    assert any(not torch.equal(before[k], v) for k, v in prepared.state_dict().items())
    prepared.eval()
    with torch.no_grad():
        want = prepared(torch.from_numpy(x)).numpy()
    info = path.export_qat(prepared, x, tmp_path)
    assert info["precision"] == "int8" and "prepare_qat_pt2e" in info["quantization"]["method"]
    assert "aten_add_tensor" not in info["placement"]["non_delegated_by_op"]  # BN counters
    got = backend.load(tmp_path)(x)
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.9


def test_batch_norms_fold_into_their_convolutions_before_qat():
    from torch import nn

    from edgekd.models import build_model
    from edgekd.quant.paths.nncf_torch import fold_batch_norms

    torch.manual_seed(0)
    model = build_model("cnn1d", {"channels": [4, 4]}, (1, 16), 3)
    model.train()(torch.randn(32, 1, 16))  # non-trivial running statistics
    model.eval()
    x = torch.randn(8, 1, 16)
    with torch.no_grad():
        want = model(x)
        folded = fold_batch_norms(model)
        got = folded(x)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in folded.modules())
    assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.slow
def test_tensorrt_recovery_rows_are_packaged_for_the_device(tiny_config, write_pipeline, tmp_path):
    """No TensorRT here: with `when: always` a Jetson target still gets int8-qat and
    int8-mixed rows whose bundles hold the signed QDQ ONNX and the engine build script, and
    the rows say they were not measured."""
    from edgekd.config.load import load_pipeline
    from edgekd.engine import run_pipeline
    from edgekd.progress import Reporter

    cfg = tiny_config
    s = cfg["students"][0]
    s.update(model="cnn1d", options={"channels": [4, 4]}, baseline=False)
    s["qat"] = {"when": "always", "epochs": 1}
    s["mixed_precision"] = {"when": "always", "max_float_layers": 1}
    cfg["targets"] = ["jetson-orin-nano"]
    path = write_pipeline(cfg)
    out = run_pipeline(load_pipeline(path), path, out=tmp_path / "run", reporter=Reporter(True))
    rows = json.loads((out / "report.json").read_text())["rows"]
    mine = {r["precision"]: r for r in rows if r["model"] == "mlp-t"}
    for precision in ("int8-qat", "int8-mixed"):
        row = mine[precision]
        assert row["acc_artifact"] is None and row["gate"] not in ("pass", "fail"), row
        bundle = out / row["bundle"]
        assert (bundle / "model_qdq.onnx").is_file() and (bundle / "build_engine.sh").is_file()
