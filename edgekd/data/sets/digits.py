"""scikit-learn's 8x8 handwritten digits, as 1x8x8 images scaled to [0, 1]."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgekd.data import DATASETS, RawData


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    test_fraction: float = Field(0.25, gt=0, lt=1)
    seed: int = 0


@DATASETS.register("digits")
class Digits:
    """1,797 images shipped inside scikit-learn: no download."""

    Options = Options
    description = "scikit-learn digits (1x8x8 images in [0,1]); 10 classes"

    @staticmethod
    def load(options: Options) -> RawData:
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.images / 16.0).astype(np.float32)[:, None, :, :]
        y = d.target.astype(np.int64)
        order = np.random.default_rng(options.seed).permutation(len(y))
        n_test = int(round(len(y) * options.test_fraction))
        test, train = order[:n_test], order[n_test:]
        return RawData(
            x_train=x[train],
            y_train=y[train],
            x_test=x[test],
            y_test=y[test],
            labels=[str(i) for i in range(10)],
            preprocessing="pixel values divided by 16 (range 0..1); shape 1x8x8",
        )
