"""Nothing edgekd loads from a user's files can run code: a source audit of the package.

The corpus in test_bad_inputs.py shows the behaviour (a pickled-code checkpoint is refused and
its code never runs, a `!!python` YAML tag is rejected, a tampered bundle is refused before it
is loaded); this test keeps the code base from growing a new unsafe call.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "edgekd"
SOURCES = sorted(PACKAGE.rglob("*.py"))

FORBIDDEN = {
    r"shell\s*=\s*True": "subprocess with a shell",
    r"allow_pickle\s*=\s*True": "numpy loading pickles",
    r"weights_only\s*=\s*False": "torch.load unpickling arbitrary objects",
    r"\byaml\.(load|unsafe_load|full_load)\(": "YAML loader that can build Python objects",
    r"\byaml\.(Unsafe|Full)?Loader\b": "YAML loader that can build Python objects",
    r"\b(pickle|cPickle|dill|joblib)\.loads?\(": "unpickling",
    r"(?<![.\w])(eval|exec)\(": "evaluating strings as code",
    r"\bos\.system\(": "shell command",
}


def _calls(text: str, name: str) -> list[str]:
    """The full text of every call to `name(...)`, brackets balanced."""
    out = []
    for m in re.finditer(re.escape(name) + r"\(", text):
        depth, i = 0, m.end() - 1
        while i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        out.append(text[m.start() : i + 1])
    return out


def test_the_audit_sees_the_package():
    assert len(SOURCES) > 20 and any(p.as_posix().endswith("stages/train.py") for p in SOURCES)


@pytest.mark.parametrize("pattern", FORBIDDEN, ids=list(FORBIDDEN.values()))
def test_no_unsafe_call(pattern):
    hits = [
        f"{p.relative_to(PACKAGE.parent)}:{n}: {line.strip()}"
        for p in SOURCES
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(pattern, line) and not line.lstrip().startswith("#")
    ]
    assert not hits, f"{FORBIDDEN[pattern]}:\n" + "\n".join(hits)


@pytest.mark.parametrize(
    "call, required",
    [("torch.load", "weights_only=True"), ("np.load", "allow_pickle=False")],
)
def test_every_load_is_explicitly_safe(call, required):
    bad = [
        f"{p.relative_to(PACKAGE.parent)}: {c}"
        for p in SOURCES
        for c in _calls(p.read_text(), call)
        if required not in c.replace(" ", "")
    ]
    assert not bad, f"{call} without {required}:\n" + "\n".join(bad)


def test_the_audit_catches_what_it_looks_for():
    """The patterns are live: each flags a line that does the unsafe thing."""
    samples = [
        "subprocess.run(cmd, shell=True)",
        "np.load(f, allow_pickle=True)",
        "torch.load(f, weights_only=False)",
        "yaml.load(text)",
        "yaml.Loader",
        "pickle.load(f)",
        "eval(text)",
        "os.system(cmd)",
    ]
    for sample, pattern in zip(samples, FORBIDDEN):
        assert re.search(pattern, sample), (pattern, sample)
    assert _calls("x = torch.load(p, map_location='cpu')", "torch.load") == [
        "torch.load(p, map_location='cpu')"
    ]


def test_random_bytes_as_checkpoint_are_always_a_checkpoint_error(tmp_path):
    """Junk makes torch's weights-only unpickler fail in many ways; each is one clear error."""
    import random

    import pytest

    from edgekd.errors import CheckpointError
    from edgekd.models.checkpoint import read_state_dict

    rng = random.Random(0)
    path = tmp_path / "junk.pt"
    for _ in range(200):
        path.write_bytes(bytes(rng.getrandbits(8) for _b in range(rng.choice([1, 7, 64, 512]))))
        with pytest.raises(CheckpointError, match="corrupt|refused|state_dict"):
            read_state_dict(path)


TEMPLATES = sorted((PACKAGE / "deploy" / "templates").glob("predict_*.py"))
GUARD = "sys.path.pop(0)"


def test_the_audit_sees_every_predict_template():
    assert {p.name for p in TEMPLATES} >= {"predict_onnxruntime.py", "predict_tensorrt.py"}


@pytest.mark.parametrize("template", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_predict_templates_leave_their_folder_before_importing_and_check_first(template):
    """A bundle's predict.py: `import sys`, drop the script's folder from sys.path, and the
    bundle check copied in, before any other import; the runtime only inside functions."""
    import ast

    lines = template.read_text().splitlines()
    body = ast.parse(template.read_text()).body[1:]  # after the docstring
    assert isinstance(body[0], ast.Import) and body[0].names[0].name == "sys"
    guard = next(i for i, line in enumerate(lines) if GUARD in line)
    first_other_import = next(
        i for i, line in enumerate(lines) if line.startswith(("import ", "from ")) and i > guard
    )
    include = lines.index("# @include deploy/bundlecheck.py")
    assert guard < first_other_import < include
    assert lines[first_other_import].startswith("import os")
    top_imports = [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name.split(".")[0] for n in top_imports for a in n.names}
    assert names <= {"sys", "os"}, names  # numpy and the runtime load after the check


def test_the_bundle_check_follows_no_links():
    """Every file the check opens goes through _regular_fd (O_NOFOLLOW, regular files only)."""
    text = (PACKAGE / "deploy" / "bundlecheck.py").read_text()
    assert text.count("os.open(") == 1 and "O_NOFOLLOW" in text
    assert "open(path" not in text.replace("os.open(path", "")
