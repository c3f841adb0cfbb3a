"""edgekd's import graph has no cycles, counting imports inside functions too.

Lazy imports keep start-up fast, but a cycle through them still ties two modules together:
neither can change or be tested alone, and the stage cache keys (edgekd.codegraph) would
cover both whenever either runs.
"""

from __future__ import annotations

from edgekd import codegraph


def test_no_import_cycles():
    assert codegraph.import_cycles() == []


def test_the_graph_sees_function_level_imports():
    """A lazy import inside a function is an edge (otherwise the check above proves little)."""
    assert "edgekd.profile.isolate" in codegraph.direct_imports(
        "edgekd.stages.profile", implicit=False
    )


def test_a_cycle_is_found(tmp_path):
    pkg = tmp_path / "edgekd"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from edgekd import b\n")
    (pkg / "b.py").write_text("import edgekd.a\n")
    codegraph.direct_imports.cache_clear()
    assert codegraph.import_cycles(pkg) == [["edgekd.a", "edgekd.b"]]
