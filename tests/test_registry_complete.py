"""Every registered loss is tested, documented and listed by `edgekd methods`.

The loss tests read their names from the registry (tests/test_losses_<kind>.py covers every
loss of its kind), so what is left to force here is a test module per kind, golden values
for every loss, and the documentation each loss carries.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from losslib import LAYOUTS, golden_cases

from edgekd.distill.losses import LOSSES, DistillLoss

KINDS = set(LAYOUTS)


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_has_tests_and_golden_values(name):
    kind = LOSSES.get(name).kind
    assert (Path(__file__).parent / f"test_losses_{kind}.py").is_file(), kind
    assert golden_cases([name]), f"loss '{name}' has no golden value in loss_golden.json"


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_documents_itself(name):
    cls = LOSSES.get(name)
    assert issubclass(cls, DistillLoss)
    assert cls.kind in KINDS
    assert cls.description.strip() and cls.paper.strip()
    assert any(ch.isdigit() for ch in cls.paper), "paper should carry its year"
    assert cls.Options.model_config.get("extra") == "forbid"
    for example in cls.examples:
        cls.parse_options(example)  # every declared example is valid


def test_methods_lists_every_loss(cli, monkeypatch):
    monkeypatch.setitem(os.environ, "COLUMNS", "300")
    res = cli("methods")
    assert res.returncode == 0, res.stderr
    rows = {line.split("│")[1].strip() for line in res.stdout.splitlines() if "│" in line}
    for name in LOSSES.names():
        assert name in rows, f"`edgekd methods` does not list '{name}'"
        assert LOSSES.get(name).paper.split(".")[0] in res.stdout
