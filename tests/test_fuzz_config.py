"""Property: whatever a pipeline or target YAML holds, loading it gives a valid config or one
EdgeKDError in one paragraph — never a traceback, a hang or a memory blow-up (issue 15).

Valid pipelines and targets are mutated the ways a careless or hostile user would: keys
dropped, renamed or added, values swapped for other types, non-finite numbers, huge ints,
negative sizes, deep or wrong nesting, random strings as paths, names and hosts, unknown
plugin names, and the YAML text itself cut short, with lines repeated (duplicate keys) or an
alias bomb added. Derandomized with a fixed number of examples, so CI sees the same inputs.
A sample of the refused inputs also goes through the real CLI: exit 2, no traceback.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from bad_inputs.cases import PIPELINE, onnx_model, teacher_state
from conftest import REPO, TINY
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from edgekd.config.load import load_pipeline, load_target, load_targets
from edgekd.errors import EdgeKDError

EXAMPLES = int(os.environ.get("EDGEKD_FUZZ_EXAMPLES", 300))  # more, to hunt locally
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=EXAMPLES == 300,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MULTI_TEACHER = {
    "name": "multi",
    "seed": 3,
    "data": {"dataset": "npz", "options": {"path": "data.npz", "test_fraction": 0.25}},
    "teachers": [
        {"model": "mlp", "options": {"hidden": [8]}, "checkpoint": "t.pt"},
        {"onnx": "t.onnx"},
    ],
    "students": [
        {
            "name": "s",
            "model": "mlp",
            "train": {"epochs": 1, "lr": 0.01, "optimizer": "sgd", "milestones": [1]},
            "distill": {"scheme": "multi-teacher", "losses": [{"name": "kd", "weight": 0.5}]},
        }
    ],
    "export": {"opset": 17, "atol": 1e-4},
    "targets": ["my-target.yaml", "cpu-onnxruntime"],
}
TARGET = {
    "name": "t",
    "runtime": "onnxruntime",
    "precisions": ["fp32", "int8"],
    "threads": 2,
    "host": "ssh://pi@raspberrypi.local:22",
    "runtime_options": {"graph_optimization_level": "all", "inter_op_threads": 1},
    "device": {"cores": 4, "memory_gb": 8.0, "peak_fp32_gflops": 30.0, "source": "datasheet"},
    "ssh": {"known_hosts": "known_hosts", "connect_timeout_s": 5.0},
}
KEYS = sorted(
    {
        *(
            "name seed data teacher teachers students export targets profile accuracy_gate"
            " dataset options val_fraction calib_size model train checkpoint onnx distill"
            " baseline scheme losses weight ce_weight epochs batch_size lr optimizer momentum"
            " milestones gamma opset atol tier min_queries host runtime precisions threads"
            " device ssh path hidden temperature known_hosts identity"
        ).split(),
    }
)
ODD = [
    float("inf"),
    float("-inf"),
    float("nan"),
    2**63,
    -(2**63) - 1,
    2**64,
    2**1000,
    -1,
    0,
    -(10**9),
    1e308,
    1e-320,
    "",
    " ",
    "inf",
    "-Infinity",
    "nan",
    "1e999",
    "0x10",
    "../../etc/passwd",
    "/dev/zero",
    "/",
    "~",
    "~root/x",
    "nul\x00l",
    "data.npz/",
    "t.pt",
    "C:\\x",
    "x.yaml",
    "../x.yaml",
    "resnet9000",
    "kdd",
    "imagenet",
    "nope",
    "cpu-onnxruntime",
    "ssh://",
    "ssh://-oProxyCommand=x@h",
    "ssh://u@h:99999",
    "ssh://u@[::1]:22",
    "local",
    "fp64",
    "int4",
    "2024-01-01",
    "two\nlines",
    "tab\there",
    "yes",
    "null",
    "x" * 300,
    [],
    {},
    [[[[]]]],
    {"a": {"b": {"c": 1}}},
]
BENIGN = st.one_of(  # values that are valid for many keys: so that mutants also load
    st.integers(1, 64),
    st.floats(1e-3, 0.99),
    st.sampled_from(["mlp", "cnn1d", "kd", "offline", "npz", "mnist1d", "fp32", "sgd", "quick"]),
)
values = st.one_of(
    BENIGN,
    BENIGN,
    st.sampled_from(ODD),
    st.text(max_size=24),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=4)), max_size=4),
    st.dictionaries(st.sampled_from(KEYS), st.integers(-3, 3), max_size=3),
)
names = st.one_of(st.sampled_from(KEYS), st.text(max_size=12))
mutation = st.tuples(
    st.sampled_from(["replace", "replace", "replace", "drop", "rename", "wrap", "insert", "nest"]),
    st.floats(0, 1, exclude_max=True),
    values,
    names,
    st.integers(1, 40),
)
text_edit = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.tuples(st.just("cut"), st.floats(0.05, 0.95)),
    st.tuples(st.just("repeat-line"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("bomb"), st.integers(2, 12)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.text(max_size=6)),
)


def paths_of(node, prefix=()) -> list[tuple]:
    """Every key path in a YAML tree, the root first, in a fixed order."""
    out = [prefix]
    if isinstance(node, (dict, list)):
        for k, v in node.items() if isinstance(node, dict) else enumerate(node):
            out += paths_of(v, (*prefix, k))
    return out


def mutate(doc: dict, op: tuple):
    kind, where, value, name, depth = op
    value = copy.deepcopy(value)  # ODD's lists and dicts are shared between examples
    if kind == "insert" and where < 0.2:  # a new top-level key
        return {**doc, name: value}
    paths = paths_of(doc)[1:]  # not the root: a document that is not a mapping is dull
    if not paths:
        return value
    path = paths[int(where * len(paths))]
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    last = path[-1]
    if kind == "drop":
        del parent[last]
    elif kind == "rename" and isinstance(parent, dict):
        parent[name] = parent.pop(last)
    elif kind == "wrap":
        parent[last] = [parent[last]] if depth % 2 else {name: parent[last]}
    elif kind == "insert" and isinstance(parent[last], dict):
        parent[last][name] = value
    elif kind == "nest":
        for _ in range(depth):
            value = [value]
        parent[last] = value
    else:
        parent[last] = value
    return doc


def edit_text(text: str, edit) -> str:
    if edit is None:
        return text
    lines = text.splitlines(keepends=True)
    if edit[0] == "cut":
        return text[: int(edit[1] * len(text))]
    if edit[0] == "repeat-line":
        i = int(edit[1] * len(lines))
        return "".join(lines[: i + 1] + lines[i:])
    if edit[0] == "bomb":
        bomb = ["b0: &b0 [x, x, x, x, x, x, x, x, x, x]\n"]
        bomb += [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]\n" for i in range(1, edit[1])]
        return text + "".join(bomb)
    pos = int(edit[1] * len(text))
    return text[:pos] + edit[2] + text[pos:]


def dump(doc) -> str:
    try:
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:  # e.g. a value yaml cannot represent: write its repr instead
        return repr(doc)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A project folder with every file the valid pipelines name."""
    import torch

    root = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(0)
    np.savez(
        root / "data.npz", x=rng.normal(size=(60, 1, 8)).astype(np.float32), y=np.arange(60) % 3
    )
    torch.save(teacher_state(), root / "t.pt")
    (root / "t.onnx").write_bytes(onnx_model().SerializeToString())
    (root / "my-target.yaml").write_text(yaml.safe_dump(TARGET))
    (root / "known_hosts").write_text("")
    return root


def outcome(load, path: Path) -> str:
    """'ok' or 'refused'; anything else escapes and fails the property."""
    try:
        load(path)
    except EdgeKDError as exc:
        message = str(exc)
        assert message.strip() and "\n" not in message, message
        event(f"refused: {type(exc).__name__}")
        return "refused"
    event("loaded")
    return "ok"


def load_whole_pipeline(path: Path) -> None:
    cfg = load_pipeline(path)
    load_targets(cfg.targets, path)


BASES = [PIPELINE, TINY, MULTI_TEACHER]


@FUZZ
@given(st.sampled_from(range(len(BASES))), st.lists(mutation, min_size=1, max_size=4), text_edit)
def test_mutated_pipelines_load_or_fail_with_one_paragraph(folder, base, ops, edit):
    doc = copy.deepcopy(BASES[base])
    for op in ops:
        if isinstance(doc, dict):
            doc = mutate(doc, op)
    (folder / "fuzz.yaml").write_text(edit_text(dump(doc), edit))
    outcome(load_whole_pipeline, folder / "fuzz.yaml")


@FUZZ
@given(st.lists(mutation, min_size=1, max_size=4), text_edit)
def test_mutated_targets_load_or_fail_with_one_paragraph(folder, ops, edit):
    doc = copy.deepcopy(TARGET)
    for op in ops:
        if isinstance(doc, dict):
            doc = mutate(doc, op)
    (folder / "fuzz-target.yaml").write_text(edit_text(dump(doc), edit))
    outcome(lambda p: load_target(str(p)), folder / "fuzz-target.yaml")


CLI_SAMPLE = 40


def test_a_sample_of_refused_inputs_exits_2_through_the_cli(folder, tmp_path):
    """The refused inputs of a short derandomized run, each through `edgekd run` in its own
    process (tests/bad_inputs/forkrun.py): exit 2, one `error:` paragraph, no traceback."""
    texts: list[str] = []

    @settings(FUZZ, max_examples=CLI_SAMPLE * 3)
    @given(
        st.sampled_from(range(len(BASES))), st.lists(mutation, min_size=1, max_size=3), text_edit
    )
    def collect(base, ops, edit):
        doc = copy.deepcopy(BASES[base])
        for op in ops:
            if isinstance(doc, dict):
                doc = mutate(doc, op)
        path = folder / "sample.yaml"
        path.write_text(edit_text(dump(doc), edit))
        if len(texts) < CLI_SAMPLE and outcome(load_whole_pipeline, path) == "refused":
            texts.append(path.read_text())

    collect()
    assert len(texts) >= CLI_SAMPLE // 2
    specs = []
    for i, text in enumerate(texts):
        case = tmp_path / f"case{i}"
        case.mkdir()
        for f in ("data.npz", "t.pt", "t.onnx", "my-target.yaml", "known_hosts"):
            (case / f).write_bytes((folder / f).read_bytes())
        (case / "pipeline.yaml").write_text(text)
        specs.append({"id": str(i), "cwd": str(case), "argv": ["run", "pipeline.yaml", "-q"]})
    (tmp_path / "cases.json").write_text(json.dumps(specs))
    driver = REPO / "tests" / "bad_inputs" / "forkrun.py"
    results = tmp_path / "results.json"
    subprocess.run(
        [sys.executable, str(driver), str(tmp_path / "cases.json"), str(results)],
        cwd=REPO,
        check=True,
        timeout=900,
    )
    for res, text in zip(json.loads(results.read_text()), texts):
        err = res["stderr"]
        assert res["returncode"] == 2 and "Traceback" not in err, (text, err)
        assert err.startswith("error:") and err.count("error:") == 1, (text, err)


byte_edit = st.tuples(
    st.sampled_from(["set", "delete", "insert", "cut"]),
    st.floats(0, 1, exclude_max=True),
    st.binary(min_size=1, max_size=8),
)


@settings(FUZZ, max_examples=200)
@given(st.booleans(), st.lists(byte_edit, min_size=1, max_size=4))
def test_damaged_npz_files_load_or_fail_with_a_data_error(folder, compressed, edits):
    """Bytes of a valid .npz set, deleted, inserted or cut: the dataset loads and passes
    its checks, or fails with a DataError (never zlib, zipfile or numpy's own errors)."""
    from edgekd.data import DATASETS, check_raw
    from edgekd.errors import DataError

    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(30, 1, 8)).astype(np.float32), "y": np.arange(30) % 3}
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    data = bytearray(buf.getvalue())
    for kind, where, chunk in edits:
        pos = int(where * len(data))
        if kind == "set":
            data[pos : pos + len(chunk)] = chunk
        elif kind == "delete":
            del data[pos : pos + len(chunk) * 8]
        elif kind == "insert":
            data[pos:pos] = chunk
        else:
            del data[pos:]
    path = folder / "damaged.npz"
    path.write_bytes(bytes(data))
    npz = DATASETS.get("npz")
    try:
        check_raw(npz.load(npz.parse_options({"path": str(path)})), "npz")
    except DataError as exc:
        assert "\n" not in str(exc)
        event("refused")
    else:
        event("loaded")
