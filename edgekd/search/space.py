"""A recipe search space: its grid, and the distillation recipe each point stands for.

A point is a dict over the space's keys (`loss`, `temperature`, `weight`, `ce_weight`);
`loss`, `temperature` and `weight` apply to the first of the student's `distill.losses`,
`ce_weight` to the cross-entropy on labels. Pure functions: config checks and the search
stage build the same recipes from the same points.
"""

from __future__ import annotations

import itertools
from typing import Any

from edgekd.config.schema import DistillConfig, SearchSpace

KEYS = ("loss", "temperature", "weight", "ce_weight")  # the order points list them in


def grid(space: SearchSpace) -> list[dict[str, Any]]:
    """Every combination of the given values, in a fixed order (KEYS, then list order)."""
    keys = [k for k in KEYS if getattr(space, k) is not None]
    return [
        dict(zip(keys, values)) for values in itertools.product(*(getattr(space, k) for k in keys))
    ]


# the option that softens a loss's distributions: `temperature` (kd, dkd), `tau` (dist)
TEMPERATURE_OPTIONS = ("temperature", "tau")


def temperature_option(loss_options: type) -> str | None:
    """The name of the temperature among a loss's `Options` fields, if it has one."""
    return next((n for n in TEMPERATURE_OPTIONS if n in loss_options.model_fields), None)


def has_temperature(loss: str) -> bool:
    from edgekd.distill.losses import LOSSES

    return temperature_option(LOSSES.get(loss).Options) is not None


def candidate(distill: DistillConfig, point: dict[str, Any]) -> DistillConfig:
    """`distill` with the point's values: the first loss renamed (its options then start from
    the new loss's defaults), reweighted and given the temperature where it has one (dist
    calls it `tau`)."""
    from edgekd.distill.losses import LOSSES

    first = distill.losses[0]
    name = point.get("loss", first.name)
    cls = LOSSES.get(name)
    options = cls.parse_options(first.options if name == first.name else {}).model_dump()
    knob = temperature_option(cls.Options)
    if "temperature" in point and knob is not None:
        options[knob] = point["temperature"]
    spec = first.model_copy(
        update={
            "name": name,
            "weight": point.get("weight", first.weight),
            "options": cls.parse_options(options),
        }
    )
    update = {"losses": [spec, *distill.losses[1:]]}
    if "ce_weight" in point:
        update["ce_weight"] = point["ce_weight"]
    return distill.model_copy(update=update)
