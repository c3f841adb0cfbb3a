"""Sources: random access to a dataset's samples, a batch of rows at a time.

A split is an index list over a source (`Rows`), never a copy of it, so a dataset on disk is
read only as far as a batch needs: arrays through a memory map, images decoded per batch, a
user's torch Dataset item by item. Pages of a memory map that a read brought in are handed
back to the kernel every `RELEASE_BYTES`, so the process's resident memory stays flat however
large the file (benchmarks/byo_memory.py measures it).
"""

from __future__ import annotations

import mmap
from typing import Any, ClassVar

import numpy as np

RELEASE_BYTES = 64 << 20  # mapped bytes read between two releases of the mapping's pages


class Source:
    """Samples by index: `take(idx) -> float32 (len(idx), *sample_shape)`.

    `decodes = True` says each read does real work per sample (image decoding, a user's
    transform), so a DataLoader with worker processes speeds it up; for arrays it would not.
    """

    decodes: ClassVar[bool] = False

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def sample_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def take(self, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.sample_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.sample_shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.take(positions(key, len(self)))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.take(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype)


def positions(key: Any, n: int) -> np.ndarray:
    """Row positions for an int, slice, list, numpy array or torch tensor key."""
    if isinstance(key, slice):
        return np.arange(n)[key]
    if isinstance(key, (int, np.integer)):
        return np.asarray([range(n)[key]])
    if hasattr(key, "numpy"):  # a torch tensor
        key = key.numpy()
    return np.asarray(key, dtype=np.int64).reshape(-1)


class ArraySource(Source):
    """An in-memory array or a read-only memory map of one on disk (np.load mmap_mode='r'
    or a stored member of an .npz). Values are cast to float32 per batch, as stored data
    would have been; a memory map's pages are released as reading goes on."""

    def __init__(self, array: np.ndarray):
        self.array = array
        self._mapped = mapping_of(array)
        self._read = 0

    def __len__(self) -> int:
        return len(self.array)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[1:])

    def take(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        rows = self.array[idx]
        out = np.ascontiguousarray(rows, dtype=np.float32)
        if self._mapped is not None:
            self._read += rows.nbytes
            if self._read >= RELEASE_BYTES:
                self.release()
        return out

    def release(self) -> None:
        """Drop this process's mapped pages (they stay in the page cache for the next read)."""
        self._read = 0
        if self._mapped is not None and hasattr(self._mapped, "madvise"):
            try:
                self._mapped.madvise(mmap.MADV_DONTNEED)
            except (OSError, ValueError, AttributeError):
                pass

    def __getstate__(self) -> dict:  # DataLoader workers under spawn: reopen, not copy
        return self.__dict__ | {"_mapped": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._mapped = mapping_of(self.array)


def mapping_of(array: np.ndarray) -> mmap.mmap | None:
    """The mmap object behind a numpy memory map (or a view of one), else None."""
    base = array
    while base is not None:
        found = getattr(base, "_mmap", None)
        if isinstance(found, mmap.mmap):
            return found
        if isinstance(base, mmap.mmap):
            return base
        base = getattr(base, "base", None)
    return None


class Rows(Source):
    """A split: the rows `index` of `source` (all of them when index is None)."""

    def __init__(self, source: Source | np.ndarray, index: np.ndarray | None = None):
        self.source = as_source(source)
        self.index = None if index is None else np.asarray(index, dtype=np.int64)

    @property
    def decodes(self) -> bool:  # type: ignore[override]
        return self.source.decodes

    def __len__(self) -> int:
        return len(self.source) if self.index is None else len(self.index)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.source.sample_shape

    def take(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        return self.source.take(idx if self.index is None else self.index[idx])


class Concat(Source):
    """Two sources one after the other: the training split, then the transfer set."""

    def __init__(self, first: Source, second: Source):
        self.first, self.second = as_source(first), as_source(second)

    @property
    def decodes(self) -> bool:  # type: ignore[override]
        return self.first.decodes or self.second.decodes

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.first.sample_shape

    def take(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        n = len(self.first)
        out = np.empty((len(idx), *self.sample_shape), dtype=np.float32)
        low = idx < n
        if low.any():
            out[low] = self.first.take(idx[low])
        if (~low).any():
            out[~low] = self.second.take(idx[~low] - n)
        return out


def as_source(data: Source | np.ndarray) -> Source:
    return data if isinstance(data, Source) else ArraySource(np.asarray(data))


def chunks(n: int, size: int):
    """(start, stop) pairs covering 0..n in steps of `size`."""
    for start in range(0, n, size):
        yield start, min(start + size, n)
