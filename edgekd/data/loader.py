"""Batches through torch's DataLoader: the order is decided here, the reading is parallel.

The trainer decides which rows make each batch (a permutation seeded by (seed, epoch)) and
hands the list to a DataLoader as its sampler, so workers only read: the batches, and
therefore a resumed run, are identical with 0 or 8 workers. Workers start once per loader
and stay for every epoch (`persistent_workers`), and are used only where reading does real
work per sample (`Source.decodes`: images, a user's Dataset); arrays are read in-process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from edgekd.data.source import Source, as_source, chunks, mapping_of
from edgekd.errors import EdgeKDError

EVAL_BATCH = 1024


def auto_workers(source: Source, setting: int | str = "auto") -> int:
    """Worker processes for reading `source`: the setting, or for 'auto' up to 4 (one core
    left to training) where reading decodes, and none where it only copies arrays."""
    if setting != "auto":
        return int(setting)
    if not as_source(source).decodes:
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores - 1))


class _Rows(torch.utils.data.Dataset):
    """Map-style dataset whose items are whole batches: index array -> float32 tensor."""

    def __init__(self, source: Source):
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, idx) -> torch.Tensor | _Failed:
        try:
            return torch.from_numpy(self.source.take(np.asarray(idx, dtype=np.int64)))
        except EdgeKDError as exc:  # a worker's traceback would bury the user's message
            return _Failed(type(exc), str(exc))


class _Failed:
    """A user error raised in a worker, carried back to be raised again as itself."""

    def __init__(self, kind: type[EdgeKDError], message: str):
        self.kind, self.message = kind, message

    def reraise(self):
        raise self.kind(self.message)


class _Plan(torch.utils.data.Sampler):
    """The batches of the current epoch; set before each pass, read by the DataLoader."""

    def __init__(self):
        self.batches: Sequence[np.ndarray] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class BatchReader:
    """Reads given batches of row positions from a source, in order, optionally in workers."""

    def __init__(self, source: Source | np.ndarray, workers: int | str = "auto", pin=False):
        self.source = as_source(source)
        self.workers = auto_workers(self.source, workers)
        self._plan = _Plan()
        self._loader = None
        self._pin = pin

    def read(self, batches: Sequence[np.ndarray]) -> Iterator[torch.Tensor]:
        """Each batch's rows as a float32 tensor, in the order given."""
        if not self.workers:
            for idx in batches:
                yield torch.from_numpy(self.source.take(np.asarray(idx, dtype=np.int64)))
            return
        if self._loader is None:
            self._loader = torch.utils.data.DataLoader(
                _Rows(self.source),
                sampler=self._plan,
                batch_size=None,
                num_workers=self.workers,
                persistent_workers=True,
                pin_memory=self._pin,
                prefetch_factor=2,
                generator=torch.Generator(),  # its worker seeds never draw on the global RNG
            )
        self._plan.batches = [np.asarray(b, dtype=np.int64) for b in batches]
        for batch in self._loader:
            if isinstance(batch, _Failed):
                batch.reraise()
            yield batch

    def close(self) -> None:
        self._loader = None  # its workers exit when the loader is collected


def sequential(source: Source | np.ndarray, batch: int = EVAL_BATCH, workers="auto"):
    """Every row of `source` in order, `batch` rows at a time (evaluation, scans)."""
    src = as_source(source)
    if isinstance(source, np.ndarray) and mapping_of(source) is None:
        for start, stop in chunks(len(source), batch):
            yield torch.from_numpy(np.ascontiguousarray(source[start:stop], dtype=np.float32))
        return
    reader = BatchReader(src, workers)
    try:
        yield from reader.read([np.arange(a, b) for a, b in chunks(len(src), batch)])
    finally:
        reader.close()
