"""The student-trial stage: one candidate of a student search distilled on the short
schedule and scored on the validation split.

A stage of its own per candidate, so a rerun, or a search given one more width, trains only
what it has not trained. The trial sees the splits with the test split replaced by the
validation split (as the recipe search's trials do), so the choice it feeds never reads the
test split.
"""

from __future__ import annotations

from pathlib import Path

from edgekd.config.schema import StudentConfig
from edgekd.data import Splits
from edgekd.distill.hardware import CPU, Hardware
from edgekd.progress import Reporter
from edgekd.search.recipe import run_trial, validation_only


def run_student_trial(
    spec: StudentConfig,
    teachers: list,
    splits: Splits,
    seed: int,
    folder: Path,
    label: str,
    reporter: Reporter,
    *,
    hw: Hardware = CPU,
) -> dict:
    """{"val_acc", "epochs" or "steps"} of `spec` (the candidate on its short schedule)."""
    val = validation_only(splits)
    acc = run_trial(spec, teachers, val, seed, folder, label, reporter, hw)
    length = {"steps": spec.train.steps} if spec.train.steps else {"epochs": spec.train.epochs}
    return {"val_acc": acc, "val_samples": int(len(splits.y["val"]))} | length
