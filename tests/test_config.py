"""Config errors name the file, the key path and the valid choices; the CLI exits 2."""

from __future__ import annotations

import pytest

from edgekd.config.load import load_pipeline, load_target
from edgekd.errors import ConfigError


def test_quickstart_loads():
    from edgekd.config.load import PACKAGE_ROOT

    cfg = load_pipeline(PACKAGE_ROOT / "pipelines" / "quickstart.yaml")
    assert cfg.students[0].distill.losses[0].name == "kd"


def test_misspelt_top_level_key_names_closest(tiny_config, write_pipeline):
    tiny_config["studnets"] = tiny_config.pop("students")
    path = write_pipeline(tiny_config)
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "unknown key 'studnets'" in msg
    assert "did you mean 'students'" in msg


def test_misspelt_nested_key_names_path(tiny_config, write_pipeline):
    tiny_config["students"][0]["train"]["epoch"] = 3
    with pytest.raises(ConfigError) as err:
        load_pipeline(write_pipeline(tiny_config))
    msg = str(err.value)
    assert "students[0].train.epoch" in msg
    assert "did you mean 'epochs'" in msg


def test_plugin_option_typo(tiny_config, write_pipeline):
    tiny_config["students"][0]["options"] = {"hiden": [8]}
    with pytest.raises(ConfigError) as err:
        load_pipeline(write_pipeline(tiny_config))
    assert "students[0].options.hiden" in str(err.value)
    assert "did you mean 'hidden'" in str(err.value)


def test_loss_option_typo(tiny_config, write_pipeline):
    tiny_config["students"][0]["distill"]["losses"][0]["options"] = {"temprature": 2}
    with pytest.raises(ConfigError) as err:
        load_pipeline(write_pipeline(tiny_config))
    assert "did you mean 'temperature'" in str(err.value)


@pytest.mark.parametrize(
    "path,value,needle",
    [
        (("teacher", "train", "epochs"), -1, "teacher.train.epochs"),
        (("teacher", "train", "lr"), "fast", "teacher.train.lr"),
        (("teacher", "model"), "resnet9000", "Unknown model 'resnet9000'"),
        (("data", "dataset"), "mnist2d", "did you mean 'mnist1d'"),
        (("students", 0, "name"), "../escape", "students[0].name"),
    ],
)
def test_bad_values(tiny_config, write_pipeline, path, value, needle):
    node = tiny_config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError) as err:
        load_pipeline(write_pipeline(tiny_config))
    assert needle in str(err.value)


def test_malformed_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nteacher: [unclosed\n")
    with pytest.raises(ConfigError, match="malformed YAML at line"):
        load_pipeline(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_pipeline(tmp_path / "nope.yaml")


def test_missing_checkpoint(tiny_config, write_pipeline):
    tiny_config["teacher"]["checkpoint"] = "missing.pt"
    with pytest.raises(ConfigError, match="teacher.checkpoint"):
        load_pipeline(write_pipeline(tiny_config))


def test_unknown_target_lists_valid():
    with pytest.raises(ConfigError) as err:
        load_target("cpu-onnxruntme")
    assert "did you mean 'cpu-onnxruntime'" in str(err.value)


def test_cli_misspelt_key_exits_2_without_traceback(tiny_config, write_pipeline, cli, tmp_path):
    tiny_config["teacher"]["trian"] = tiny_config["teacher"].pop("train")
    res = cli("run", write_pipeline(tiny_config), "--out", tmp_path / "run")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "unknown key 'trian'" in res.stderr and "train" in res.stderr
    assert not (tmp_path / "run").exists()
