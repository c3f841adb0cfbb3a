"""MNIST-1D, generated offline (never downloaded) with `mnist1d.data.make_dataset`.

It can also generate a transfer set (`data.transfer_samples`): more signals from other seeds,
unlabeled, in chunks of the standard 5,000 signals (each standardised as mnist1d does a
dataset), generated in a process pool across the cores; chunk k's seed depends only on the
dataset seed and k, so the set is the same on any machine and core count.
"""

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


CHUNK = 5000  # signals per generated transfer chunk: mnist1d's standard dataset size


def generate(num_samples: int, train_split: float, seed: int) -> dict:
    """`make_dataset` with these settings; numpy's and random's global state are kept."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = num_samples, train_split, seed
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        return make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def transfer_chunk(seed: int) -> np.ndarray:
    """CHUNK unlabeled signals (N, 1, 40) from one seed."""
    d = generate(CHUNK, 0.5, seed)
    return np.concatenate([d["x"], d["x_test"]])[:, None, :].astype(np.float32)


def chunk_seed(dataset_seed: int, k: int) -> int:
    """A seed for transfer chunk k, never the dataset's own."""
    return (dataset_seed * 1_000_003 + 7919 * (k + 1)) % 2**32


@DATASETS.register("mnist1d")
class MNIST1D(Dataset):
    """The 1-D digits of Greydanus (2020): 40-step signals, 10 classes; 4,000/1,000 by default."""

    Options = Options
    description = "MNIST-1D signals (1x40), generated offline; 10 classes"
    examples = ({"num_samples": 200},)

    generates_transfer = True

    @staticmethod
    def load(options: Options) -> RawData:
        d = generate(options.num_samples, options.train_split, options.seed)
        return RawData(
            x_train=d["x"][:, None, :].astype(np.float32),
            y_train=d["y"].astype(np.int64),
            x_test=d["x_test"][:, None, :].astype(np.float32),
            y_test=d["y_test"].astype(np.int64),
            labels=[str(i) for i in range(10)],
            preprocessing="signals standardised by mnist1d (zero mean, unit std); shape 1x40",
        )

    @staticmethod
    def transfer(options: Options, n: int, seed: int) -> np.ndarray:
        """`n` signals from seeds other than the dataset's, generated in parallel."""
        import concurrent.futures
        import multiprocessing
        import os

        seeds = [chunk_seed(options.seed, k) for k in range(-(-n // CHUNK))]
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count() or 1
        workers = max(1, min(cores, len(seeds)))
        if workers == 1:
            parts = [transfer_chunk(s) for s in seeds]
        else:
            ctx = multiprocessing.get_context("spawn")  # no forked torch threads
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                parts = list(pool.map(transfer_chunk, seeds))
        return np.concatenate(parts)[:n]
