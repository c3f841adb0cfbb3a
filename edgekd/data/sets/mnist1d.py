"""MNIST-1D, generated offline (never downloaded) with `mnist1d.data.make_dataset`."""

from __future__ import annotations

import random

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgekd.config.schema import Seed
from edgekd.data import DATASETS, Dataset, RawData


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    num_samples: int = Field(5000, ge=100, le=1_000_000)  # generated in memory
    train_split: float = Field(0.8, gt=0, lt=1)
    seed: Seed = 42


@DATASETS.register("mnist1d")
class MNIST1D(Dataset):
    """The 1-D digits of Greydanus (2020): 40-step signals, 10 classes; 4,000/1,000 by default."""

    Options = Options
    description = "MNIST-1D signals (1x40), generated offline; 10 classes"
    examples = ({"num_samples": 200},)

    @staticmethod
    def load(options: Options) -> RawData:
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.num_samples = options.num_samples
        args.train_split = options.train_split
        args.seed = options.seed
        # make_dataset reseeds numpy's and random's global state: keep the caller's.
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            d = make_dataset(args)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
        return RawData(
            x_train=d["x"][:, None, :].astype(np.float32),
            y_train=d["y"].astype(np.int64),
            x_test=d["x_test"][:, None, :].astype(np.float32),
            y_test=d["y_test"].astype(np.int64),
            labels=[str(i) for i in range(10)],
            preprocessing="signals standardised by mnist1d (zero mean, unit std); shape 1x40",
        )
