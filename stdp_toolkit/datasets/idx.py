"""Reader for the IDX format of MNIST (gzipped or raw).

The header is validated before any data is trusted, so a truncated download or a wrong file
gives a message that names the file and the problem instead of a reshape error later.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy as np

from ..errors import UserError

# IDX type codes -> numpy dtype (big-endian as stored).
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: str) -> bytes:
    if not os.path.isfile(path):
        raise UserError(f"IDX file not found: {path}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"cannot read {path}: {exc} (the file is corrupt or truncated; download it again)") from None


def load_idx(path: str) -> np.ndarray:
    """Return the array stored in an IDX file (``.gz`` or raw), checking magic number and size."""
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise UserError(f"{path} is not an IDX file: only {len(raw)} bytes")
    zero, type_code, ndim = raw[0] << 8 | raw[1], raw[2], raw[3]
    if zero != 0 or type_code not in _IDX_TYPES or not 1 <= ndim <= 4:
        raise UserError(
            f"{path} is not an IDX file: bad magic number 0x{raw[:4].hex()} "
            "(expected 0x0000 + a type byte + a dimension count; e.g. 0x00000803 for images)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"{path}: IDX header truncated")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_TYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize   # exact: np.prod can overflow on a corrupt header
    if len(raw) - header != expected:
        raise UserError(
            f"{path}: header says shape {shape} ({expected} data bytes) but the file holds "
            f"{len(raw) - header} bytes; the file is truncated or corrupt, download it again"
        )
    if math.prod(d for d in shape if d) * dtype.itemsize >= 2**62:
        # an empty array whose other dimensions no array can have (numpy refuses the shape)
        raise UserError(f"{path}: header says shape {shape}, which no data set has; the file is corrupt")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
