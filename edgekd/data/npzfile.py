"""Uncompressed .npz files written a chunk at a time and read back as memory maps.

`np.savez` needs every array in memory and `np.load` reads a member whole; a stored (not
deflated) member is plain .npy bytes at a fixed offset in the zip, so it can be memory-mapped
like a .npy file. The data stage writes its evaluation splits this way (the profiling worker
reads the same file with plain `np.load`), and the arrays dataset maps a user's .npz.
"""

from __future__ import annotations

import math
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from edgekd.data.source import chunks

CHUNK_BYTES = 64 << 20
LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a zip local file header, 30 bytes
HEADER_READERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}


class NpzLayoutError(ValueError):
    """A member cannot be mapped: compressed, object dtype, or sizes that do not add up."""


# A member to write: an array, or (shape, dtype, read(start, stop) -> rows) to stream.
Streamed = tuple[tuple[int, ...], np.dtype, Callable[[int, int], np.ndarray]]


def write_npz(path: Path, members: dict[str, np.ndarray | Streamed]) -> None:
    """An uncompressed .npz with one .npy per member, written in chunks of ~64 MiB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, member in members.items():
            if isinstance(member, np.ndarray):
                arr = np.ascontiguousarray(member)
                shape, dtype = arr.shape, arr.dtype
                read = lambda a, b, arr=arr: arr[a:b]  # noqa: E731
            else:
                shape, dtype, read = member
            _write_member(zf, name, tuple(shape), np.dtype(dtype), read)


def _write_member(zf, name: str, shape: tuple, dtype: np.dtype, read) -> None:
    row_bytes = max(1, math.prod(shape[1:]) * dtype.itemsize)
    step = max(1, CHUNK_BYTES // row_bytes)
    header = {"descr": npy.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    with zf.open(f"{name}.npy", "w", force_zip64=True) as fp:
        npy.write_array_header_1_0(fp, header)
        if not shape:
            fp.write(np.asarray(read(0, 1), dtype=dtype).tobytes())
            return
        for start, stop in chunks(shape[0], step):
            block = np.ascontiguousarray(read(start, stop), dtype=dtype)
            if block.shape != (stop - start, *shape[1:]):
                raise ValueError(f"member {name}: rows {start}:{stop} have shape {block.shape}")
            fp.write(block.tobytes())


def member_layout(path: Path) -> dict[str, tuple[int, tuple, np.dtype, bool]]:
    """{name: (data offset, shape, dtype, fortran)} of every .npy member, read from the zip
    and .npy headers only; a member whose bytes do not match its header is refused."""
    out = {}
    with open(path, "rb") as f, zipfile.ZipFile(f) as zf:
        size = f.seek(0, 2)
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[: -len(".npy")]
            if info.compress_type != zipfile.ZIP_STORED:
                raise NpzLayoutError(f"member '{name}' is compressed")
            f.seek(info.header_offset)
            fields = LOCAL_HEADER.unpack(f.read(LOCAL_HEADER.size))
            if fields[0] != b"PK\x03\x04":
                raise NpzLayoutError(f"member '{name}' has no local header")
            start = info.header_offset + LOCAL_HEADER.size + fields[-2] + fields[-1]
            f.seek(start)
            version = npy.read_magic(f)
            if version not in HEADER_READERS:
                raise NpzLayoutError(f"member '{name}': .npy version {version}")
            shape, fortran, dtype = HEADER_READERS[version](f)
            offset = f.tell()
            if dtype.hasobject:
                raise NpzLayoutError(f"member '{name}' holds Python objects (pickles)")
            need = math.prod(shape) * dtype.itemsize
            if need != info.file_size - (offset - start) or offset + need > size:
                raise NpzLayoutError(
                    f"member '{name}' says {list(shape)} {dtype} ({need:,} bytes) but the "
                    "file holds a different amount; it is truncated or corrupt"
                )
            out[name] = (offset, tuple(shape), dtype, bool(fortran))
    return out


def map_member(path: Path, layout: tuple[int, tuple, np.dtype, bool]) -> np.ndarray:
    """A copy-on-write memory map of one member (an empty array for a member with no data):
    the file is never written, yet callers that need a writable array (some runtimes) get
    one, as from np.load."""
    offset, shape, dtype, fortran = layout
    if math.prod(shape) == 0:
        return np.empty(shape, dtype=dtype)
    order = "F" if fortran else "C"
    return np.memmap(path, dtype=dtype, mode="c", offset=offset, shape=shape, order=order)


def map_npz(path: Path) -> dict[str, np.ndarray]:
    """Every member of an uncompressed .npz as a (copy-on-write) memory map."""
    return {name: map_member(path, lay) for name, lay in member_layout(path).items()}
