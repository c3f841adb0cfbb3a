"""What the data decides about a pipeline's training recipe once the data stage has run: the
augmentation every training stage applies, and the step-matched schedules of a distilled
student and its scratch twin.

A distilled student that also trains on a transfer set sees more samples per epoch than its
scratch twin, which can use only the labeled split. The pair is then trained for the same
number of optimizer steps: the student's `epochs` over labeled + transfer rows give the
count, the twin runs as many epochs over the labeled rows as that takes (the last one cut
short), and both follow their LR schedule per step over that count, so the curves match.
"""

from __future__ import annotations

from edgekd.config.schema import PipelineConfig, StudentConfig, TrainConfig


def effective_augment(cfg: PipelineConfig, dataset_default: str) -> str | list:
    """`data.augment` when the pipeline gives it ([] for none), else the dataset's own."""
    return dataset_default if cfg.data.augment is None else list(cfg.data.augment)


def check_augment(cfg: PipelineConfig, augment: str | list, shapes: list[tuple]) -> None:
    """Each augmentation reads the data's samples; label mixing fits every student (a
    dataset's own default is checked here too, as the YAML does not name it)."""
    from edgekd.config.training import check_label_mixing

    if isinstance(augment, str):
        names, where = ([augment] if augment else []), "the dataset's augmentation"
    else:
        names, where = [a.name for a in augment], "data.augment"
    at = [where if isinstance(augment, str) else f"{where}[{i}]" for i in range(len(names))]
    _check_shapes(list(zip(at, names)), shapes)
    check_label_mixing(cfg, names, where)


def check_teacher_augment(augment: list | None, where: str, shape: tuple) -> None:
    """A teacher's own augmentations read its samples."""
    _check_shapes([(f"{where}[{i}]", a.name) for i, a in enumerate(augment or [])], [shape])


def _check_shapes(named: list[tuple[str, str]], shapes: list[tuple]) -> None:
    """Each (key path, augmentation name) reads samples of every shape."""
    from edgekd.data.augment import AUGMENTATIONS

    for at, name in named:
        for shape in dict.fromkeys(shapes):
            AUGMENTATIONS.get(name).check_shape(shape, f"{at} ('{name}')")


def augment_key(augment: str | list) -> dict:
    """What a training stage's key adds for its augmentation (nothing for none)."""
    from edgekd.hashing import to_jsonable

    return {"augment": to_jsonable(augment)} if augment else {}


def distilled_spec(s: StudentConfig, rows: int, labeled: int) -> StudentConfig:
    """The student as its distillation stage trains it: by steps when it reads `rows` >
    `labeled` samples per epoch (a transfer set), so its scratch twin can match them."""
    from edgekd.distill.trainer import steps_per_epoch

    if s.distill is None or rows == labeled or s.train.steps is not None:
        return s
    per_epoch = steps_per_epoch(rows, s.train.batch_size)
    train = s.train.model_copy(
        update={
            "steps": max(1, s.train.epochs * per_epoch),
            "milestones": [m * per_epoch for m in s.train.milestones],
        }
    )
    return s.model_copy(update={"train": train})


def baseline_train(s: StudentConfig, twin: StudentConfig) -> TrainConfig:
    """The scratch twin's schedule: its distilled twin's, step for step."""
    return twin.train if s.distill is not None else s.train
