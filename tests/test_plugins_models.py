"""Every registered model family builds its examples and refuses shapes it cannot read.

The families and their options come from the registry and each family's `examples` and
`example_shapes`; the checks are shared with the throwaway-plugin test (tests/pluginlib.py).
"""

from __future__ import annotations

import pytest
from pluginlib import check_model_family

from edgekd.errors import ConfigError
from edgekd.models import MODELS, ModelFamily, build_model


@pytest.mark.parametrize("name", MODELS.names())
def test_family_conforms(name):
    family = MODELS.get(name)
    assert issubclass(family, ModelFamily) and family.description
    assert family.Options.model_config.get("extra") == "forbid"
    check_model_family(family)


def test_shapes_each_family_reads():
    """mlp reads any shape (flattened), cnn1d (C, L), the CIFAR families (C, L) or (C, H, W)."""
    reads = {
        name: [s for s in [(8,), (1, 16), (3, 8, 8)] if _reads(name, s)] for name in MODELS.names()
    }
    assert reads["mlp"] == [(8,), (1, 16), (3, 8, 8)]
    assert reads["cnn1d"] == [(1, 16)]
    for name in ("resnet", "vgg", "wrn", "mobilenetv2"):
        assert reads[name] == [(1, 16), (3, 8, 8)]


def _reads(name: str, shape) -> bool:
    family = MODELS.get(name)
    try:
        family.check_input(family.parse_options(family.examples[0]), shape, "x")
    except ConfigError:
        return False
    return True


def test_build_model_refuses_a_shape_with_a_config_error():
    """Not a ValueError from deep inside the network: a user error naming what to change."""
    with pytest.raises(ConfigError, match=r"model 'cnn1d' reads \(channels, length\)"):
        build_model("cnn1d", {}, (8,), 3)
    with pytest.raises(ConfigError, match=r"^teachers\[1\]\.model: "):
        build_model("resnet", {}, (8,), 3, where="teachers[1].model")
