"""Recipe search: the student's distillation recipe tuned on the validation split.

Each trial distils the student with one point of the space (edgekd.search.space) on a short
schedule (`fraction` of its epochs or steps) and scores it by validation accuracy. The
trials see the data with the test split replaced by the validation split, so nothing a
scheme computes (some record a test accuracy) can read the test split; the choice is made on
validation data only. Points come from optuna's TPE sampler (seeded) or from the grid in a
seeded order; no trial starts once `trials` have run or `budget_s` seconds have been spent.
The whole trial table is kept (trials.json, trials.md); the engine then distils the winner
with the full schedule in the student's own stage.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from edgekd.config.schema import StudentConfig, TrainConfig
from edgekd.data import Splits
from edgekd.distill.hardware import CPU, Hardware
from edgekd.errors import DataError, TrainingError
from edgekd.progress import Reporter
from edgekd.search.space import candidate, grid
from edgekd.search.trials import TrialBook, write_tables


def resolve_sampler(sampler: str) -> str:
    """`auto` as this machine runs it: tpe where optuna is installed, else grid."""
    from edgekd.config.training import optuna_installed

    if sampler == "auto":
        return "tpe" if optuna_installed() else "grid"
    return sampler


def validation_only(splits: Splits) -> Splits:
    """The splits with the test split replaced by the validation split."""
    return replace(
        splits,
        x={**splits.x, "test": splits.x["val"]},
        y={**splits.y, "test": splits.y["val"]},
    )


def short(train: TrainConfig, fraction: float) -> TrainConfig:
    """A trial's schedule: `fraction` of the epochs (or steps), milestones scaled alike."""
    field = "steps" if train.steps is not None else "epochs"
    length = max(1, round(getattr(train, field) * fraction))
    milestones = sorted({max(1, round(m * fraction)) for m in train.milestones})
    return train.model_copy(update={field: length, "milestones": milestones})


def run_search(
    student: StudentConfig,
    teachers: list,
    splits: Splits,
    seed: int,
    folder: Path,
    label: str,
    reporter: Reporter,
    *,
    hw: Hardware = CPU,
    sampler: str = "grid",
) -> dict:
    """Run the trials into `folder`; returns the stage info, with the winning point."""
    if not len(splits.y["val"]):
        raise DataError(
            f"student '{student.name}': search chooses on the validation split, which is "
            "empty. Set data.val_fraction above 0 (e.g. 0.1) or give a validation split."
        )
    cfg, points = student.search, grid(student.search.space)
    trials = Trials(student, teachers, validation_only(splits), seed, folder, label, reporter, hw)
    limit = min(cfg.trials or len(points), len(points))
    sample = tpe_search if sampler == "tpe" else grid_search
    sample(points, trials.evaluate, limit, trials.over_budget, seed)
    book, winner = trials.book, trials.book.winner()
    if winner is None:
        raise TrainingError(
            f"{label}: every trial failed; the first: {book.rows[0]['failed']} Narrow the "
            "search space (smaller weights, other losses) or lower train.lr."
        )
    write_tables(folder, book.rows, winner, cfg, sampler, trials.train)
    reporter.line(f"  {label}: best of {len(book.rows)} trials: trial {winner['trial']}")
    return {
        "sampler": sampler,
        "grid_size": len(points),
        "trials": len(book.rows),
        "stopped_by": "budget" if trials.over_budget() else "trials",
        "spent_s": round(book.spent(), 3),
        "trial_train": trials.train.model_dump(mode="json"),
        "winner": winner,
    }


class Trials:
    """Scores points: each a short distillation in its own resumable work folder, kept in
    the trial book (resume-trials.json) of the stage's folder."""

    def __init__(self, student, teachers, splits, seed, folder, label, reporter, hw):
        self.student, self.teachers, self.splits, self.seed = student, teachers, splits, seed
        self.folder, self.label, self.reporter, self.hw = Path(folder), label, reporter, hw
        self.train = short(student.train, student.search.fraction)
        self.book = TrialBook(self.folder / "resume-trials.json")

    def over_budget(self) -> bool:
        budget = self.student.search.budget_s
        return budget is not None and self.book.spent() >= budget

    def evaluate(self, point: dict) -> float:
        row = self.book.evaluate(point, self.score)
        shown = " ".join(f"{k}={v}" for k, v in point.items())
        self.reporter.line(
            f"  {self.label}: trial {row['trial']} {shown}: val_acc {row['val_acc']:.4f}"
        )
        return row["val_acc"]

    def score(self, point: dict, k: int) -> float:
        work = self.folder / f"resume-trial-{k}"
        work.mkdir(exist_ok=True)
        spec = self.student.model_copy(
            update={"distill": candidate(self.student.distill, point), "train": self.train}
        )
        spec = spec.model_copy(update={"search": None})
        name = f"{self.label} trial {k}"
        try:
            acc = run_trial(
                spec, self.teachers, self.splits, self.seed, work, name, self.reporter, self.hw
            )
        except TrainingError:  # booked as failed: its checkpoints are of no more use
            shutil.rmtree(work)
            raise
        shutil.rmtree(work)  # an interrupted trial keeps them, to resume from
        return acc


def run_trial(spec, teachers, splits, seed, folder, label, reporter, hw) -> float:
    """Distil `spec` (its recipe and short schedule) and return its validation accuracy."""
    from edgekd.distill.trainer import accuracy
    from edgekd.stages.train import distil

    model, _ = distil(spec, teachers, splits, seed, folder, label, reporter, hw)
    return accuracy(model, splits.x["val"], splits.y["val"], hw=hw, workers=splits.workers)


def grid_search(points: list, evaluate: Callable, limit: int, stop: Callable, seed: int) -> None:
    """The grid in a seeded random order, so a capped search samples all of it evenly."""
    for i in np.random.default_rng(seed).permutation(len(points))[:limit]:
        if stop():
            return
        evaluate(points[int(i)])


def tpe_search(points: list, evaluate: Callable, limit: int, stop: Callable, seed: int) -> None:
    """optuna's TPE sampler, seeded; the same seed and scores give the same trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    choices = {k: list(dict.fromkeys(p[k] for p in points)) for k in points[0]}
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))

    def objective(trial) -> float:
        return evaluate({k: trial.suggest_categorical(k, v) for k, v in choices.items()})

    def halt(study, _trial) -> None:
        if stop():
            study.stop()

    if not stop():
        study.optimize(objective, n_trials=limit, callbacks=[halt])
