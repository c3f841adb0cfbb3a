"""Bad-input cases for augmentation, step-matched schedules and recipe search (issue 12).
Same contract as cases.py: exit 2, one paragraph containing `expect`, no traceback, nothing
written outside the run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from bad_inputs.cases import Case, at, edited, npz_flat_with, pipeline

KD_T = [{"name": "kd", "options": {"temperature": 4.0}}]


def augment(*specs: dict) -> Callable[[dict], None]:
    return at("data.augment", list(specs))


def search(block: dict) -> Callable[[dict], None]:
    def edit(cfg: dict) -> None:
        cfg["students"][0]["distill"]["losses"] = KD_T
        cfg["students"][0]["search"] = block

    return edit


def both(*edits: Callable[[dict], None]) -> Callable[[dict], None]:
    def edit(cfg: dict) -> None:
        for e in edits:
            e(cfg)

    return edit


def mixup_on_unlabeled(folder: Path) -> list[str]:
    """mixup, a transfer set and cross-entropy (ce_weight defaults to 1)."""
    np.save(folder / "unlabeled.npy", np.zeros((10, 1, 8), np.float32))
    edit = both(at("data.transfer", {"array": "unlabeled.npy"}), augment({"name": "mixup"}))
    return pipeline(folder, edit)


CASES = [
    Case(
        "aug-unknown-name",
        edited(augment({"name": "mixpu", "options": {"alpha": 0.2}})),
        "did you mean 'mixup'",
    ),
    Case(
        "aug-unknown-option",
        edited(augment({"name": "shift", "options": {"maximum": 3}})),
        "data.augment[0].options",
    ),
    Case(
        "aug-bad-option-value",
        edited(augment({"name": "scale", "options": {"low": 2.0, "high": 1.0}})),
        "must not exceed",
    ),
    Case(
        "aug-two-label-mixes",
        edited(augment({"name": "mixup"}, {"name": "cutmix"})),
        "one label mix",
    ),
    Case("aug-mixup-on-unlabeled-with-ce", mixup_on_unlabeled, "no label to mix"),
    Case(
        "aug-mixup-without-teacher",
        edited(both(augment({"name": "mixup"}), at("students.0.distill.scheme", "tf-kd"))),
        "has no teacher",
    ),
    Case(
        "aug-rank-mismatch",
        npz_flat_with(augment({"name": "cutmix"})),
        "2 or 3 axes",
    ),
    Case("aug-not-a-list", edited(at("data.augment", "mixup")), "data.augment"),
    Case(
        "teacher-aug-unknown-name",
        edited(at("teacher.augment", [{"name": "shfit"}])),
        "teacher.augment[0].name",
    ),
    Case(
        "teacher-aug-rank-mismatch",
        npz_flat_with(at("teacher.augment", [{"name": "cutmix"}])),
        "teacher.augment[0]",
    ),
    Case(
        "train-epochs-and-steps",
        edited(at("students.0.train", {"epochs": 2, "steps": 10})),
        "not both",
    ),
    Case(
        "search-unknown-loss",
        edited(search({"space": {"loss": ["kd", "kdd"]}, "trials": 2})),
        "search.space.loss[1]",
    ),
    Case(
        "search-unbounded",
        edited(search({"space": {"temperature": [1, 4]}})),
        "budget_s",
    ),
    Case("search-empty-space", edited(search({"space": {}, "trials": 2})), "at least one"),
    Case(
        "search-temperature-without-one",
        edited(search({"space": {"loss": ["sp"], "temperature": [2]}, "trials": 2})),
        "has a temperature",
    ),
    Case(
        "search-loss-needs-options",
        edited(search({"space": {"loss": ["fitnets"]}, "trials": 2})),
        "cannot fill",
    ),
    Case(
        "search-without-distill",
        edited(
            lambda c: c["students"][0].update(
                distill=None, baseline=True, search={"space": {"weight": [1]}, "trials": 1}
            )
        ),
        "add `distill:`",
    ),
    Case(
        "search-negative-temperature",
        edited(search({"space": {"temperature": [-1]}, "trials": 1})),
        "temperature",
    ),
    Case(
        "search-empty-validation",
        edited(both(at("data.val_fraction", 0.0), search({"space": {"weight": [1]}, "trials": 1}))),
        "validation split",
    ),
]


def _has_optuna() -> bool:
    import importlib.util

    return importlib.util.find_spec("optuna") is not None


if not _has_optuna():  # with optuna installed, `sampler: tpe` is valid
    CASES.append(
        Case(
            "search-tpe-without-optuna",
            edited(search({"space": {"weight": [1]}, "trials": 1, "sampler": "tpe"})),
            "needs optuna",
        )
    )
