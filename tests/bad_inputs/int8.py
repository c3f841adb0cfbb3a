"""Bad-input cases for int8 recovery (issue 13: `qat:` and `mixed_precision:` on a student).
Same contract as cases.py: exit 2, one paragraph containing `expect`, no traceback, nothing
written outside the run folder.
"""

from __future__ import annotations

from bad_inputs.cases import Case, at, edited


def no_distill(cfg: dict) -> None:
    del cfg["students"][0]["distill"]
    cfg["students"][0]["baseline"] = True
    cfg["students"][0]["qat"] = {"epochs": 1}


def mixed_without_val(cfg: dict) -> None:
    cfg["data"]["val_fraction"] = 0
    cfg["students"][0]["mixed_precision"] = {}


CASES = [
    Case("mixed-without-validation-split", edited(mixed_without_val), "val_fraction > 0"),
    Case("qat-without-distill", edited(no_distill), "add `distill:` too"),
    Case(
        "qat-lr-fraction-zero",
        edited(at("students.0.qat", {"lr_fraction": 0})),
        "students[0].qat.lr_fraction",
    ),
    Case(
        "qat-bad-when",
        edited(at("students.0.qat", {"when": "sometimes"})),
        "gate_fails",
    ),
    Case(
        "mixed-misspelt-key",
        edited(at("students.0.mixed_precision", {"max_float_layer": 2})),
        "max_float_layers",
    ),
]
