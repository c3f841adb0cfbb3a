"""Models from the user's code: `file.py:fn` and `package.module:fn`, their errors, the
checkpoint key check, and cache keys that follow the file's content."""

from __future__ import annotations

import pytest
import torch
import yaml
from conftest import TINY

from edgekd.config.load import load_pipeline
from edgekd.errors import CheckpointError, ConfigError
from edgekd.models import build_model, family_of

NET = """
import torch.nn as nn


def build(num_classes, input_shape, hidden=8):
    c, l = input_shape
    return nn.Sequential(nn.Flatten(), nn.Linear(c * l, hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))


def helper():
    pass


def fails(num_classes):
    x = 1
    raise RuntimeError("width must be even")


def not_a_model(num_classes):
    return nn.Linear
"""


def write(tmp_path, cfg: dict, code: str = NET):
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "models" / "net.py").write_text(code)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def student(model: str, **options) -> dict:
    s = dict(TINY["students"][0])
    return s | {"model": model, "options": options}


def test_a_student_from_a_file_resolves_against_the_pipeline(tmp_path):
    cfg = TINY | {"students": [student("models/net.py:build", hidden=5)]}
    loaded = load_pipeline(write(tmp_path, cfg))
    s = loaded.students[0]
    assert s.model == "models/net.py:build"  # as written, for the report
    assert s.options.factory.file == tmp_path / "models" / "net.py"
    assert s.options.kwargs == {"hidden": 5}
    model = build_model(s.model, s.options, (1, 40), 10)
    assert model[1].out_features == 5 and model(torch.zeros(2, 1, 40)).shape == (2, 10)


def test_a_module_path_names_an_installed_module():
    model = build_model("edgekd.models.zoo.user:example_net", {"hidden": 3}, (4,), 2)
    assert model[1].out_features == 3
    model = build_model("user", {"factory": "edgekd.models.zoo.user:example_net"}, (4,), 2)
    assert model(torch.zeros(1, 4)).shape == (1, 2)


@pytest.mark.parametrize(
    "model, needle",
    [
        ("models/net.py:make", "Callables it defines: build, fails, helper, not_a_model"),
        ("models/none.py:build", "does not exist"),
        ("edgekd_no_such_pkg:build", "no module 'edgekd_no_such_pkg'"),
        ("models/net.py:build:x", "neither a .py file"),
    ],
)
def test_config_load_names_the_key_for_a_bad_reference(tmp_path, model, needle):
    cfg = TINY | {"students": [student(model)]}
    with pytest.raises(ConfigError, match="students\\[0\\].model") as err:
        load_pipeline(write(tmp_path, cfg))
    assert needle in str(err.value)


def test_an_import_error_shows_the_users_exception_and_line(tmp_path):
    code = "import math\n\nvalue = math.sqrt(-1)\n"
    with pytest.raises(ConfigError) as err:
        load_pipeline(write(tmp_path, TINY | {"students": [student("models/net.py:b")]}, code))
    text = str(err.value)
    assert "ValueError: math domain error" in text and "net.py:3" in text


@pytest.mark.parametrize(
    "fn, needle",
    [
        ("fails", "raised RuntimeError: width must be even"),
        ("not_a_model", "returned type, not a torch.nn.Module"),
    ],
)
def test_factories_that_fail_are_one_message_naming_the_key(tmp_path, fn, needle):
    from edgekd.stages.models import check_model_inputs

    cfg = load_pipeline(write(tmp_path, TINY | {"students": [student(f"models/net.py:{fn}")]}))
    splits = _splits()
    with pytest.raises(ConfigError, match="students\\[0\\].model") as err:
        check_model_inputs(cfg, splits)
    assert needle in str(err.value)
    if fn == "fails":
        assert "net.py:fails raised" in str(err.value) and "net.py:17)" in str(err.value)


def test_a_wrong_number_of_outputs_is_caught_before_training(tmp_path):
    from edgekd.stages.models import check_model_inputs

    code = NET.replace("nn.Linear(hidden, num_classes)", "nn.Linear(hidden, 3)")
    cfg = load_pipeline(
        write(tmp_path, TINY | {"students": [student("models/net.py:build")]}, code)
    )
    with pytest.raises(ConfigError, match="outputs shape \\(2, 3\\).*10 classes"):
        check_model_inputs(cfg, _splits())


def test_the_model_code_enters_the_training_keys_by_content(tmp_path):
    from edgekd.stages.models import code_digests

    path = write(tmp_path, TINY | {"students": [student("models/net.py:build")]})
    before = code_digests(load_pipeline(path).students[0], "students[0].model")
    assert before[0][0].endswith("net.py")
    (tmp_path / "models" / "net.py").write_text(NET + "\n# tuned\n")
    after = code_digests(load_pipeline(path).students[0], "students[0].model")
    assert before != after
    assert code_digests(load_pipeline(path).teacher, "teacher.model") == []  # a zoo model


def test_a_checkpoint_with_other_keys_lists_a_few_of_each(tmp_path):
    from edgekd.models.checkpoint import load_weights

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as err:
        load_weights(model, state, tmp_path / "t.pt", "teacher model 'x'", "teacher.model")
    text = str(err.value)
    assert "4 missing key(s): 0.weight, 0.bias, 1.weight, 1.bias" in text
    assert "4 unexpected key(s): module.0.weight" in text and "module." in text
    with pytest.raises(CheckpointError, match="size mismatch"):
        load_weights(model, {"0.weight": torch.zeros(3, 2)}, tmp_path / "t.pt", "x", "y")


def test_user_family_is_what_a_code_reference_names():
    assert family_of("a/b.py:f").__name__ == "UserModel"
    assert family_of("pkg.mod:f").__name__ == "UserModel"
    assert family_of("mlp").__name__ == "MLP"


def _splits():
    from edgekd.data import DATASETS, make_splits

    plugin = DATASETS.get("mnist1d")
    return make_splits(plugin.load(plugin.Options(num_samples=200)), 0.1, 8, 0)


def test_editing_the_students_file_retrains_it_and_nothing_else(tmp_path):
    """Through the CLI: the same file is cached; a changed file retrains the models built
    from it (their keys hold its content), while the teacher is reused."""
    from conftest import run_cli

    cfg = TINY | {"students": [student("models/net.py:build", hidden=6)], "targets": []}
    cfg["data"] = cfg["data"] | {"options": {"num_samples": 300}}
    path = write(tmp_path, cfg)

    def marks() -> dict[str, str]:
        res = run_cli("run", path, "--out", tmp_path / "run", cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        return {
            line.split()[1]: line.split()[0]
            for line in res.stderr.splitlines()
            if line.startswith(("[done]", "[cached]"))
        }

    first = marks()
    assert set(first.values()) == {"[done]"}
    assert set(marks().values()) == {"[cached]"}
    (tmp_path / "models" / "net.py").write_text(NET + "\n# a comment is a change too\n")
    third = marks()
    assert third["teacher"] == "[cached]" and third["data"] == "[cached]"
    assert third["mlp-t"] == third["mlp-t-scratch"] == "[done]"
