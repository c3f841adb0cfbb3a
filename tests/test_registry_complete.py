"""Every registered loss is tested, documented and listed by `edgekd methods`.

The tested names are read from the LOSS_NAMES tuple of each tests/test_losses_*.py module
(the same tuples that parametrize those modules' tests), not from a hand-kept list here.
"""

from __future__ import annotations

import os

import pytest
from losslib import golden_cases, loss_names_under_test

from edgekd.distill.losses import LOSSES, DistillLoss

KINDS = {"response", "feature", "relation"}


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_has_tests_and_golden_values(name):
    assert name in loss_names_under_test(), f"loss '{name}' is not in any LOSS_NAMES"
    assert golden_cases([name]), f"loss '{name}' has no golden value in loss_golden.json"


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_documents_itself(name):
    cls = LOSSES.get(name)
    assert issubclass(cls, DistillLoss)
    assert cls.kind in KINDS
    assert cls.description.strip() and cls.paper.strip()
    assert any(ch.isdigit() for ch in cls.paper), "paper should carry its year"
    assert cls.Options.model_config.get("extra") == "forbid"


def test_no_tested_name_is_stale():
    assert set(loss_names_under_test()) <= set(LOSSES.names())


def test_methods_lists_every_loss(cli, monkeypatch):
    monkeypatch.setitem(os.environ, "COLUMNS", "300")
    res = cli("methods")
    assert res.returncode == 0, res.stderr
    rows = {line.split("│")[1].strip() for line in res.stdout.splitlines() if "│" in line}
    for name in LOSSES.names():
        assert name in rows, f"`edgekd methods` does not list '{name}'"
        assert LOSSES.get(name).paper.split(".")[0] in res.stdout
