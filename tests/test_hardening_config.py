"""Issue 15 on the config side: bounded YAML, finite numbers, ranges, hosts, unique targets,
and every relative path resolved against the YAML file that names it."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import yaml

from edgekd.config.checks import max_export_opset
from edgekd.config.load import PACKAGE_ROOT, load_pipeline, load_target, load_targets
from edgekd.config.yamlread import MAX_DEPTH, YamlLimitError, load_text
from edgekd.errors import ConfigError


def write(path, data) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False))


# ---------------------------------------------------------------- the YAML reader


def test_duplicate_key_names_the_key_and_both_lines():
    with pytest.raises(
        YamlLimitError, match=r"duplicate key 'b' at line 3 \(first given at line 2\)"
    ):
        load_text("a: 1\nb: 2\nb: 3\n")


def test_duplicates_in_nested_mappings_and_equal_keys_of_other_spellings():
    with pytest.raises(YamlLimitError, match="duplicate key 'lr'"):
        load_text("train:\n  lr: 1\n  lr: 2\n")
    with pytest.raises(YamlLimitError, match="duplicate key"):
        load_text("1: a\n0x1: b\n")  # one int key, spelt twice


def test_merge_keys_may_be_overridden():
    assert load_text("base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n")["use"] == {"x": 1, "y": 3}


def test_dates_stay_strings_and_non_plain_tags_are_refused():
    assert load_text("name: 2024-01-01\n") == {"name": "2024-01-01"}
    for tag in ("!!set {a: null}", "!!binary aGk=", "!!omap [a: 1]", "!!timestamp 2024-01-01"):
        with pytest.raises(yaml.YAMLError, match="not plain data"):
            load_text(f"x: {tag}\n")


def test_billion_laughs_is_refused_in_milliseconds():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    start = time.process_time()
    with pytest.raises(YamlLimitError, match="expands to more than"):
        load_text("\n".join(lines))
    assert time.process_time() - start < 5  # generous: the point is "not hours"


def test_aliases_within_the_bound_still_work():
    doc = load_text("a: &a {lr: 0.1}\nb: *a\nc: *a\n")
    assert doc["b"] == doc["c"] == {"lr": 0.1}


def test_depth_bound_and_self_reference():
    ok = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    load_text(ok)
    with pytest.raises(YamlLimitError, match="nested more than"):
        load_text("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(YamlLimitError, match="alias"):
        load_text("&a [1, *a]")


@pytest.mark.parametrize(
    "text,needle",
    [
        ("x: " + "[" * 5000 + "]" * 5000, "nested too deeply"),
        ("x: " + "7" * 5000, "a value cannot be read"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("x: !!python/object/apply:os.system ['true']", "malformed YAML"),
    ],
)
def test_read_yaml_turns_every_failure_into_one_config_error(tmp_path, text, needle):
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(ConfigError, match=needle) as err:
        load_pipeline(tmp_path / "p.yaml")
    assert "\n" not in str(err.value)


def test_size_bound_and_paths_that_are_not_files(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("name: x\n" + "#" * (1 << 21))
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        load_pipeline(big)
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        load_pipeline(tmp_path / "dir.yaml")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_target(str(_fifo(tmp_path)))


def _fifo(tmp_path):
    import os

    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


def test_a_huge_key_or_value_is_cut_short_in_the_message(tiny_config, write_pipeline):
    tiny_config["x" * 10_000] = 1
    tiny_config["teacher"]["train"]["lr"] = "y" * 10_000
    with pytest.raises(ConfigError) as err:
        load_pipeline(write_pipeline(tiny_config))
    assert len(str(err.value)) < 1500


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "path,value",
    [
        (("teacher", "train", "lr"), float("inf")),
        (("teacher", "train", "lr"), "nan"),
        (("data", "val_fraction"), float("nan")),
        (("data", "options", "train_split"), float("nan")),  # a dataset's Options
        (("teacher", "options", "channels"), [16, float("inf")]),  # a model's Options
        (("students", 0, "distill", "losses", 0, "options", "temperature"), "-inf"),
        (("students", 0, "distill", "ce_weight"), float("inf")),
        (("profile", "max_time_s"), float("inf")),
    ],
)
def test_non_finite_numbers_are_refused_wherever_a_float_goes(
    tiny_config, write_pipeline, path, value
):
    node = tiny_config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match="finite|valid integer") as err:
        load_pipeline(write_pipeline(tiny_config))
    assert path[-1] in str(err.value)


def test_ints_beyond_64_bits_seed_and_opset_ranges(tiny_config, write_pipeline):
    for path, value, needle in [
        (("teacher", "train", "epochs"), 2**64, "64-bit"),
        (("seed",), 2**32, "seed"),
        (("seed",), -1, "seed"),
        (("data", "options", "seed"), -5, "seed"),
        (("export",), {"opset": max_export_opset() + 1}, "export.opset"),
        (("export",), {"opset": 12}, "export.opset"),
    ]:
        cfg = copy.deepcopy(tiny_config)
        node = cfg
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        with pytest.raises(ConfigError, match=needle):
            load_pipeline(write_pipeline(cfg))
    tiny_config["seed"] = 2**32 - 1
    tiny_config["export"] = {"opset": max_export_opset()}
    load_pipeline(write_pipeline(tiny_config))


def test_cli_seed_override_is_range_checked(tiny_config, write_pipeline):
    with pytest.raises(ConfigError, match="seed"):
        load_pipeline(write_pipeline(tiny_config), seed=2**40)


# ---------------------------------------------------------------- targets


@pytest.mark.parametrize(
    "host",
    [
        "local",
        "ssh://pi@raspberrypi.local",
        "ssh://me@10.0.0.5:2222",
        "ssh://board",
        "ssh://u@[::1]:22",
    ],
)
def test_well_formed_hosts_load(tmp_path, host):
    write(tmp_path / "t.yaml", {"name": "t", "runtime": "onnxruntime", "host": host})
    assert load_target(str(tmp_path / "t.yaml")).host == host


@pytest.mark.parametrize(
    "host",
    [
        "ssh://",
        "ssh://pi@",
        "ssh://pi@host:0",
        "ssh://pi@host:65536",
        "ssh://pi@host:port",
        "ssh://-oProxyCommand=x@h",
        "ssh://pi@-host",
        "ssh://pi:secret@host",
        "ssh://pi@host/path",
        "ssh://pi@ho st",
        "pi@host",
        "remote",
        "",
    ],
)
def test_malformed_hosts_fail_at_load_naming_the_key(tmp_path, host):
    write(tmp_path / "t.yaml", {"name": "t", "runtime": "onnxruntime", "host": host})
    with pytest.raises(ConfigError, match="host"):
        load_target(str(tmp_path / "t.yaml"))


def test_target_names_must_be_unique(tmp_path):
    for f in ("a.yaml", "b.yaml"):
        write(tmp_path / f, {"name": "same", "runtime": "onnxruntime"})
    with pytest.raises(ConfigError, match="two targets are named 'same'"):
        load_targets([str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")])
    with pytest.raises(ConfigError, match="unique"):
        load_targets(["cpu-onnxruntime", "cpu-onnxruntime"])
    assert [t.name for t in load_targets(["cpu-onnxruntime", str(tmp_path / "a.yaml")])] == [
        "cpu-onnxruntime",
        "same",
    ]


def test_shipped_pipelines_and_targets_still_load():
    for path in sorted((PACKAGE_ROOT / "pipelines").glob("*.yaml")):
        load_pipeline(path)
    for path in sorted((PACKAGE_ROOT / "targets").glob("*.yaml")):
        load_target(str(path))


# ---------------------------------------------------------------- relative paths


def test_every_relative_path_resolves_against_the_pipeline_folder(tmp_path, monkeypatch):
    import torch
    from bad_inputs.cases import onnx_model, teacher_state

    sub = tmp_path / "project"
    sub.mkdir()
    np.savez(sub / "data.npz", x=np.zeros((20, 1, 8), np.float32), y=np.arange(20) % 2)
    torch.save(teacher_state(), sub / "t.pt")
    (sub / "t.onnx").write_bytes(onnx_model().SerializeToString())
    write(sub / "my-target.yaml", {"name": "mine", "runtime": "onnxruntime"})
    cfg = {
        "name": "p",
        "data": {"dataset": "npz", "options": {"path": "data.npz"}},
        "teachers": [
            {"model": "mlp", "options": {"hidden": [8]}, "checkpoint": "t.pt"},
            {"onnx": "t.onnx"},
        ],
        "students": [{"name": "s", "model": "mlp", "distill": {"losses": [{"name": "kd"}]}}],
        "targets": ["my-target.yaml", "cpu-onnxruntime"],
    }
    write(sub / "pipeline.yaml", cfg)
    monkeypatch.chdir(tmp_path)  # not the pipeline's folder
    loaded = load_pipeline(sub / "pipeline.yaml")
    assert loaded.data.options.path == sub / "data.npz"
    assert loaded.teachers[0].checkpoint == sub / "t.pt"
    assert loaded.teachers[1].onnx == sub / "t.onnx"
    assert [t.name for t in load_targets(loaded.targets, sub / "pipeline.yaml")] == [
        "mine",
        "cpu-onnxruntime",
    ]


def test_target_ssh_files_resolve_against_the_target_folder(tmp_path, monkeypatch):
    (tmp_path / "keys").mkdir()
    target = {"name": "t", "runtime": "onnxruntime", "host": "ssh://pi@pi.local"}
    target["ssh"] = {"known_hosts": "keys/known_hosts", "identity": "~/.ssh/id_ed25519"}
    write(tmp_path / "t.yaml", target)
    monkeypatch.chdir("/")
    loaded = load_target(str(tmp_path / "t.yaml"))
    assert loaded.ssh.known_hosts == tmp_path / "keys" / "known_hosts"
    assert loaded.ssh.identity.is_absolute() and "~" not in str(loaded.ssh.identity)


def test_a_message_quoting_markup_like_text_still_exits_2(tmp_path, cli):
    (tmp_path / "p.yaml").write_text('name: x\n"[/x]": 1\nstudents: []\n')
    res = cli("run", tmp_path / "p.yaml", "--out", tmp_path / "run")
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert "[/x]" in res.stderr  # printed as text, not read as markup
    assert "[/x]" in res.stderr


def test_messages_quoting_control_characters_stay_one_line(tiny_config, write_pipeline):
    tiny_config["teacher"]["model"] = "res\nnet\x00"
    with pytest.raises(ConfigError) as err:
        load_pipeline(write_pipeline(tiny_config))
    assert "\n" not in str(err.value) and "res\\nnet\\x00" in str(err.value)
