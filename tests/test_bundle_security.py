"""A deploy bundle cannot be turned against its user (issue 15, class 1).

predict.py imports nothing from its own folder, checks the bundle with the very rules of
`edgekd verify` before numpy, the runtime or the model is touched, follows nothing outside
the bundle, and refuses unbounded manifests. The agreement test runs edgekd's verify and the
bundle's own predict.py --check over a corpus of tampered bundles: they must decide alike.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from bad_inputs.cases import onnx_model, write_bundle
from conftest import run_cli

from edgekd.deploy import device_built, verify_bundle
from edgekd.deploy.compose import PACKAGE, compose
from edgekd.errors import ArtifactError
from edgekd.hashing import sha256_file

PLANTED = ("numpy", "onnxruntime", "json", "hashlib", "argparse", "os", "stat", "re", "pathlib")


def make_bundle(folder: Path, template: str = "onnxruntime", **manifest) -> Path:
    """The corpus bundle with labels, an output spec and a real predict.py."""
    base = {"output": {"shape": [None, 3]}, "labels": ["a", "b", "c"]}
    folder.mkdir(parents=True, exist_ok=True)
    bundle = write_bundle(folder, **(base | manifest))
    text = (PACKAGE / "deploy" / "templates" / f"predict_{template}.py").read_text()
    (bundle / "predict.py").write_text(compose(text, device_built()))
    relist(bundle, "predict.py")
    return bundle


def edit_manifest(bundle: Path, **fields) -> None:
    m = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps(m | fields))


def relist(bundle: Path, *names: str) -> None:
    """List `names` in the manifest with their current sha256 (what an attacker can do)."""
    m = json.loads((bundle / "manifest.json").read_text())
    m["files"] |= {n: sha256_file(bundle / n) for n in names}
    (bundle / "manifest.json").write_text(json.dumps(m))


def predict(bundle: Path, *args: str, cwd: Path | None = None, env: dict | None = None, flags=()):
    return subprocess.run(
        [sys.executable, *flags, str(bundle / "predict.py"), *args],
        capture_output=True, text=True, timeout=60, cwd=cwd, env=env,
    )  # fmt: skip


def plant(bundle: Path, marker: Path) -> list[str]:
    """Modules beside predict.py that leave a mark if they are ever imported."""
    names = []
    for mod in PLANTED:
        (bundle / f"{mod}.py").write_text(f"open({str(marker / mod)!r}, 'w').close()\n")
        names.append(f"{mod}.py")
    return names


@pytest.fixture
def inputs(tmp_path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).standard_normal((4, 1, 8)).astype(np.float32))
    return path


def test_a_good_bundle_runs_its_predict_py(tmp_path, inputs):
    bundle = make_bundle(tmp_path)
    out = predict(bundle, str(inputs), "--json")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["index"] for r in lines] == [0, 1, 2, 3] and all(r["label"] for r in lines)
    assert predict(bundle, "--check").stdout.startswith("verified")
    assert not (bundle / "__pycache__").exists()


@pytest.mark.parametrize("template", ["onnxruntime", "openvino", "executorch", "tensorrt"])
def test_predict_py_stands_alone_without_edgekd(tmp_path, inputs, template):
    """The composed predict.py names no edgekd module, and runs where edgekd cannot import."""
    bundle = make_bundle(tmp_path, template)
    text = (bundle / "predict.py").read_text()
    assert not re.search(r"^\s*(import|from)\s+edgekd\b", text, re.M)
    assert "# @include" not in text and "LATER = {}" not in text
    compile(text, "predict.py", "exec")
    if template != "onnxruntime":
        return
    blocked = (
        "import runpy, sys; sys.modules['edgekd'] = None; "
        f"sys.argv = ['predict.py', {str(inputs)!r}]; "
        f"runpy.run_path({str(bundle / 'predict.py')!r}, run_name='__main__')"
    )
    out = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True)
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 4, out.stderr


def test_planted_modules_beside_predict_py_never_run(tmp_path, inputs):
    bundle = make_bundle(tmp_path / "b")
    marks = tmp_path / "marks"
    marks.mkdir()
    names = plant(bundle, marks)
    refused = predict(bundle, str(inputs))
    assert refused.returncode == 2 and "not listed" in refused.stderr, refused.stderr
    relist(bundle, *names)  # an attacker who also rewrites the manifest
    runs = [
        predict(bundle, str(inputs)),
        predict(bundle, str(inputs), cwd=bundle),
        predict(bundle, str(inputs), flags=("-I",)),
        subprocess.run(
            [sys.executable, "-m", "predict", str(inputs)],
            cwd=bundle,
            capture_output=True,
            text=True,
            timeout=60,
        ),  # fmt: skip
    ]
    for out in runs:
        assert out.returncode == 0, out.stderr
        assert len(out.stdout.splitlines()) == 4
    assert sorted(p.name for p in marks.iterdir()) == []
    assert not (bundle / "__pycache__").exists()


def test_the_check_comes_before_numpy_and_the_runtime(tmp_path, inputs):
    bundle = make_bundle(tmp_path)
    data = bytearray((bundle / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / "model.onnx").write_bytes(bytes(data))
    out = predict(bundle, str(inputs), flags=("-X", "importtime"))
    assert out.returncode == 2 and "does not match its sha256" in out.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "json" in imported  # the probe sees imports at all
    assert not {m for m in imported if m.split(".")[0] in ("numpy", "onnxruntime")}


def test_a_symlink_to_dev_zero_is_refused_at_once(tmp_path):
    bundle = make_bundle(tmp_path)
    (bundle / "model.onnx").unlink()
    (bundle / "model.onnx").symlink_to("/dev/zero")
    with pytest.raises(ArtifactError, match="not a regular file"):
        verify_bundle(bundle)
    out = predict(bundle, "--check")  # timeout=60: hashing /dev/zero would never end
    assert out.returncode == 2 and "not a regular file" in out.stderr


def garbage_model(b: Path) -> None:
    (b / "model.onnx").write_bytes(b"not a model, but listed with its own sha256")
    relist(b, "model.onnx")


@pytest.mark.parametrize(
    "what, expect",
    [
        ("strings", "do not convert"),
        ("wrong-shape", "the model takes one sample"),
        ("not-npy", "cannot read"),
        ("pickled-labels", "cannot read"),
        ("garbage-model", "the runtime cannot run"),
    ],
)
def test_bad_inputs_to_predict_py_are_one_line_refusals(tmp_path, inputs, what, expect):
    bundle = make_bundle(tmp_path / "b")
    args = [str(inputs)]
    if what == "strings":
        np.save(tmp_path / "s.npy", np.array([[["a"] * 8]]))
        args = [str(tmp_path / "s.npy")]
    elif what == "wrong-shape":
        np.save(tmp_path / "w.npy", np.zeros((2, 5), np.float32))
        args = [str(tmp_path / "w.npy")]
    elif what == "not-npy":
        (tmp_path / "t.npy").write_text("hello")
        args = [str(tmp_path / "t.npy")]
    elif what == "pickled-labels":
        np.save(tmp_path / "y.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
        args += ["--labels", str(tmp_path / "y.npy")]
    else:
        garbage_model(bundle)
    out = predict(bundle, *args)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("error:") and expect in out.stderr, out.stderr


# ------------------------------------------------------------ the agreement corpus
Mutation = Callable[[Path], None]


def flip(name: str) -> Mutation:
    def go(b: Path) -> None:
        data = bytearray((b / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (b / name).write_bytes(bytes(data))

    return go


def append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def manifest_is(**fields) -> Mutation:
    return lambda b: edit_manifest(b, **fields)


def manifest_text(text: str) -> Mutation:
    return lambda b: (b / "manifest.json").write_text(text)


def symlinked(b: Path) -> None:
    outside = b.parent / "outside.onnx"
    shutil.copyfile(b / "model.onnx", outside)
    (b / "model.onnx").unlink()
    (b / "model.onnx").symlink_to(outside)  # same bytes, same sha256: still refused


def fifo(b: Path) -> None:
    os.mkfifo(b / "pipe")
    m = json.loads((b / "manifest.json").read_text())
    m["files"]["pipe"] = "0" * 64
    (b / "manifest.json").write_text(json.dumps(m))


def sparse_huge(b: Path) -> None:
    with open(b / "huge.bin", "wb") as f:
        f.truncate(65 << 30)  # 65 GiB of nothing: refused by size, never hashed
    m = json.loads((b / "manifest.json").read_text())
    m["files"]["huge.bin"] = "0" * 64
    (b / "manifest.json").write_text(json.dumps(m))


def listed_folder(b: Path) -> None:
    (b / "sub").mkdir()
    m = json.loads((b / "manifest.json").read_text())
    m["files"]["sub"] = "0" * 64
    (b / "manifest.json").write_text(json.dumps(m))


def manifest_symlink(b: Path) -> None:
    real = b.parent / "real-manifest.json"
    shutil.move(b / "manifest.json", real)
    (b / "manifest.json").symlink_to(real)


def device_file(runtime: str, link: bool = False) -> Mutation:
    def go(b: Path) -> None:
        edit_manifest(b, runtime=runtime, built_on_device=["model.engine"])
        if link:
            (b / "model.engine").symlink_to("/dev/zero")
        else:
            (b / "model.engine").write_bytes(b"built on the device")

    return go


def listed_extra(name: str) -> Mutation:
    def go(b: Path) -> None:
        (b / name).write_text("x = 1\n")
        relist(b, name)

    return go


def files_edit(**files) -> Mutation:
    def go(b: Path) -> None:
        m = json.loads((b / "manifest.json").read_text())
        m["files"] |= files
        (b / "manifest.json").write_text(json.dumps(m))

    return go


GOOD_SHAPE = [None, 1, 8]
TAMPERED: list[tuple[str, Mutation, bool]] = [
    ("untouched", lambda b: None, True),
    ("model-byte-flipped", flip("model.onnx"), False),
    ("predict-edited", lambda b: append(b / "predict.py", "# an edit\n"), False),
    ("unlisted-file", lambda b: (b / "notes.txt").write_text("x"), False),
    ("unlisted-numpy", lambda b: (b / "numpy.py").write_text("x"), False),
    ("listed-numpy", listed_extra("numpy.py"), True),
    ("unlisted-pycache", lambda b: (b / "__pycache__").mkdir(), False),
    ("listed-missing", files_edit(**{"gone.bin": "0" * 64}), False),
    ("files-dotdot", files_edit(**{"../x": "0" * 64}), False),
    ("files-absolute", files_edit(**{"/etc/passwd": "0" * 64}), False),
    ("files-bad-digest", files_edit(**{"model.onnx": "XYZ"}), False),
    ("artifact-dotdot", manifest_is(artifact="../model.onnx"), False),
    ("artifact-absolute", manifest_is(artifact=str(Path("/tmp/model.onnx"))), False),
    ("artifact-unlisted", manifest_is(artifact="other.onnx"), False),
    ("artifact-not-a-string", manifest_is(artifact=["model.onnx"]), False),
    ("model-symlink-same-bytes", symlinked, False),
    ("listed-fifo", fifo, False),
    ("listed-folder", listed_folder, False),
    ("listed-sparse-65-gib", sparse_huge, False),
    ("manifest-symlink", manifest_symlink, False),
    ("manifest-not-json", manifest_text("{"), False),
    ("manifest-deep", manifest_text('{"a":' * 50000 + "1" + "}" * 50000), False),
    ("manifest-huge", manifest_text(json.dumps({"pad": "x" * (2 << 20)})), False),
    ("manifest-list", manifest_text("[]"), False),
    ("no-target", manifest_is(target=None), False),
    ("schema-future", manifest_is(schema="edgekd.bundle/9"), False),
    ("runtime-empty", manifest_is(runtime=""), False),
    ("rank-20", manifest_is(input={"shape": [None] + [1] * 20}), False),
    ("dim-zero", manifest_is(input={"shape": [None, 0, 8]}), False),
    ("dim-negative", manifest_is(input={"shape": [None, -1, 8]}), False),
    ("dim-float", manifest_is(input={"shape": [None, 1.5, 8]}), False),
    ("dim-bool", manifest_is(input={"shape": [None, True, 8]}), False),
    ("dim-huge", manifest_is(input={"shape": [None, 10**12]}), False),
    ("elements-huge", manifest_is(input={"shape": [None, 4096, 4096, 8]}), False),
    ("dtype-object", manifest_is(input={"shape": GOOD_SHAPE, "dtype": "object"}), False),
    ("dtype-int64", manifest_is(input={"shape": GOOD_SHAPE, "dtype": "int64"}), True),
    ("labels-not-a-list", manifest_is(labels="abc"), False),
    ("labels-not-strings", manifest_is(labels=[1, 2, 3]), False),
    ("labels-wrong-count", manifest_is(labels=["a"]), False),
    ("output-zero-classes", manifest_is(output={"shape": [None, 0]}), False),
    ("max-batch-zero", manifest_is(target_config={"runtime_options": {"max_batch": 0}}), False),
    ("target-config-string", manifest_is(target_config="x"), False),
    ("engine-for-wrong-runtime", device_file("onnxruntime"), False),
    ("engine-built-on-device", device_file("tensorrt"), True),
    ("engine-symlink", device_file("tensorrt", link=True), False),
    ("built-on-device-dotdot", manifest_is(built_on_device=["../x"]), False),
]


@pytest.mark.parametrize("case, mutate, ok", TAMPERED, ids=[c[0] for c in TAMPERED])
def test_predict_py_and_edgekd_verify_decide_alike(tmp_path, case, mutate, ok):
    bundle = make_bundle(tmp_path / "here")
    mutate(bundle)
    try:
        verify_bundle(bundle)
        verified = True
    except ArtifactError:
        verified = False
    out = predict(bundle, "--check")
    assert out.returncode in (0, 2) and "Traceback" not in out.stderr, out.stderr
    assert (out.returncode == 0) == verified == ok, (case, out.stderr)


def test_the_corpus_covers_each_rule():
    """Every rule the check states has at least one bundle that breaks it."""
    ids = {c[0] for c in TAMPERED if not c[2]}
    assert len(ids) >= 35
    for rule in ("artifact", "symlink", "fifo", "manifest", "dim", "dtype", "labels", "engine"):
        assert any(rule in i for i in ids), rule


def test_verify_says_verified_but_cannot_load_here(tmp_path):
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here: the bundle would load")
    bundle = write_bundle(
        tmp_path, runtime="tensorrt", artifact="model.engine", built_on_device=["model.engine"],
        output={"shape": [None, 3]},
    )  # fmt: skip
    res = run_cli("verify", bundle)
    assert res.returncode == 3, res.stderr
    assert res.stdout.startswith("verified; cannot load here (needs tensorrt")
    (bundle / "model.onnx").write_bytes(onnx_model(5).SerializeToString())
    broken = run_cli("verify", bundle)
    assert broken.returncode == 2 and "sha256" in broken.stderr
    helptext = run_cli("verify", "--help").stdout
    assert "3 verified" in " ".join(helptext.split())
