"""Bad-input cases for the student search (issue 13: `edgekd search`, `search_students:`).
Same contract as cases.py: exit 2, one paragraph containing `expect`, no traceback, nothing
written outside the run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bad_inputs.cases import RUN, Case, at, edited, pipeline

NO_WIDTH_NET = """
import torch.nn as nn

def build(num_classes, units=4):
    head = nn.Linear(units, num_classes)
    return nn.Sequential(nn.Flatten(), nn.Linear(8, units), nn.ReLU(), head)
"""


def search(*flags: str, edit: Callable[[dict], object] | None = None) -> Callable:
    """`edgekd search pipeline.yaml FLAGS` on the corpus' pipeline, after `edit(cfg)`."""

    def build(folder: Path) -> list[str]:
        pipeline(folder, edit)
        return ["search", "pipeline.yaml", *flags, *RUN]

    return build


def on_target(*flags: str, edit: Callable[[dict], object] | None = None) -> Callable:
    return search("--target", "cpu-onnxruntime", *flags, edit=edit)


def student_model(model: str, options: dict) -> Callable[[dict], None]:
    def edit(cfg: dict) -> None:
        cfg["students"][0] |= {"model": model, "options": options}

    return edit


def user_student(folder: Path) -> list[str]:
    (folder / "nets.py").write_text(NO_WIDTH_NET)
    return on_target("--budget-ms", "1", edit=student_model("nets.py:build", {}))(folder)


def no_distill(cfg: dict) -> None:
    cfg["students"][0] |= {"distill": None, "baseline": True}


SECTION = {"target": "cpu-onnxruntime", "budget_ms": 1.0}

CASES = [
    Case(
        "search-budget-unmet",
        on_target("--budget-ms", "0.000001", "--width", "2", "--width", "4"),
        "the fastest, w",
    ),
    Case("search-no-width-option", user_student, "has no width option"),
    Case(
        "search-depth-without-depth-option",
        on_target("--budget-ms", "1", "--depth", "2", edit=student_model("mobilenetv2", {})),
        "has no depth option",
    ),
    Case(
        "search-depth-the-family-refuses",
        on_target("--budget-ms", "1", "--depth", "21", edit=student_model("resnet", {})),
        "refuses the candidate",
    ),
    Case("search-unknown-target", search("--target", "nope", "--budget-ms", "1"), "Unknown target"),
    Case("search-unknown-student", on_target("--budget-ms", "1", "--student", "x"), "no student"),
    Case("search-budget-negative", on_target("--budget-ms", "-1"), "budget_ms"),
    Case("search-width-not-whole", on_target("--budget-ms", "1", "--width", "2.5"), "whole"),
    Case(
        "search-student-without-distill", on_target("--budget-ms", "1", edit=no_distill), "distill"
    ),
    Case(
        "search-section-unknown-key",
        edited(at("search_students", SECTION | {"widht": [4]})),
        "unknown key 'widht'",
    ),
    Case(
        "search-section-missing-budget",
        edited(at("search_students", {"target": "cpu-onnxruntime"})),
        "budget_ms",
    ),
]
