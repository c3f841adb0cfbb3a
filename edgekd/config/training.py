"""Checks of a pipeline's training recipe that span plugins: the augmentations of
`data.augment` (options parsed once), label mixing against schemes and transfer sets, and
each student's recipe search space."""

from __future__ import annotations

from pydantic import ValidationError

from edgekd.config.schema import PipelineConfig, StudentConfig
from edgekd.errors import ConfigError


def resolve_augment(cfg: PipelineConfig, source: str) -> PipelineConfig:
    """`data.augment` and each teacher's own `augment`, every augmentation looked up and
    its options parsed."""

    def parsed(owner, where: str, loc: tuple):
        return owner.model_copy(update={"augment": _parsed(owner.augment, source, where, loc)})

    cfg = cfg.model_copy(update={"data": parsed(cfg.data, "data", ("data",))})
    if cfg.teacher is not None:
        return cfg.model_copy(update={"teacher": parsed(cfg.teacher, "teacher", ("teacher",))})
    teachers = [parsed(t, f"teachers[{i}]", ("teachers", i)) for i, t in enumerate(cfg.teachers)]
    return cfg.model_copy(update={"teachers": teachers})


def _parsed(augment: list | None, source: str, where: str, loc: tuple) -> list | None:
    from edgekd.config.checks import lookup
    from edgekd.config.validate import validate_options
    from edgekd.data.augment import AUGMENTATIONS

    if not augment:
        return augment
    specs = []
    for i, spec in enumerate(augment):
        plugin = lookup(AUGMENTATIONS, spec.name, source, f"{where}.augment[{i}].name")
        opts = validate_options(plugin, spec.options, source, (*loc, "augment", i, "options"))
        specs.append(spec.model_copy(update={"options": opts}))
    return specs


def check_training(cfg: PipelineConfig, source: str) -> None:
    """Label mixing fits every student; every search space names usable losses."""
    names = [a.name for a in cfg.data.augment or []]
    check_label_mixing(cfg, names, f"{source}: data.augment")
    for i, s in enumerate(cfg.students):
        if s.search is not None:
            check_search(cfg, s, source, f"students[{i}]")


def check_label_mixing(cfg: PipelineConfig, names: list[str], where: str) -> None:
    """mixup/cutmix need a teacher to give targets on the blended inputs (the scratch
    baseline mixes labels instead), and labels on every row where cross-entropy reads them."""
    from edgekd.data.augment import AUGMENTATIONS
    from edgekd.distill.schemes import SCHEMES

    mixing = [n for n in names if AUGMENTATIONS.get(n).mixes_labels]
    if len(mixing) > 1:
        raise ConfigError(
            f"{where}: {', '.join(mixing)} each mix labels; a batch can carry one label mix. "
            "Keep one of them."
        )
    if not mixing:
        return
    transfer = cfg.data.transfer is not None or cfg.data.transfer_samples > 0
    for i, s in enumerate(cfg.students):
        if s.distill is None:
            continue
        scheme = SCHEMES.get(s.distill.scheme)
        if not scheme.needs_teacher:
            raise ConfigError(
                f"{where}: '{mixing[0]}' mixes labels, but students[{i}] uses scheme "
                f"'{s.distill.scheme}', which has no teacher to give targets on the blended "
                "inputs. Use a scheme with a teacher (e.g. offline), or an augmentation that "
                "keeps labels (shift, scale, noise, crop4-flip)."
            )
        if transfer and scheme.uses_transfer and _most_ce(s) > 0:
            raise ConfigError(
                f"{where}: '{mixing[0]}' mixes labels, but students[{i}] trains on unlabeled "
                "transfer inputs too, which have no label to mix, and uses cross-entropy "
                f"(ce_weight {_most_ce(s)}). Set distill.ce_weight: 0 (function matching: the "
                "teacher's outputs on the mixed inputs are the target), or drop the transfer set."
            )


def _most_ce(s: StudentConfig) -> float:
    """The largest cross-entropy weight the student may train with (its search included)."""
    searched = s.search.space.ce_weight if s.search is not None else None
    return max(searched or [s.distill.ce_weight])


def check_search(cfg: PipelineConfig, s: StudentConfig, source: str, loc: str) -> None:
    """Every loss of the space exists and fits the scheme; a searched temperature applies
    to at least one candidate loss; `sampler: tpe` has optuna to run it."""
    from edgekd.config.checks import _check_scheme_fits, lookup
    from edgekd.distill.losses import LOSSES
    from edgekd.distill.schemes import SCHEMES
    from edgekd.search.space import candidate, has_temperature

    where, space = f"{source}: {loc}", s.search.space
    losses = space.loss or [s.distill.losses[0].name]
    for j, name in enumerate(space.loss or []):
        lookup(LOSSES, name, source, f"{loc}.search.space.loss[{j}]")
    if space.temperature is not None and not any(has_temperature(n) for n in losses):
        raise ConfigError(
            f"{where}.search.space.temperature: none of the losses searched ({', '.join(losses)}) "
            "has a temperature. Drop `temperature` from the space or search a loss that has one "
            "(kd, dkd; dist's tau)."
        )
    scheme = SCHEMES.get(s.distill.scheme)
    for name in losses:
        try:
            tried = s.model_copy(update={"distill": candidate(s.distill, {"loss": name})})
        except ValidationError as err:
            raise ConfigError(
                f"{where}.search.space.loss: loss '{name}' needs options a search cannot fill "
                f"in ({err.errors()[0]['loc'][0]}: {err.errors()[0]['msg']}). Search losses "
                "whose options all have defaults, or make it the first of distill.losses."
            ) from None
        _check_scheme_fits(cfg, tried, scheme, f"{where}.search.space.loss ('{name}')")
    if s.search.sampler == "tpe" and not optuna_installed():
        raise ConfigError(
            f"{where}.search.sampler: 'tpe' needs optuna, which is not installed. Install it "
            "(pip install 'edgekd[search]'), or use sampler: grid (or auto)."
        )


def optuna_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("optuna") is not None
