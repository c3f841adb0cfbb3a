"""The bad-input corpus: each case writes its inputs into a folder and gives a command line.

Every case must make `edgekd` exit 2 with one clear message (containing `expect`), no
traceback, and nothing written outside its run folder. A case is (id, build, expect), where
`build(folder) -> argv`. Shared inputs (a tiny npz dataset, a valid bundle) come from the
helpers below, so each case states only what is wrong with it.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

RUN = ["--out", "runs/case", "-q"]

PIPELINE = {
    "name": "bad",
    "seed": 0,
    "data": {"dataset": "npz", "options": {"path": "data.npz"}, "calib_size": 8},
    "teacher": {"model": "mlp", "options": {"hidden": [8]}, "train": {"epochs": 1}},
    "students": [
        {
            "name": "s",
            "model": "mlp",
            "options": {"hidden": [4]},
            "train": {"epochs": 1},
            "baseline": False,
            "distill": {"losses": [{"name": "kd"}]},
        }
    ],
    "targets": [],
}


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], list[str]]
    expect: str


# ---------------------------------------------------------------- helpers


def write_npz(folder: Path, name: str = "data.npz", **arrays) -> None:
    rng = np.random.default_rng(0)
    base = {"x": rng.normal(size=(60, 1, 8)).astype(np.float32), "y": np.arange(60) % 3}
    np.savez(folder / name, **(base | arrays))


def pipeline(folder: Path, edit: Callable[[dict], object] | None = None, npz: bool = True):
    """Write pipeline.yaml (and data.npz), after `edit(cfg)`; return the run argv."""
    cfg = copy.deepcopy(PIPELINE)
    if edit is not None:
        edit(cfg)
    if npz:
        write_npz(folder)
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return ["run", "pipeline.yaml", *RUN]


def raw_pipeline(text: str | bytes) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        path = folder / "pipeline.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return ["run", "pipeline.yaml", *RUN]

    return build


def edited(edit: Callable[[dict], object]) -> Callable[[Path], list[str]]:
    return lambda folder: pipeline(folder, edit)


def at(path: str, value) -> Callable[[dict], None]:
    """Set cfg[a][b]... = value for a dotted path (list indices as numbers)."""

    def edit(cfg: dict) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = cfg
        for p in parents:
            node = node[p]
        node[last] = value

    return edit


def with_npz(**arrays) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        argv = pipeline(folder)
        (folder / "data.npz").unlink()
        np.savez(folder / "data.npz", **arrays)
        return argv

    return build


def npz_flat_with(edit: Callable[[dict], object]) -> Callable[[Path], list[str]]:
    """Flat (N, 8) vectors, and the pipeline after `edit`."""

    def build(folder: Path) -> list[str]:
        argv = pipeline(folder, edit)
        x = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
        np.savez(folder / "data.npz", x=x, y=np.arange(60) % 3)
        return argv

    return build


def cnn1d_teacher(cfg: dict) -> None:
    cfg["teacher"] |= {"model": "cnn1d", "options": {"channels": [4]}}


def npz_bytes(data: bytes) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        argv = pipeline(folder)
        (folder / "data.npz").write_bytes(data)
        return argv

    return build


def teacher_state(hidden: int = 8) -> dict:
    from edgekd.models import build_model

    return build_model("mlp", {"hidden": [hidden]}, (1, 8), 3).state_dict()


def with_checkpoint(name: str, write: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        write(folder / name)
        return pipeline(folder, at("teacher.checkpoint", name))

    return build


def save_torch(obj) -> Callable[[Path], None]:
    import torch

    return lambda path: torch.save(obj, path)


def truncated_torch(path: Path) -> None:
    import torch

    torch.save(teacher_state(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


class RunsCode:
    """Unpickling this calls os.system: a checkpoint that would run code if loaded unsafely."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def safetensors_truncated(path: Path) -> None:
    from safetensors.torch import save_file

    save_file(teacher_state(), str(path))
    path.write_bytes(path.read_bytes()[:40])


def onnx_model(in_features: int = 8, classes: int = 3):
    """A valid ONNX model: Flatten -> Gemm, input (N, 1, in_features) -> (N, classes)."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((in_features, classes), np.float32), "w")
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, in_features])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])],
        [w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def write_bundle(folder: Path, onnx_bytes: bytes | None = None, **manifest_edits) -> Path:
    """A deploy bundle like edgekd writes (model.onnx + manifest.json with sha256)."""
    from edgekd.hashing import sha256_file

    bundle = folder / "bundle"
    bundle.mkdir()
    data = onnx_bytes if onnx_bytes is not None else onnx_model().SerializeToString()
    (bundle / "model.onnx").write_bytes(data)
    manifest = {
        "schema": "edgekd.bundle/1",
        "runtime": "onnxruntime",
        "artifact": "model.onnx",
        "files": {"model.onnx": sha256_file(bundle / "model.onnx")},
        "input": {"name": "input", "shape": [None, 1, 8], "dtype": "float32"},
        "output": {"name": "logits", "shape": [None, 3]},
        "target": "cpu-onnxruntime",
        "precision": "fp32",
        "target_config": {"name": "cpu-onnxruntime", "runtime": "onnxruntime", "threads": 1},
    } | manifest_edits
    manifest = {k: v for k, v in manifest.items() if v is not None}  # None: leave the key out
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    return bundle


def bundle_case(change: Callable[[Path], None] | None = None, **kw) -> Callable:
    def build(folder: Path) -> list[str]:
        bundle = write_bundle(folder, **kw)
        if change is not None:
            change(bundle)
        return ["verify", "bundle"]

    return build


def profile_case(
    onnx_bytes: bytes | None = None, bundle: dict | None = None, *extra: str
) -> Callable[[Path], list[str]]:
    """`edgekd profile` on a plain ONNX file (or, with `bundle`, on a bundle) --tier quick."""

    def build(folder: Path) -> list[str]:
        if bundle is not None:
            write_bundle(folder, **bundle)
            return ["profile", "bundle", "--tier", "quick", *extra]
        data = onnx_bytes if onnx_bytes is not None else onnx_model().SerializeToString()
        (folder / "model.onnx").write_bytes(data)
        return ["profile", "model.onnx", "--tier", "quick", *extra]

    return build


def valid_onnx_truncated() -> bytes:
    data = onnx_model().SerializeToString()
    return data[: len(data) // 2]


def target_file(**fields) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        target = {"name": "t", "runtime": "onnxruntime"} | fields
        (folder / "t.yaml").write_text(yaml.safe_dump(target))
        return pipeline(folder)[:2] + ["--target", "t.yaml", *RUN]

    return build


def append_files(bundle: Path, **files: str) -> None:
    m = json.loads((bundle / "manifest.json").read_text())
    m["files"].update(files)
    (bundle / "manifest.json").write_text(json.dumps(m))


def corrupt_report(folder: Path) -> list[str]:
    (folder / "r").mkdir()
    (folder / "r" / "report.json").write_text("{")
    return ["report", "r"]


def two_students(cfg: dict) -> None:
    cfg["students"].append(copy.deepcopy(cfg["students"][0]))


def students_of(cfg: dict):
    return cfg["students"][0]


# ---------------------------------------------------------------- the corpus

CASES = [
    # pipeline YAML: syntax and shape
    Case("yaml-malformed", raw_pipeline("name: [unclosed\nseed: 0\n"), "malformed YAML"),
    Case("yaml-not-a-mapping", raw_pipeline("- just\n- a list\n"), "mapping of keys"),
    Case("yaml-binary", raw_pipeline(b"\xff\xfe\x00\x81\x9f"), "not a text file"),
    Case("yaml-missing-file", lambda d: ["run", "nope.yaml", *RUN], "no such file"),
    Case(
        "yaml-python-tag-runs-nothing",
        raw_pipeline("name: !!python/object/apply:os.system ['touch PWNED']\n"),
        "malformed YAML",
    ),
    Case("yaml-empty", raw_pipeline(""), "mapping of keys"),
    # pipeline YAML: keys, types, values
    Case("unknown-top-key", edited(at("bogus", 1)), "unknown key 'bogus'"),
    Case("unknown-nested-key", edited(at("teacher.train.epoch", 3)), "unknown key 'epoch'"),
    Case("wrong-type-batch", edited(at("teacher.train.batch_size", "big")), "batch_size"),
    Case("negative-epochs", edited(at("teacher.train.epochs", -3)), "epochs"),
    Case("wrong-type-students", edited(at("students", "all")), "students"),
    Case("wrong-type-seed", edited(at("seed", [1])), "seed"),
    Case("bad-cache-mode", edited(at("students.0.distill.cache_teacher_outputs", "x")), "cache"),
    Case("empty-losses", edited(at("students.0.distill.losses", [])), "losses"),
    Case("seed-flag-not-int", lambda d: pipeline(d) + ["--seed", "abc"], "Invalid value"),
    Case("nproc-zero", lambda d: pipeline(d) + ["--nproc", "0"], "Invalid value"),
    # unknown plugin names
    Case("unknown-model", edited(at("teacher.model", "resnet9000")), "Unknown model"),
    Case("unknown-loss", edited(at("students.0.distill.losses.0.name", "kdd")), "'kd'"),
    Case("unknown-scheme", edited(at("students.0.distill.scheme", "nope")), "Unknown distill"),
    Case("unknown-dataset", edited(at("data.dataset", "imagenet")), "Unknown dataset"),
    Case("unknown-model-option", edited(at("teacher.options.bogus", 1)), "unknown key 'bogus'"),
    Case("unknown-loss-option", edited(at("students.0.distill.losses.0.options", {"t": 1})), "'t'"),
    Case("unknown-target", lambda d: pipeline(d)[:2] + ["-t", "nope", *RUN], "Unknown target"),
    Case("target-runtime-unknown", target_file(runtime="tensorflow"), "Unknown runtime"),
    Case("target-bad-precision", target_file(precisions=["int4"]), "precisions"),
    Case("target-unknown-key", target_file(thread=4), "unknown key 'thread'"),
    # path traversal in names
    Case("student-name-traversal", edited(at("students.0.name", "../x")), "name"),
    Case("pipeline-name-slash", edited(at("name", "a/b")), "name"),
    Case(
        "target-name-slash",
        lambda d: pipeline(d)[:2] + ["-t", "../../etc/passwd", *RUN],
        "Unknown target",
    ),
    Case("target-yaml-name-traversal", target_file(name="../evil"), "name"),
    Case("duplicate-students", edited(two_students), "unique"),
    # teacher checkpoints
    Case("ckpt-missing", edited(at("teacher.checkpoint", "missing.pt")), "does not exist"),
    Case(
        "ckpt-corrupt", with_checkpoint("t.pt", lambda p: p.write_bytes(os.urandom(512))), "corrupt"
    ),
    Case("ckpt-truncated", with_checkpoint("t.pt", truncated_torch), "truncated"),
    Case("ckpt-pickled-code", with_checkpoint("t.pt", save_torch({"w": RunsCode()})), "refused"),
    Case(
        "ckpt-wrong-arch",
        with_checkpoint("t.pt", lambda p: save_torch(teacher_state(5))(p)),
        "does not fit",
    ),
    Case("ckpt-not-a-state-dict", with_checkpoint("t.pt", save_torch([1, 2, 3])), "state_dict"),
    Case(
        "ckpt-is-onnx",
        with_checkpoint("t.onnx", lambda p: p.write_bytes(onnx_model().SerializeToString())),
        "checkpoint",
    ),
    Case(
        "ckpt-safetensors-truncated",
        with_checkpoint("t.safetensors", safetensors_truncated),
        "corrupt",
    ),
    Case(
        "ckpt-corrupt-under-ddp",
        lambda d: (
            with_checkpoint("t.pt", lambda p: p.write_bytes(os.urandom(512)))(d) + ["--nproc", "2"]
        ),
        "corrupt",
    ),
    # datasets
    Case("npz-missing", lambda d: pipeline(d, npz=False), "does not exist"),
    Case("npz-corrupt", npz_bytes(os.urandom(300)), "not a readable .npz"),
    Case("npz-truncated", npz_bytes(b"PK\x03\x04" + b"\0" * 40), "not a readable .npz"),
    Case(
        "npz-object-array",
        with_npz(x=np.array([{"a": 1}] * 4, dtype=object), y=np.arange(4)),
        "pickles",
    ),
    Case(
        "npz-mismatched-xy",
        with_npz(x=np.zeros((10, 4), np.float32), y=np.arange(7) % 2),
        "must match",
    ),
    Case(
        "npz-labels-out-of-range",
        with_npz(x=np.zeros((20, 4), np.float32), y=np.arange(20) % 3, labels=np.array(["a", "b"])),
        "labels must lie",
    ),
    Case(
        "npz-negative-labels",
        with_npz(x=np.zeros((20, 4), np.float32), y=np.arange(20) % 3 - 1),
        "labels",
    ),
    Case("npz-empty", with_npz(x=np.zeros((0, 4), np.float32), y=np.zeros(0, np.int64)), "empty"),
    Case("npz-missing-y", with_npz(x=np.zeros((10, 4), np.float32)), "missing array"),
    Case("npz-nan", with_npz(x=np.full((20, 4), np.nan, np.float32), y=np.arange(20) % 2), "NaN"),
    Case(
        "npz-float-labels",
        with_npz(x=np.zeros((20, 4), np.float32), y=np.linspace(0, 1, 20)),
        "integer",
    ),
    Case("npz-string-inputs", with_npz(x=np.array(["a"] * 20), y=np.arange(20) % 2), "numeric"),
    Case(
        "npz-scalar-inputs", with_npz(x=np.zeros(20, np.float32), y=np.arange(20) % 2), "features"
    ),
    # a model family that cannot read the data's sample shape (issue 10: was a ValueError)
    Case("npz-flat-vectors-cnn1d-teacher", npz_flat_with(cnn1d_teacher), "teacher.model"),
    # deploy bundles and ONNX
    Case(
        "bundle-sha-mismatch",
        bundle_case(lambda b: (b / "model.onnx").write_bytes(b"\0" * 64)),
        "sha256",
    ),
    Case(
        "bundle-manifest-dotdot",
        bundle_case(lambda b: append_files(b, **{"../x": "0" * 64})),
        "outside the bundle",
    ),
    Case(
        "bundle-unlisted-file",
        bundle_case(lambda b: (b / "extra.py").write_text("x")),
        "not listed",
    ),
    Case(
        "bundle-no-manifest",
        bundle_case(lambda b: (b / "manifest.json").unlink()),
        "not a deploy bundle",
    ),
    Case(
        "bundle-manifest-not-json",
        bundle_case(lambda b: (b / "manifest.json").write_text("{")),
        "not a valid edgekd manifest",
    ),
    Case(
        "bundle-files-not-a-dict", bundle_case(files=["model.onnx"]), "not a valid edgekd manifest"
    ),
    Case("bundle-onnx-corrupt", bundle_case(onnx_bytes=os.urandom(256)), "cannot load"),
    Case("bundle-onnx-truncated", bundle_case(onnx_bytes=valid_onnx_truncated()), "cannot load"),
    Case(
        "bundle-onnx-wrong-input-shape",
        bundle_case(input={"shape": [None, 1, 5]}),
        "rejects an input",
    ),
    Case("bundle-wrong-output-shape", bundle_case(output={"shape": [None, 10]}), "promises"),
    Case("bundle-unknown-runtime", bundle_case(runtime="tflite"), "Unknown runtime"),
    Case("bundle-missing-folder", lambda d: ["verify", "nowhere"], "not a deploy bundle"),
    # edgekd profile: ONNX files and bundles it is handed, and SSH hosts
    Case("profile-onnx-corrupt", profile_case(os.urandom(200)), "not a readable ONNX"),
    Case("profile-onnx-truncated", profile_case(valid_onnx_truncated()), "not a readable ONNX"),
    Case("profile-onnx-not-onnx", profile_case(b"name: x\n"), "not a readable ONNX"),
    Case(
        "profile-bundle-tampered",
        profile_case(None, {"onnx_bytes": onnx_model(5).SerializeToString(), "files": {}}),
        "not listed",
    ),
    Case("profile-bundle-no-target", profile_case(None, {"target": None}), "manifest"),
    Case(
        "profile-bundle-wrong-input-shape",
        profile_case(None, {"input": {"shape": [None, 1, 5], "dtype": "float32"}}),
        "invalid dimensions",
    ),
    Case(
        "ssh-unreachable-host",
        profile_case(None, None, "--host", "ssh://nobody@127.0.0.1:1"),
        "127.0.0.1",
    ),
    Case("ssh-not-an-ssh-url", profile_case(None, None, "--host", "ftp://x"), "not an SSH"),
    # reports
    Case("report-missing", lambda d: ["report", "nowhere"], "no report.json"),
    Case("report-corrupt", corrupt_report, "not valid JSON"),
]


# ================================================================ bundles, profile, outputs
# Issue 15 classes 1, 4 and 5 on the bundle/CLI side (deploy bundles, `edgekd profile`,
# `edgekd verify`, `edgekd report`, output paths). Kept apart to ease merging with the
# config/data cases above.


def relisted(bundle: Path, *names: str) -> None:
    from edgekd.hashing import sha256_file

    m = json.loads((bundle / "manifest.json").read_text())
    m["files"].update({n: sha256_file(bundle / n) for n in names})
    (bundle / "manifest.json").write_text(json.dumps(m))


def model_symlink(target: str | None = None) -> Callable[[Path], None]:
    """model.onnx becomes a link: to `target`, or to a copy outside with the same bytes."""

    def change(bundle: Path) -> None:
        outside = bundle.parent / "outside.onnx"
        outside.write_bytes((bundle / "model.onnx").read_bytes())
        (bundle / "model.onnx").unlink()
        (bundle / "model.onnx").symlink_to(target or outside)

    return change


def listed_fifo(bundle: Path) -> None:
    os.mkfifo(bundle / "pipe")
    append_files(bundle, pipe="0" * 64)


def manifest_symlink(bundle: Path) -> None:
    (bundle / "manifest.json").rename(bundle.parent / "manifest.json")
    (bundle / "manifest.json").symlink_to(bundle.parent / "manifest.json")


def manifest_raw(text: str) -> Callable[[Path], None]:
    return lambda bundle: (bundle / "manifest.json").write_text(text)


def engine_for(runtime: str) -> Callable[[Path], None]:
    def change(bundle: Path) -> None:
        m = json.loads((bundle / "manifest.json").read_text())
        m |= {"runtime": runtime, "built_on_device": ["model.engine"]}
        (bundle / "manifest.json").write_text(json.dumps(m))
        (bundle / "model.engine").write_bytes(b"engine")

    return change


def token_model():
    """int64 input_ids [batch, seq] -> Gather over a 1,000-row embedding -> mean -> Gemm."""
    from onnx import TensorProto, helper, numpy_helper

    emb = numpy_helper.from_array(np.ones((1000, 8), np.float32), "emb")
    w = numpy_helper.from_array(np.ones((8, 3), np.float32), "w")
    nodes = [
        helper.make_node("Gather", ["emb", "input_ids"], ["e"]),
        helper.make_node("ReduceMean", ["e"], ["m"], axes=[1], keepdims=0),
        helper.make_node("Gemm", ["m", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        [emb, w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def two_input_model():
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((8, 3), np.float32), "w")
    nodes = [
        helper.make_node("Add", ["a", "b"], ["s"]),
        helper.make_node("Gemm", ["s", "w"], ["y"]),
    ]
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 8]) for n in ("a", "b")]
    out = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])]
    graph = helper.make_graph(nodes, "g", ins, out, [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def string_model():
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["s"], ["y"])],
        "g",
        [helper.make_tensor_value_info("s", TensorProto.STRING, [1])],
        [helper.make_tensor_value_info("y", TensorProto.STRING, [1])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def profile_model(model, *extra: str) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        (folder / "m.onnx").write_bytes(model().SerializeToString())
        return ["profile", "m.onnx", "--tier", "quick", *extra]

    return build


def profile_out(prepare: Callable[[Path], None], out: str) -> Callable[[Path], list[str]]:
    """`edgekd profile model.onnx --out OUT` after `prepare(folder)` made OUT a problem."""

    def build(folder: Path) -> list[str]:
        prepare(folder)
        return profile_case()(folder) + ["--out", out]

    return build


def far_target(folder: Path) -> list[str]:
    target = {"name": "far", "runtime": "onnxruntime", "host": "ssh://nobody@127.0.0.1:1"}
    (folder / "far.yaml").write_text(yaml.safe_dump(target))
    return profile_case()(folder) + ["--target", "far.yaml"]


def report_text(data: bytes | str) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        (folder / "r").mkdir()
        raw = data if isinstance(data, bytes) else data.encode()
        (folder / "r" / "report.json").write_bytes(raw)
        return ["report", "r"]

    return build


def report_folder(folder: Path) -> list[str]:
    (folder / "r" / "report.json").mkdir(parents=True)
    return ["report", "r"]


def out_under_a_file(folder: Path) -> list[str]:
    argv = pipeline(folder)
    (folder / "runs").write_text("a file where the run folder would go")
    return argv


SHAPE = [None, 1, 8]

CASES += [
    # bundles: names, links, bounds (the same rules in `edgekd verify` and predict.py)
    Case("bundle-artifact-dotdot", bundle_case(artifact="../model.onnx"), "not a plain file"),
    Case("bundle-artifact-absolute", bundle_case(artifact="/etc/passwd"), "not a plain file"),
    Case("bundle-artifact-unlisted", bundle_case(artifact="other.onnx"), "not one of its files"),
    Case("bundle-symlink-dev-zero", bundle_case(model_symlink("/dev/zero")), "not a regular"),
    Case("bundle-symlink-same-bytes", bundle_case(model_symlink()), "not a regular file"),
    Case("bundle-listed-fifo", bundle_case(listed_fifo), "not a regular file"),
    Case("bundle-manifest-symlink", bundle_case(manifest_symlink), "not a regular file"),
    Case("bundle-manifest-huge", bundle_case(manifest_raw(" " * (2 << 20))), "larger than"),
    Case("bundle-manifest-deep", bundle_case(manifest_raw("[" * 100_000)), "not a valid"),
    Case("bundle-bad-digest", bundle_case(files={"model.onnx": "abc"}), "not a valid edgekd"),
    Case("bundle-shape-rank", bundle_case(input={"shape": [None] + [1] * 20}), "at most 8"),
    Case("bundle-shape-huge-dim", bundle_case(input={"shape": [None, 10**12]}), "integers in"),
    Case(
        "bundle-shape-too-many-elements",
        bundle_case(input={"shape": [None, 4096, 4096, 8]}),
        "exceeds",
    ),
    Case(
        "bundle-dtype-object",
        bundle_case(input={"shape": SHAPE, "dtype": "object"}),
        "input.dtype must be one of",
    ),
    Case("bundle-labels-count", bundle_case(labels=["a"]), "1 labels for 3 output classes"),
    Case(
        "bundle-max-batch-zero",
        bundle_case(target_config={"runtime_options": {"max_batch": 0}}),
        "max_batch",
    ),
    Case("bundle-engine-wrong-runtime", bundle_case(engine_for("onnxruntime")), "not listed"),
    Case(
        "bundle-planted-numpy",
        bundle_case(lambda b: (b / "numpy.py").write_text("open('PWNED', 'w')")),
        "not listed",
    ),
    Case("verify-a-file", lambda d: [(d / "f").write_text("x"), "verify", "f"][1:], "not a deploy"),
    # edgekd profile: limits of this machine, any ONNX file, inputs it cannot run
    Case("profile-threads-above-cpus", profile_case(None, None, "--threads", "100000"), "CPU(s)"),
    Case(
        "profile-batch-above-memory",
        profile_case(None, None, "--batch", str(10**13)),
        "of memory available",
    ),
    Case(
        "profile-bundle-with-shape",
        profile_case(None, {}, "--shape", "input=1x1x8"),
        "for plain ONNX files",
    ),
    Case("profile-symbolic-seq", profile_model(token_model), "pass --shape input_ids=1x128"),
    Case(
        "profile-unnamed-shape-two-inputs",
        profile_model(two_input_model, "--shape", "1x8"),
        "name each shape",
    ),
    Case("profile-unknown-input", profile_model(two_input_model, "--shape", "c=1x8"), "no input"),
    Case("profile-shape-syntax", profile_model(token_model, "--shape", "input_ids=1xx"), "joined"),
    Case(
        "profile-shape-rank",
        profile_model(token_model, "--shape", "input_ids=1x2x3"),
        "does not fit input 'input_ids'",
    ),
    Case("profile-int-range-reversed", profile_model(token_model, "--int-range", "9:3"), "LOW <"),
    Case(
        "profile-ids-out-of-vocabulary",
        profile_model(token_model, "--shape", "input_ids=1x4", "--int-range", "0:100000"),
        "rejects the inputs",
    ),
    Case("profile-string-input", profile_model(string_model), "has type string"),
    # malformed ssh:// hosts (refused before anything is compiled or connected)
    Case("ssh-url-password", profile_case(None, None, "--host", "ssh://u:pw@h"), "not an SSH"),
    Case("ssh-url-open-ipv6", profile_case(None, None, "--host", "ssh://[::1"), "not an SSH"),
    Case("ssh-url-port-zero", profile_case(None, None, "--host", "ssh://h:0"), "not an SSH"),
    Case("ssh-url-port-big", profile_case(None, None, "--host", "ssh://h:70000"), "not an SSH"),
    Case("ssh-url-path", profile_case(None, None, "--host", "ssh://h/tmp"), "not an SSH"),
    Case(
        "ssh-url-option-like",
        profile_case(None, None, "--host", "ssh://-oProxyCommand=touch PWNED"),
        "not an SSH",
    ),
    Case("ssh-target-host-unreachable", far_target, "unreachable"),
    # output paths
    Case(
        "profile-out-exists",
        profile_out(lambda d: (d / "r.json").write_text("mine"), "r.json"),
        "already exists",
    ),
    Case("profile-out-folder", profile_out(lambda d: (d / "o").mkdir(), "o"), "is a folder"),
    Case(
        "profile-out-under-a-file",
        profile_out(lambda d: (d / "f").write_text("x"), "f/r.json"),
        "not a folder",
    ),
    Case("run-out-under-a-file", out_under_a_file, "is a file"),
    # report.json that is not one
    Case("report-future-schema", report_text('{"schema": "edgekd.report/99"}'), "newer edgekd"),
    Case(
        "report-rows-garbage",
        report_text('{"schema": "edgekd.report/2", "rows": "x"}'),
        "wrong shape",
    ),
    Case("report-schema-list", report_text('{"schema": ["x"]}'), "not an edgekd report"),
    Case("report-deep-nesting", report_text("[" * 100_000), "not valid JSON"),
    Case("report-not-utf8", report_text(b"\xff\xfe{}"), "not valid JSON"),
    Case("report-is-a-folder", report_folder, "no report.json"),
]
