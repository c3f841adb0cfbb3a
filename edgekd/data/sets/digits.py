"""scikit-learn's 8x8 handwritten digits, as 1x8x8 images scaled to [0, 1].

`size` and `channels` resample them (bilinear) to a CIFAR-size 3x32x32 task, so CIFAR-style
models can be trained, compiled and timed on built-in data.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgekd.config.schema import Seed
from edgekd.data import DATASETS, Dataset, RawData


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    test_fraction: float = Field(0.25, gt=0, lt=1)
    seed: Seed = 0
    size: int = Field(8, ge=8, le=64)  # side length after bilinear resampling
    channels: int = Field(1, ge=1, le=3)  # the grey image repeated


@DATASETS.register("digits")
class Digits(Dataset):
    """1,797 images shipped inside scikit-learn: no download."""

    Options = Options
    description = "scikit-learn digits (1x8x8 images in [0,1]); 10 classes"
    examples = ({}, {"size": 16, "channels": 3})

    @staticmethod
    def load(options: Options) -> RawData:
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.images / 16.0).astype(np.float32)[:, None, :, :]
        if options.size != 8:
            from scipy.ndimage import zoom

            x = zoom(x, (1, 1, options.size / 8, options.size / 8), order=1).clip(0, 1)
        x = np.repeat(x, options.channels, axis=1).astype(np.float32)
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
            preprocessing=(
                f"pixel values divided by 16 (range 0..1), bilinear to {options.size}x"
                f"{options.size}, {options.channels} channel(s); shape "
                f"{options.channels}x{options.size}x{options.size}"
            ),
        )
