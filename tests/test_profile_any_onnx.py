"""`edgekd profile` on ONNX files as users bring them (issue 11, point 4): a static batch-1
model, a two-input model, an int64 model with a symbolic sequence length, a boolean input;
on ONNX Runtime and OpenVINO through the CLI, and over SSH. A model it cannot run gets a
message that says which input and what to pass.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import run_cli
from helpers.sshd import LoopbackSshd, sshd_available
from onnx import TensorProto, helper, numpy_helper, save

from edgekd.backends import BACKENDS
from edgekd.config.load import load_target
from edgekd.errors import ConfigError
from edgekd.profile.onnx_inputs import parse_ranges, parse_shapes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
VOCAB = 1000
W = numpy_helper.from_array(np.ones((8, 3), np.float32), "w")


def _model(nodes, inputs, inits, out_dims):
    out = [helper.make_tensor_value_info("out", TensorProto.FLOAT, out_dims)]
    graph = helper.make_graph(nodes, "g", inputs, out, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _in(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


def static_batch(n: int):
    """x [n, 8] -> Gemm -> [n, 3]: every dimension fixed, batch included."""
    return _model([helper.make_node("Gemm", ["x", "w"], ["out"])],
                  [_in("x", TensorProto.FLOAT, [n, 8])], [W], [n, 3])  # fmt: skip


def two_inputs():
    nodes = [
        helper.make_node("Add", ["a", "b"], ["s"]),
        helper.make_node("Gemm", ["s", "w"], ["out"]),
    ]
    ins = [_in("a", TensorProto.FLOAT, ["N", 8]), _in("b", TensorProto.FLOAT, ["N", 8])]
    return _model(nodes, ins, [W], ["N", 3])


def token_ids():
    """int64 input_ids [batch, seq] -> embedding Gather -> mean over seq -> Gemm."""
    rng = np.random.default_rng(0)
    emb = numpy_helper.from_array(rng.standard_normal((VOCAB, 8)).astype(np.float32), "emb")
    nodes = [
        helper.make_node("Gather", ["emb", "input_ids"], ["e"]),
        helper.make_node("ReduceMean", ["e"], ["m"], axes=[1], keepdims=0),
        helper.make_node("Gemm", ["m", "w"], ["out"]),
    ]
    return _model(nodes, [_in("input_ids", TensorProto.INT64, ["batch", "seq"])], [emb, W],
                  ["batch", 3])  # fmt: skip


def bool_mask():
    nodes = [
        helper.make_node("Cast", ["mask"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["x", "f"], ["s"]),
        helper.make_node("Gemm", ["s", "w"], ["out"]),
    ]
    ins = [_in("x", TensorProto.FLOAT, ["N", 8]), _in("mask", TensorProto.BOOL, ["N", 8])]
    return _model(nodes, ins, [W], ["N", 3])


def string_input():
    nodes = [helper.make_node("Identity", ["s"], ["out"])]
    return _model(nodes, [_in("s", TensorProto.STRING, [1])], [], [1])


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("onnx")
    made = {"static1": static_batch(1), "static4": static_batch(4), "two": two_inputs(),
            "ids": token_ids(), "mask": bool_mask(), "strings": string_input()}  # fmt: skip
    for name, model in made.items():
        save(model, str(folder / f"{name}.onnx"))
    return {name: folder / f"{name}.onnx" for name in made}


def _targets() -> list[str]:
    out = []
    for name in ("cpu-onnxruntime", "cpu-openvino"):
        target = load_target(name)
        if BACKENDS.get(target.runtime)(target).status().runs_here:
            out.append(name)
    return out


def profile(path, *args):
    res = run_cli("profile", path, "--tier", "quick", "--threads", "1", "--json", *args)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.mark.parametrize("target", _targets())
def test_static_batch_model_is_measured_at_its_own_batch(models, target):
    one = profile(models["static1"], "-t", target, "--batch", "16")
    assert one["latency_source"] == "measured-local" and one["latency"]["p50_ms"] > 0
    assert one["throughput"]["batch"] == 1 and one["throughput"]["batch_source"].startswith(
        "static"
    )
    four = profile(models["static4"], "-t", target)
    assert four["inputs"] == [{"name": "x", "shape": [4, 8], "dtype": "float32"}]
    assert four["throughput"]["batch"] == 4


@pytest.mark.parametrize("target", _targets())
def test_two_input_model(models, target):
    out = profile(models["two"], "-t", target, "--batch", "4")
    assert [i["name"] for i in out["inputs"]] == ["a", "b"]
    assert all(i["shape"] == [1, 8] for i in out["inputs"])
    assert out["throughput"] == out["throughput"] | {"batch": 4, "batch_source": "requested"}
    assert out["layers"]["top"]


@pytest.mark.parametrize("target", _targets())
def test_integer_ids_with_a_symbolic_sequence_length(models, target):
    out = profile(models["ids"], "-t", target, "--shape", "input_ids=1x16", "--int-range",
                  f"0:{VOCAB}")  # fmt: skip
    assert out["inputs"] == [
        {"name": "input_ids", "shape": [1, 16], "dtype": "int64", "range": f"[0, {VOCAB})"}
    ]
    assert out["throughput"]["batch_source"] == "requested" and out["latency"]["p50_ms"] > 0


@pytest.mark.parametrize("target", _targets())
def test_boolean_input(models, target):
    out = profile(models["mask"], "-t", target)
    assert [i["dtype"] for i in out["inputs"]] == ["float32", "bool"]


def test_human_output_names_the_inputs(models):
    res = run_cli("profile", models["ids"], "--tier", "quick", "--shape", "input_ids=1x8")
    assert res.returncode == 0, res.stderr
    assert "input_ids [1, 8] int64 in [0, 100)" in " ".join(res.stdout.split())


@pytest.mark.parametrize(
    "model, args, expect",
    [
        ("ids", [], "input 'input_ids' has symbolic dims ['batch', 'seq']"),
        ("ids", [], "pass --shape input_ids=1x128"),
        ("two", ["--shape", "1x8"], "name each shape, e.g. --shape a="),
        ("two", ["--shape", "c=1x8"], "no input named 'c'; its inputs are a, b"),
        ("ids", ["--shape", "input_ids=1x2x3"], "does not fit input 'input_ids'"),
        ("static1", ["--shape", "x=2x8"], "keep its rank and fixed dims"),
        ("ids", ["--shape", "input_ids=1x4", "--int-range", "0:100000"], "in [0, 100000)"),
        ("strings", [], "input 's' of"),
        ("two", ["--int-range", "9:3"], "LOW < HIGH"),
    ],
)
def test_what_it_cannot_run_says_which_input_and_what_to_pass(models, model, args, expect):
    res = run_cli("profile", models[model], "--tier", "quick", *args)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert expect in " ".join(res.stderr.split()), res.stderr


def test_shape_and_range_syntax():
    assert parse_shapes(["input_ids=1x128", "mask:1x128", "pix[1,3,8,8]", "x:0=2x3"]) == {
        "input_ids": [1, 128], "mask": [1, 128], "pix": [1, 3, 8, 8], "x:0": [2, 3],
    }  # fmt: skip
    assert parse_shapes(["1x3x224x224"]) == {None: [1, 3, 224, 224]}
    assert parse_ranges(["0:30000", "ids=-5:5"]) == {None: (0, 30000), "ids": (-5, 5)}
    for bad in ("x=", "=1x2", "x=1xx2", "x=0x3", "x=1x-3", "x=1.5", "x=" + "x".join(["1"] * 10)):
        with pytest.raises(ConfigError):
            parse_shapes([bad])
    for bad in ("5:5", "a:b", "1", "=0:1", "0:" + str(1 << 70)):
        with pytest.raises(ConfigError):
            parse_ranges([bad])


@pytest.mark.skipif(sshd_available() is not None, reason=str(sshd_available()))
def test_the_same_over_ssh(models, tmp_path):
    with LoopbackSshd(tmp_path) as sshd:
        ssh = ["--host", sshd.url, "--known-hosts", sshd.known_hosts, "--identity",
               sshd.identity, "--remote-python", sys.executable]  # fmt: skip
        two = profile(models["two"], *ssh)
        ids = profile(models["ids"], *ssh, "--shape", "input_ids=1x16")
        static = profile(models["static1"], *ssh)
    assert two["latency_source"] == "measured-remote" and len(two["inputs"]) == 2
    assert ids["inputs"][0]["shape"] == [1, 16] and ids["inputs"][0]["range"] == "[0, 100)"
    assert static["throughput"]["batch"] == 1
