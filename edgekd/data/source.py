"""Sources: random access to a dataset's samples, a batch of rows at a time.

A split is an index list over a source (`Rows`), never a copy of it, so a dataset on disk is
read only as far as a batch needs: arrays through a memory map, images decoded per batch, a
user's torch Dataset item by item. Pages of a memory map that a read brought in are handed
back to the kernel every `RELEASE_BYTES`, so the process's resident memory stays flat however
large the file (benchmarks/byo_memory.py measures it): pages are counted as a read maps them
(a small row read at random maps its whole fault-around window).
"""

from __future__ import annotations

import mmap
import os
from typing import Any, ClassVar

import numpy as np

RELEASE_BYTES = 64 << 20  # mapped bytes read between two releases of the mapping's pages
# A read fault on a file mapping maps the neighbouring cached pages too (Linux
# fault_around_bytes, 64 KiB by default): a random row can map this much, however small.
FAULT_AROUND = 64 << 10


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
    would have been.

    Rows of a memory-mapped file are read with pread at their offsets, not through the
    mapping: a mapped page counts in the process's resident memory, and a read fault can
    map far more than the row asked for (fault-around, large page-cache folios: up to 2 MB
    for a 4 KB row), so random batches from a mapping would grow RSS towards the file's
    size. pread goes through the page cache, which the kernel manages and RSS does not
    count. A view of a mapping that pread cannot address is indexed, and its pages are
    released as reading goes on.
    """

    def __init__(self, array: np.ndarray):
        self.array = array
        self._file = file_rows(array)
        self._mapped = mapping_of(array) if self._file is None else None
        self._read = 0
        self._fd: tuple[int, int] | None = None  # (pid, fd): reopened in a forked worker

    def __len__(self) -> int:
        return len(self.array)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[1:])

    def take(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        if self._file is not None:
            return self._pread(idx)
        rows = self.array[idx]
        out = np.ascontiguousarray(rows, dtype=np.float32)
        if self._mapped is not None:
            row = rows.nbytes // max(len(rows), 1)
            self._read += len(rows) * max(row, FAULT_AROUND)
            if self._read >= RELEASE_BYTES:
                self.release()
        return out

    def _pread(self, idx: np.ndarray) -> np.ndarray:
        path, offset, row_bytes = self._file
        n = len(self.array)
        if len(idx) and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"row index out of range 0..{n - 1}")
        idx = np.where(idx < 0, idx + n, idx)
        order = np.argsort(idx, kind="stable")
        wanted = idx[order]
        raw = np.empty((len(idx), *self.array.shape[1:]), dtype=self.array.dtype)
        flat = raw.reshape(len(idx), -1).view(np.uint8)
        fd = self._descriptor()
        breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
        for run in np.split(np.arange(len(wanted)), breaks):
            if len(run):
                first = int(wanted[run[0]])
                _pread_into(fd, flat[run[0] : run[-1] + 1], offset + first * row_bytes)
        out = np.empty_like(raw, dtype=np.float32)
        out[order] = raw
        return out

    def _descriptor(self) -> int:
        pid = os.getpid()
        if self._fd is None or self._fd[0] != pid:
            self._fd = (pid, os.open(self._file[0], os.O_RDONLY))
        return self._fd[1]

    def release(self) -> None:
        """Drop this process's mapped pages (they stay in the page cache for the next read)."""
        self._read = 0
        if self._mapped is not None and hasattr(self._mapped, "madvise"):
            try:
                self._mapped.madvise(mmap.MADV_DONTNEED)
            except (OSError, ValueError, AttributeError):
                pass

    def __getstate__(self) -> dict:  # DataLoader workers under spawn: reopen, not copy
        return self.__dict__ | {"_mapped": None, "_fd": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._mapped = mapping_of(self.array) if self._file is None else None


def file_rows(array: np.ndarray) -> tuple[str, int, int] | None:
    """(path, byte offset of row 0, bytes per row) of a C-ordered memory map of a file
    (the map itself, not a view of it), else None."""
    if not isinstance(array, np.memmap) or not isinstance(array.base, mmap.mmap):
        return None
    if not array.flags.c_contiguous or not array.filename or array.ndim < 1:
        return None
    row = int(np.prod(array.shape[1:], dtype=np.int64)) * array.dtype.itemsize
    return str(array.filename), int(array.offset), row


def _pread_into(fd: int, dest: np.ndarray, offset: int) -> None:
    """Fill the bytes of `dest` from the file at `offset`, 64 MiB per call at most."""
    view = memoryview(dest.reshape(-1))
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done : done + RELEASE_BYTES]], offset + done)
        if got <= 0:
            raise OSError(f"the file ended {offset + done} bytes in; it was cut short")
        done += got


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
