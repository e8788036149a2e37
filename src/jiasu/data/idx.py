"""Read IDX files (the MNIST / Fashion-MNIST container), gzip-compressed or raw.

Format: a 4-byte magic ``00 00 TT ND`` (``TT`` the element type, ``ND`` the
number of dims), ``ND`` big-endian uint32 sizes, then the elements in C order.
Only unsigned bytes (``TT = 0x08``) occur in the datasets jiasu reads, so that is
the one type accepted; anything else, a short file or a broken gzip stream is a
:class:`DataError` naming the file.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

UBYTE = 0x08


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """The array held by the IDX bytes ``data`` (uint8, read-only view); ``name`` is used in errors."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{name} is not an IDX file (bad magic {data[:4].hex() or 'empty'}); re-download it")
    if data[2] != UBYTE:
        raise DataError(f"{name} holds IDX element type 0x{data[2]:02x}; jiasu reads unsigned bytes (0x08) only")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{name} is truncated: {len(data)} bytes, shorter than its {header}-byte header; re-download it")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise DataError(
            f"{name} is corrupt: header says shape {dims} ({expected} bytes) but the file has {len(data)} bytes; re-download it"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def read_idx(path: str | Path) -> np.ndarray:
    """The array in the IDX file at ``path`` (``.gz`` files are decompressed)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"IDX file not found: {path}") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path} is not a valid gzip file ({e}); re-download it") from None
    return parse_idx(raw, str(path))
