"""What a bundle's predict.py gives a device engineer (issue 16, point 5): the top-k classes
with their probabilities (text, or JSON with --json), a batch from one .npy or several files,
and image files run through the bundle's own preprocessing, read as numbers from its manifest.

The bundles here are small and synthetic (a linear ONNX model with known weights), so every
probability printed can be checked against a softmax computed in the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bad_inputs.cases import write_bundle

from edgekd.deploy import device_built, verify_bundle
from edgekd.deploy.compose import PACKAGE, compose
from edgekd.hashing import sha256_file

LABELS = ["cat", "dog", "bird", "fish"]
IMAGE_PREP = {
    "text": "RGB, resized to [4, 6] (bilinear), center crop 4, pixel / 255, mean/std; CHW",
    "kind": "image",
    "decode": "Pillow",
    "channels": 3,
    "channel_order": "RGB",
    "resize": [4, 6],
    "resize_mode": "exact",
    "interpolation": "bilinear",
    "crop": [4, 4],
    "crop_mode": "center",
    "scale": 1 / 255,
    "mean": [0.5, 0.4, 0.3],
    "std": [0.2, 0.25, 0.3],
    "layout": "NCHW",
    "dtype": "float32",
}


def linear_onnx(shape: tuple[int, ...], weights: np.ndarray) -> bytes:
    """Flatten -> MatMul: logits = x.flatten() @ weights, for inputs of `shape` (batch N)."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(weights.astype(np.float32), "w")
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *shape])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", weights.shape[1]])],
        [w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def bundle_for(folder: Path, shape: tuple[int, ...], weights: np.ndarray, **manifest) -> Path:
    """A verified bundle of the linear model, with a real, composed predict.py."""
    folder.mkdir(parents=True, exist_ok=True)
    fields = {
        "input": {"name": "input", "shape": [None, *shape], "dtype": "float32"},
        "output": {"name": "logits", "shape": [None, weights.shape[1]]},
        "labels": LABELS[: weights.shape[1]],
    }
    bundle = write_bundle(folder, linear_onnx(shape, weights), **(fields | manifest))
    text = (PACKAGE / "deploy" / "templates" / "predict_onnxruntime.py").read_text()
    (bundle / "predict.py").write_text(compose(text, device_built()))
    m = json.loads((bundle / "manifest.json").read_text())
    m["files"]["predict.py"] = sha256_file(bundle / "predict.py")
    (bundle / "manifest.json").write_text(json.dumps(m))
    verify_bundle(bundle)
    return bundle


def predict(bundle: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(bundle / "predict.py"), *map(str, args)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def linear(tmp_path):
    """A 1x8 -> 4-class bundle and a batch of 3 inputs with their expected probabilities."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 4)).astype(np.float32)
    x = rng.standard_normal((3, 1, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    bundle = bundle_for(tmp_path / "b", (1, 8), w)
    return bundle, tmp_path / "x.npy", softmax(x.reshape(3, 8).astype(np.float64) @ w)


def test_text_output_is_the_top_k_with_probabilities(linear):
    bundle, x, p = linear
    out = predict(bundle, x, "--top-k", "3")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        name, *shown = line.split()
        assert name == f"{x}[{i}]"
        order = np.argsort(-p[i])[:3]
        assert [s for s in shown[0::2]] == [f"{c}:{LABELS[c]}" for c in order]
        assert [float(s) for s in shown[1::2]] == pytest.approx(p[i][order], abs=6e-4)


def test_json_output_has_every_top_k_class_and_its_probability(linear):
    bundle, x, p = linear
    out = predict(bundle, x, "--json", "--top-k", "4")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2]
    for i, r in enumerate(rows):
        best = int(np.argmax(p[i]))
        assert (r["class"], r["label"], r["input"]) == (best, LABELS[best], f"{x}[{i}]")
        probs = [t["probability"] for t in r["top"]]
        assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1.0)
        assert probs == pytest.approx(np.sort(p[i])[::-1], rel=1e-5)
        assert r["probability"] == probs[0]


def test_a_batch_from_several_files(linear, tmp_path):
    bundle, x, p = linear
    one = np.load(x)[1]  # a single sample, without the batch dimension
    np.save(tmp_path / "one.npy", one)
    out = predict(bundle, tmp_path / "one.npy", x, "--json", "--top-k", "1")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["input"] for r in rows] == [f"{tmp_path / 'one.npy'}[0]"] + [
        f"{x}[{i}]" for i in range(3)
    ]
    assert [r["class"] for r in rows] == [int(np.argmax(p[1]))] + list(np.argmax(p, 1))
    assert [r["index"] for r in rows] == [0, 1, 2, 3]


def test_labels_give_the_accuracy(linear, tmp_path):
    bundle, x, p = linear
    y = np.argmax(p, 1)
    y[0] = (y[0] + 1) % 4
    np.save(tmp_path / "y.npy", y)
    out = predict(bundle, x, "--labels", tmp_path / "y.npy")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"accuracy": pytest.approx(2 / 3), "n": 3}


@pytest.mark.parametrize("args, expect", [(["--top-k", "0"], "--top-k"), ([], "give input")])
def test_bad_arguments_are_refused(linear, args, expect):
    bundle, _, _ = linear
    out = predict(bundle, *args)
    assert out.returncode == 2 and expect in out.stderr and "Traceback" not in out.stderr


# ------------------------------------------------------------------------- images
def preprocessed(path: Path) -> np.ndarray:
    """IMAGE_PREP by hand: RGB, resize to 4x6 (h x w), center crop 4x4, /255, mean/std, CHW."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB").resize((6, 4), Image.BILINEAR).crop((1, 0, 5, 4))
        arr = np.asarray(im, dtype=np.float32) / 255.0
    arr = arr.transpose(2, 0, 1)
    mean = np.asarray(IMAGE_PREP["mean"], np.float32)[:, None, None]
    return (arr - mean) / np.asarray(IMAGE_PREP["std"], np.float32)[:, None, None]


@pytest.fixture
def image_bundle(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    rng = np.random.default_rng(1)
    w = rng.standard_normal((3 * 4 * 4, 4)).astype(np.float32)
    bundle = bundle_for(tmp_path / "img", (3, 4, 4), w, preprocessing=IMAGE_PREP)
    files = []
    for i, size in enumerate([(9, 7), (6, 4)]):  # (width, height): one needs resizing
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        path = tmp_path / f"photo{i}.{'png' if i else 'jpg'}"
        Image.fromarray(pixels).save(path)
        files.append(path)
    return bundle, files, w


def test_images_run_through_the_bundles_own_preprocessing(image_bundle, tmp_path):
    bundle, files, w = image_bundle
    x = np.stack([preprocessed(f) for f in files])
    p = softmax(x.reshape(2, -1).astype(np.float64) @ w)
    out = predict(bundle, *files, "--json", "--top-k", "4")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["input"] for r in rows] == [str(f) for f in files]
    for r, expected in zip(rows, p):
        got = {t["class"]: t["probability"] for t in r["top"]}
        assert [got[c] for c in range(4)] == pytest.approx(expected, rel=1e-4)
    np.save(tmp_path / "same.npy", x)  # the same inputs as an array give the same answer
    same = predict(bundle, tmp_path / "same.npy", "--json")
    assert [json.loads(line)["class"] for line in same.stdout.splitlines()] == [
        r["class"] for r in rows
    ]


def test_an_image_is_refused_where_the_bundle_has_no_image_steps(linear, image_bundle):
    bundle, _, _ = linear
    _, files, _ = image_bundle
    out = predict(bundle, files[0])
    assert out.returncode == 2 and "records no image preprocessing" in out.stderr


@pytest.mark.parametrize(
    "edit, expect",
    [
        ({"channels": 4}, "channels"),
        ({"mean": [0.5]}, "mean"),
        ({"resize": [0, 4]}, "resize"),
        ({"interpolation": "lanczos9"}, "interpolation"),
        ({"crop": [40, 40]}, "larger than the image"),
    ],
)
def test_bad_image_preprocessing_is_one_line(image_bundle, tmp_path, edit, expect):
    _, files, w = image_bundle
    bundle = bundle_for(tmp_path / "bad", (3, 4, 4), w, preprocessing=IMAGE_PREP | edit)
    out = predict(bundle, files[0])
    assert out.returncode == 2 and expect in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.startswith("error:") and len(out.stderr.strip().splitlines()) == 1


def test_a_corrupt_image_is_one_line(image_bundle, tmp_path):
    bundle, _, _ = image_bundle
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    out = predict(bundle, tmp_path / "broken.png")
    assert out.returncode == 2 and "cannot read" in out.stderr and "Traceback" not in out.stderr
