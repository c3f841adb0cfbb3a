"""Docs that list plugins are generated from the registries and kept current."""

from __future__ import annotations

from conftest import REPO

from edgekd import catalog


def test_plugins_md_is_current():
    current = (REPO / "docs" / "plugins.md").read_text()
    assert current == catalog.markdown(), "run: python scripts/gen_plugin_docs.py"


def test_every_plugin_is_documented_with_its_options():
    text = catalog.markdown()
    for registry in catalog.registries().values():
        for doc in catalog.plugin_docs(registry):
            assert f"### `{doc.name}`" in text and doc.description.strip()
            for opt in doc.options:
                assert f"| `{opt.name}` |" in text


def test_type_text_reads_like_python():
    from typing import Literal, Optional

    assert catalog.type_text(list[int]) == "list[int]"
    assert catalog.type_text(Literal["a", "b"]) == "'a' | 'b'"
    assert catalog.type_text(Optional[float]) == "float | None"
    assert catalog.type_text(int | None) == "int | None"
