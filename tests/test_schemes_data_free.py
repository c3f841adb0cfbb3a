"""DeepInversion's jitter and Adaptive DeepInversion's competition term (issue 12, point 7),
rounds that resume, and data-free with CRD (its memory bank sized by the synthetic set)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pluginlib import KD, check_scheme, prepare_teachers, scheme_student

from edgekd.config.schema import StudentConfig
from edgekd.distill.losses.response import KDLoss
from edgekd.distill.schemes import SCHEMES, DistillJob
from edgekd.distill.schemes.data_free import DataFree, Options, competition, jitter, synthesize
from edgekd.distill.trainer import CKPT
from edgekd.models import build_model
from edgekd.progress import Reporter


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepare_teachers(tmp_path_factory.mktemp("df"))


def test_jitter_shifts_signals_along_their_length_and_images_in_h_and_w():
    x = torch.arange(2 * 3 * 10, dtype=torch.float32).reshape(2, 3, 10)
    opts = Options(jitter=2)
    seen = set()
    for seed in range(30):
        got = jitter(x, opts, torch.Generator().manual_seed(seed))
        shift = [s for s in range(-2, 3) if torch.equal(got, torch.roll(x, s, dims=2))]
        assert len(shift) == 1  # a circular shift of the whole batch along the length
        seen.add(shift[0])
    assert seen == {-2, -1, 0, 1, 2}
    assert torch.equal(jitter(x, Options(jitter=0), torch.Generator()), x)

    img = torch.randn(2, 3, 6, 6)
    kinds = set()
    for seed in range(40):
        got = jitter(img, opts, torch.Generator().manual_seed(seed))
        for flip in (False, True):
            for dh in range(-2, 3):
                for dw in range(-2, 3):
                    rolled = torch.roll(img, (dh, dw), dims=(2, 3))
                    if torch.equal(got, torch.flip(rolled, dims=(3,)) if flip else rolled):
                        kinds.add((flip, dh != 0, dw != 0))
    assert {k[0] for k in kinds} == {False, True}  # flipped about half the time
    assert any(k[1] for k in kinds) and any(k[2] for k in kinds)  # shifted in H and in W
    no_flip = Options(jitter=0, flip=False)
    assert torch.equal(jitter(img, no_flip, torch.Generator()), img)
    a, b = (jitter(img, opts, torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(a, b)  # every draw comes from the generator


def test_competition_is_one_minus_the_clipped_js_divergence():
    t = torch.tensor([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    assert torch.allclose(competition(t, t, 3.0), torch.tensor(1.0))  # agree: JS = 0
    s = torch.tensor([[0.0, 0.0, 9.0], [9.0, 0.0, 0.0]])
    p, q = torch.softmax(s / 3, 1), torch.softmax(t / 3, 1)
    m = (0.5 * (p + q)).clamp(0.01, 0.99)
    p, q = p.clamp(0.01, 0.99), q.clamp(0.01, 0.99)
    js = 0.5 * (m * (m.log() - p.log())).sum(1) + 0.5 * (m * (m.log() - q.log())).sum(1)
    assert torch.allclose(competition(s, t, 3.0), 1 - js.mean().clamp(0, 1))
    assert competition(s, t, 3.0) < 0.9  # disagreeing inputs lower the term


def test_competition_moves_the_synthesis_towards_disagreement(prepared):
    _, teachers = prepared["mnist1d"]
    torch.manual_seed(5)
    student = build_model("cnn1d", {"channels": [4, 4]}, (1, 40), 10).eval()
    base = Options(num_samples=32, batch_size=32, steps=30, jitter=0, rounds=2)
    plain, _, _ = synthesize(teachers[0], (1, 40), 10, base, 0, student=student)
    adi = base.model_copy(update={"competition_weight": 50.0})
    duel, _, _ = synthesize(teachers[0], (1, 40), 10, adi, 0, student=student)
    with torch.no_grad():

        def disagreement(x):
            x = torch.from_numpy(x)
            return float(1 - competition(student(x), teachers[0].eval()(x), 3.0))

        assert disagreement(duel) > disagreement(plain)


def test_rounds_are_refused_without_enough_samples_and_competition_needs_two():
    with pytest.raises(ValueError, match="needs `rounds` of 2"):
        Options(competition_weight=0.2)
    with pytest.raises(ValueError, match="more than `num_samples`"):
        Options(num_samples=3, rounds=4)


def test_data_free_with_crd_sizes_the_bank_by_the_synthetic_set(prepared, tmp_path):
    crd = {"name": "crd", "weight": 0.5, "options": {"nce_k": 8, "feat_dim": 16}}
    opts = {"num_samples": 40, "batch_size": 20, "steps": 2}
    info = check_scheme(SCHEMES.get("data-free"), "data-free", opts, prepared, tmp_path, [crd])
    assert info["synthetic_samples"] == 40  # the training split has 486 rows


class _Killed(Exception):
    pass


def _adi(prepared, folder, kill_at=None):
    splits, teachers = prepared["mnist1d"]
    opts = {"num_samples": 64, "batch_size": 32, "steps": 2, "competition_weight": 0.2}
    spec = scheme_student("data-free", opts | {"rounds": 2}, losses=KD)
    spec["train"] |= {"epochs": 4, "batch_size": 16}
    s = StudentConfig.model_validate(spec)
    folder.mkdir(exist_ok=True)
    torch.manual_seed(0)
    student = build_model(s.model, s.options, splits.input_shape, splits.num_classes)
    job = DistillJob(
        student, teachers[:1], splits, s.distill, s.train, 0, folder, "df", Reporter(True), None
    )
    calls, forward = [0], KDLoss.forward

    def counted(self, out):
        calls[0] += 1
        if calls[0] == kill_at:
            raise _Killed
        return forward(self, out)

    KDLoss.forward = counted
    try:
        DataFree().run(job)
    except _Killed:
        return None, calls[0]
    finally:
        KDLoss.forward = forward
    assert job.info["synthesis_rounds"] == 2
    return student.state_dict(), calls[0]


def test_adaptive_rounds_resume_bitwise(prepared, tmp_path):
    ref, calls = _adi(prepared, tmp_path / "ref")
    assert calls == 12
    assert not [p for p in (tmp_path / "ref").iterdir() if p.is_dir()]  # round folders go
    # round 1: 2 epochs of 32 samples in batches of 16 (4 steps); round 2: 2 epochs of 64
    killed, _ = _adi(prepared, tmp_path / "run", kill_at=4 + 4 + 2)  # in round 2, epoch 2
    assert killed is None and (tmp_path / "run" / "resume-round-1").is_dir()
    assert torch.load(tmp_path / "run" / CKPT, weights_only=True)["epoch"] == 1
    got, calls = _adi(prepared, tmp_path / "run")
    assert calls == 4  # only round 2's second epoch is trained again
    assert all(torch.equal(ref[k], got[k]) for k in ref)
    assert np.load(tmp_path / "run" / "resume-synthetic-1.npz")["x"].shape == (32, 1, 40)
