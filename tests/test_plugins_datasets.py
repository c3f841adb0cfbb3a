"""Every registered dataset loads its examples, passes check_raw and runs as a data stage.

Datasets and options come from the registry and each dataset's `example_options` (datasets
that read the user's files write small ones); the checks are shared with the
throwaway-plugin test (tests/pluginlib.py).
"""

from __future__ import annotations

import pytest
from pluginlib import check_dataset

from edgekd.data import DATASETS, Dataset


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_conforms(name, tmp_path):
    dataset = DATASETS.get(name)
    assert issubclass(dataset, Dataset) and dataset.description
    assert dataset.Options.model_config.get("extra") == "forbid"
    check_dataset(name, dataset, tmp_path)


def test_paired_is_read_from_the_base():
    """Only datasets that supply a teacher view say `paired`; the base says False."""
    assert Dataset.paired is False
    paired = [n for n, d in DATASETS.items() if d.paired]
    assert "mnist1d-pair" in paired and "mnist1d" not in paired
