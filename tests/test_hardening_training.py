"""Issue 15, class 3 in training: a non-finite loss stops training where it happens, and no
non-finite weights or outputs (checkpoint, ONNX teacher, trained model) pass as a result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from edgekd.config.schema import TrainConfig
from edgekd.distill.cache import teacher_logits
from edgekd.distill.trainer import fit
from edgekd.errors import CheckpointError, TrainingError
from edgekd.models.checkpoint import read_state_dict
from edgekd.progress import Reporter
from edgekd.stages.models import finite_test_accuracy, require_finite_weights


def test_a_nan_loss_stops_training_naming_label_epoch_and_step(tmp_path):
    model = nn.Linear(4, 2)
    x, y = np.ones((32, 4), np.float32), np.arange(32) % 2
    calls = {"n": 0}

    def batch_loss(_idx, xb, yb):
        calls["n"] += 1
        loss = nn.functional.cross_entropy(model(xb), yb)
        return loss * float("nan") if calls["n"] == 7 else loss  # epoch 2, step 3

    cfg = TrainConfig(epochs=3, batch_size=8)
    with pytest.raises(TrainingError, match=r"mine: the loss became nan at epoch 2 of 3, step 3"):
        fit(model, batch_loss, model, x, y, None, cfg, 0, tmp_path, "mine", Reporter(quiet=True))
    assert calls["n"] == 7  # nothing ran after it


def test_an_infinite_loss_stops_too(tmp_path):
    model = nn.Linear(4, 2)
    x, y = np.ones((8, 4), np.float32), np.arange(8) % 2
    cfg = TrainConfig(epochs=1, batch_size=8)

    def batch_loss(_i, xb, _yb):
        return model(xb).sum() * float("inf")

    with pytest.raises(TrainingError, match="inf at epoch 1"):
        fit(model, batch_loss, model, x, y, None, cfg, 0, tmp_path, "m", Reporter(quiet=True))


def test_checkpoints_with_non_finite_weights_are_refused(tmp_path):
    state = nn.Linear(4, 2).state_dict()
    state["weight"][0, 1] = float("inf")
    torch.save(state, tmp_path / "inf.pt")
    with pytest.raises(CheckpointError, match="NaN or inf in 'weight'"):
        read_state_dict(tmp_path / "inf.pt")
    ints = {"steps": torch.tensor([3]), "w": torch.zeros(2)}  # int tensors are not floats
    torch.save(ints, tmp_path / "ok.pt")
    assert set(read_state_dict(tmp_path / "ok.pt")) == {"steps", "w"}


def test_a_checkpoint_path_that_is_a_folder(tmp_path):
    (tmp_path / "ckpt.pt").mkdir()
    with pytest.raises(CheckpointError, match="is a folder"):
        read_state_dict(tmp_path / "ckpt.pt")


def test_non_finite_teacher_logits_are_refused_before_distilling(tmp_path):
    teacher = nn.Linear(4, 3)
    with torch.no_grad():
        teacher.bias.fill_(float("nan"))
    x = np.ones((5, 4), np.float32)
    with pytest.raises(TrainingError, match="NaN or inf logits"):
        teacher_logits("auto", [teacher], x, [], Reporter(quiet=True), "s", False, tmp_path)
    assert not list(tmp_path.iterdir())  # the half-written cache file is gone


def test_trained_models_with_non_finite_weights_or_outputs_are_not_recorded():
    from edgekd.data import Splits

    model = nn.Linear(4, 2)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(TrainingError, match="weight 'weight'"):
        require_finite_weights(model, "s")
    huge = nn.Linear(4, 2)
    with torch.no_grad():
        huge.weight.fill_(3e38)
    x = np.ones((3, 4), np.float32)
    y = np.zeros(3, np.int64)
    splits = Splits({"test": x}, {"test": y}, ["a", "b"], "")
    with pytest.raises(TrainingError, match="3 of 3 test samples"):
        finite_test_accuracy(huge, splits, "s")


def test_onnx_teacher_with_nan_weights_is_refused_at_load(tmp_path):
    from bad_inputs.hardening import onnx_teacher

    from edgekd.distill.onnx_teacher import check_onnx_file
    from edgekd.errors import ConfigError

    onnx_teacher(tmp_path, weight=float("nan"))
    with pytest.raises(ConfigError, match="NaN or inf in its weight 'w'"):
        check_onnx_file(tmp_path / "teacher.onnx", "teacher.onnx")
    onnx_teacher(tmp_path)
    check_onnx_file(tmp_path / "teacher.onnx", "teacher.onnx")


def test_batches_too_small_to_train_are_an_error_not_an_untrained_model(tmp_path):
    model = nn.Linear(4, 2)
    x, y = np.ones((6, 4), np.float32), np.arange(6) % 2
    cfg = TrainConfig(epochs=2, batch_size=1)
    with pytest.raises(TrainingError, match="no batch could be trained"):
        fit(
            model,
            lambda _i, xb, yb: model(xb).sum(),
            model,
            x,
            y,
            None,
            cfg,
            0,
            tmp_path,
            "m",
            Reporter(quiet=True),
        )
