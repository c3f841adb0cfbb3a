"""Stage outputs are content-addressed and appear atomically."""

from __future__ import annotations

import pytest

from edgekd.store import StageStore


def _write(value):
    def fn(folder):
        (folder / "out.txt").write_text(value)
        return {"value": value}

    return fn


def test_same_inputs_reuse_output(tmp_path):
    store = StageStore(tmp_path)
    a = store.run("k", "lbl", {"x": 1}, {}, _write("a"))
    b = store.run("k", "lbl", {"x": 1}, {}, _write("different"))
    assert not a.cached and b.cached
    assert a.path == b.path and (b.path / "out.txt").read_text() == "a"


def test_config_change_gives_new_key(tmp_path):
    store = StageStore(tmp_path)
    a = store.run("k", "lbl", {"x": 1}, {}, _write("a"))
    b = store.run("k", "lbl", {"x": 2}, {}, _write("b"))
    assert a.path != b.path and not b.cached


def test_input_hash_change_gives_new_key(tmp_path):
    store = StageStore(tmp_path)
    up1 = store.run("up", "up", {"v": 1}, {}, _write("1"))
    up2 = store.run("up", "up", {"v": 2}, {}, _write("2"))
    assert up1.content_hash != up2.content_hash
    d1 = store.run("down", "down", {}, {"up": up1}, _write("x"))
    d2 = store.run("down", "down", {}, {"up": up2}, _write("x"))
    assert d1.path != d2.path


def test_key_depends_on_code_version(tmp_path, monkeypatch):
    import edgekd

    store = StageStore(tmp_path)
    k1 = store.key("k", {"x": 1}, {})
    monkeypatch.setattr(edgekd, "__version__", "9.9.9")
    assert store.key("k", {"x": 1}, {}) != k1


def test_crash_leaves_no_complete_folder(tmp_path):
    store = StageStore(tmp_path)

    def boom(folder):
        (folder / "half.txt").write_text("half")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        store.run("k", "lbl", {}, {}, boom)
    visible = [p.name for p in (tmp_path / "stages").iterdir() if not p.name.startswith(".")]
    assert visible == []
    again = store.run("k", "lbl", {}, {}, _write("ok"))
    assert (again.path / "stage.json").is_file() and not again.cached
