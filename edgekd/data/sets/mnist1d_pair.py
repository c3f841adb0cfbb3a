"""MNIST-1D as paired views for cross-modal distillation (the built-in example).

Each sample comes twice: the teacher's view is the 1x40 signal itself; the student's view is
a different modality of the same sample: its FFT magnitude (1x21, phase dropped, so shifts
look alike) or a 2x-downsampled signal (1x20). Models trained on the student view are what
is exported, so they read that view at inference.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgekd.config.schema import Seed
from edgekd.data import DATASETS, Dataset, RawData
from edgekd.data.sets.mnist1d import MNIST1D


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    num_samples: int = Field(5000, ge=100, le=1_000_000)  # generated in memory
    train_split: float = Field(0.8, gt=0, lt=1)
    seed: Seed = 42
    student_view: Literal["fft", "downsample"] = "fft"


def student_view(x: np.ndarray, view: str) -> np.ndarray:
    """The student's view of (N, 1, 40) signals."""
    if view == "fft":
        return np.log1p(np.abs(np.fft.rfft(x, axis=-1))).astype(np.float32)
    return x.reshape(*x.shape[:-1], -1, 2).mean(-1).astype(np.float32)


@DATASETS.register("mnist1d-pair")
class MNIST1DPair(Dataset):
    Options = Options
    paired = True  # supplies a teacher view: usable by the cross-modal scheme
    description = "MNIST-1D, two views: teacher sees the signal, student its FFT magnitude"
    examples = ({"num_samples": 200}, {"num_samples": 200, "student_view": "downsample"})

    @staticmethod
    def load(options: Options) -> RawData:
        base = MNIST1D.load(
            MNIST1D.Options(
                num_samples=options.num_samples,
                train_split=options.train_split,
                seed=options.seed,
            )
        )
        view = options.student_view
        what = "log(1 + |rfft|), 1x21" if view == "fft" else "mean of pairs, 1x20"
        return RawData(
            x_train=student_view(base.x_train, view),
            y_train=base.y_train,
            x_test=student_view(base.x_test, view),
            y_test=base.y_test,
            labels=base.labels,
            preprocessing=f"student view of MNIST-1D signals: {what} (teacher: the signal)",
            teacher_x_train=base.x_train,
            teacher_x_test=base.x_test,
        )
