"""Shared conformance checks for plugins, driven by what each plugin declares (`examples`,
`example_shapes`, `example_options`), so a new plugin is tested without editing a list.

tests/test_plugins_*.py run them over every registered plugin; test_plugins_throwaway.py runs
them over plugins registered at test time, to show one new file is all a plugin needs.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from conftest import TINY

from edgekd.config.checks import check_plugins, resolve_plugins
from edgekd.config.schema import PipelineConfig, StudentConfig
from edgekd.errors import ConfigError

# Per-sample shapes every model family is tried on: it must build for those it accepts and
# refuse the others with a ConfigError naming the key. () is refused by every family.
CANDIDATE_SHAPES = [(8,), (1, 16), (3, 8, 8), (2, 2, 4, 4)]
WHERE = "students[0].model"


def check_model_family(family, num_classes: int = 5) -> None:
    """Each example builds for each example shape and gives (N, num_classes) logits; shapes
    it cannot read are refused up front by `check_input`, naming the key."""
    assert family.examples and family.example_shapes, "declare examples and example_shapes"
    for example in family.examples:
        options = family.parse_options(example)
        for shape in family.example_shapes:
            family.check_input(options, shape, WHERE)
            _assert_forward(family, options, shape, num_classes)
        with pytest.raises(ConfigError) as refused:
            family.check_input(options, (), WHERE)
        assert str(refused.value).startswith(WHERE), refused.value
        for shape in CANDIDATE_SHAPES:
            try:
                family.check_input(options, shape, WHERE)
            except ConfigError as exc:
                assert str(exc).startswith(WHERE), exc
                continue
            _assert_forward(family, options, shape, num_classes)


def _assert_forward(family, options, shape, num_classes: int) -> None:
    torch.manual_seed(0)
    model = family.build(options, shape, num_classes).eval()
    with torch.no_grad():
        out = model(torch.randn(2, *shape))
    assert out.shape == (2, num_classes) and torch.isfinite(out).all(), (shape, out.shape)


def check_dataset(name: str, dataset, folder: Path) -> None:
    """Each example loads and passes check_raw, then runs as a pipeline's data stage."""
    from edgekd.data import check_raw
    from edgekd.stages.data import load_splits, run_data
    from edgekd.store import StageStore

    examples = dataset.example_options(folder)
    assert examples, "declare examples (or example_options for datasets that read files)"
    for i, example in enumerate(examples):
        raw = dataset.load(dataset.parse_options(example))
        check_raw(raw, name)
        assert (raw.teacher_x_train is not None) == dataset.paired
        if dataset.paired:
            assert len(raw.teacher_x_train) == len(raw.x_train)
            assert len(raw.teacher_x_test) == len(raw.x_test)
        cfg = tiny_pipeline({"dataset": name, "options": example, "calib_size": 8})
        res = StageStore(folder / f"run{i}").run(
            "data", "data", {"data": cfg.data}, {}, lambda d, cfg=cfg: run_data(cfg, d)
        )
        splits = load_splits(res)
        assert splits.num_classes == len(raw.labels) and len(splits.x["calib"]) <= 8
        assert splits.input_shape == raw.x_train.shape[1:]
        assert (splits.x_teacher is not None) == dataset.paired


def check_augmentation(augmentation) -> None:
    """Shape and dtype kept; the same generator state gives the same batch (resume is
    bitwise); the input and the global RNG are left alone; `apply` gives the same batch
    with a label mix exactly when the augmentation says it mixes labels; the example
    shapes pass its own shape check."""
    assert augmentation.examples and augmentation.example_shapes
    for example in augmentation.examples:
        aug = augmentation(example)
        for shape in augmentation.example_shapes:
            augmentation.check_shape(shape, "data.augment[0]")
            x = torch.randn(16, *shape, generator=torch.Generator().manual_seed(1))
            before, rng = x.clone(), torch.get_rng_state()
            a = aug(x, torch.Generator().manual_seed(0))
            b = aug(x, torch.Generator().manual_seed(0))
            assert a.shape == x.shape and a.dtype == x.dtype
            assert torch.equal(a, b), "not deterministic under the same generator"
            assert torch.equal(x, before), "the input batch was modified in place"
            assert torch.equal(torch.get_rng_state(), rng), "it drew from the global RNG"
            _check_label_mix(augmentation, aug, x, a)


def _check_label_mix(augmentation, aug, x: torch.Tensor, plain: torch.Tensor) -> None:
    out = aug.apply(x, torch.Generator().manual_seed(0))
    assert torch.equal(out.x, plain), "apply() and a plain call disagree"
    assert (out.mix is not None) == augmentation.mixes_labels
    if out.mix is not None:
        assert torch.equal(out.mix.perm.sort().values, torch.arange(len(x))), "not a permutation"
        assert 0.0 <= out.mix.lam <= 1.0


def tiny_pipeline(data: dict | None = None, students: list | None = None, **more):
    """The tiny pipeline (tests/conftest.py) as a resolved PipelineConfig."""
    cfg = copy.deepcopy(TINY) | more
    if data is not None:
        cfg["data"] = data
    if students is not None:
        cfg["students"] = students
    return resolve_plugins(PipelineConfig.model_validate(cfg), "test")


# ---------------------------------------------------------------- schemes

KD = [{"name": "kd", "weight": 0.9, "options": {"temperature": 4.0}}]


def scheme_student(scheme: str, options: dict, name: str = "s", losses: list = KD) -> dict:
    """A two-block cnn1d student distilled by `scheme` with its example `options`."""
    spec = copy.deepcopy(TINY["students"][0])
    spec |= {"name": name, "model": "cnn1d", "options": {"channels": [8, 8]}}
    spec["distill"] = {"scheme": scheme, "ce_weight": 0.1, "losses": losses, "options": options}
    spec["train"]["epochs"] = 1
    return spec


def scheme_setup(scheme: str, options: dict, losses: list = KD) -> tuple[str, StudentConfig]:
    """The first prepared setup the scheme accepts (its own `check` decides): two teachers
    on mnist1d, or one teacher on paired data. Returns the dataset and the student."""
    refusals = []
    for dataset, n_teachers in (("mnist1d", 2), ("mnist1d-pair", 1)):
        more = {"teachers": [TINY["teacher"]] * n_teachers, "teacher": None}
        cfg = tiny_pipeline(
            TINY["data"] | {"dataset": dataset},
            [scheme_student(scheme, options, losses=losses)],
            **more,
        )
        try:
            check_plugins(cfg, "test")
        except ConfigError as exc:
            refusals.append(str(exc))
            continue
        return dataset, cfg.students[0]
    raise AssertionError(f"scheme '{scheme}' refuses every test setup: {refusals}")


def prepare_teachers(root: Path) -> dict:
    """Tiny splits and 1-epoch teachers: two on mnist1d, one on paired mnist1d views."""
    from edgekd.data import DATASETS, make_splits

    def splits_of(dataset: str):
        plugin = DATASETS.get(dataset)
        raw = plugin.load(plugin.parse_options(TINY["data"]["options"]))
        return make_splits(raw, 0.1, 64, 0)

    plain, paired = splits_of("mnist1d"), splits_of("mnist1d-pair")
    teachers = [_teacher(plain, root / f"t{i}", seed=i) for i in range(2)]
    return {
        "mnist1d": (plain, teachers),
        "mnist1d-pair": (paired, [_teacher(paired.teacher_view(), root / "tp", 0)]),
    }


def _teacher(splits, folder: Path, seed: int):
    from edgekd.progress import Reporter
    from edgekd.stages.models import WEIGHTS, new_model
    from edgekd.stages.train import run_supervised

    spec = tiny_pipeline().teacher
    train = spec.train.model_copy(update={"epochs": 1})
    folder.mkdir()
    run_supervised(spec, train, splits, seed, folder, "t", Reporter(True))
    model = new_model(spec, splits, 0)
    model.load_state_dict(torch.load(folder / WEIGHTS, weights_only=True))
    return model.eval()


def check_scheme(
    scheme, name: str, options: dict, prepared: dict, folder: Path, losses: list = KD
) -> dict:
    """One short epoch of `scheme` with `options`; the saved student is the plain model
    (no heads, adapters or peers) and the stage info names the scheme."""
    from edgekd.models import build_model
    from edgekd.progress import Reporter
    from edgekd.stages.models import WEIGHTS
    from edgekd.stages.train import run_distill

    dataset, student = scheme_setup(name, options, losses)
    splits, teachers = prepared[dataset]
    given = teachers if scheme.needs_teacher else []
    info = run_distill(student, given, splits, 0, folder, name, Reporter(True))
    assert 0.0 <= info["acc_test"] <= 1.0 and info["scheme"] == name
    plain = build_model(student.model, student.options, splits.input_shape, splits.num_classes)
    state = torch.load(folder / WEIGHTS, weights_only=True)
    assert {k: v.shape for k, v in state.items()} == {
        k: v.shape for k, v in plain.state_dict().items()
    }
    assert not [p for p in folder.iterdir() if p.is_dir()]  # e.g. Tf-KD's self-teacher
    return info
