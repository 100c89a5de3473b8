"""Reader for NIST SPHERE audio files (TIDIGITS, TI46 and other LDC speech corpora).

A SPHERE file is an ASCII header (``NIST_1A``, the header size, then ``name -type value`` lines
up to ``end_head``) followed by the samples. Only uncompressed PCM is decoded here: LDC ships
TIDIGITS shorten-compressed, and decoding shorten in Python would be slow and a liability, so such
files are refused with the one-line command that converts them (``sph2pipe``).
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import UserError

MAGIC = b"NIST_1A"
_SHORTEN_MAGIC = b"ajkg"          # first bytes of a shorten stream
_COMPRESSED = ("shorten", "wavpack", "shortpack")
_BYTE_ORDER = {"01": "<", "10": ">", "1": "|"}
CONVERT_HINT = ("convert the corpus to PCM first, e.g. `sph2pipe -f wav in.sph out.wav` for every file "
                "(or `sox in.sph out.wav` with a sox built with SPHERE support), keeping the file names")


def _header_bytes(path: str) -> tuple[bytes, bytes]:
    """(header, data) bytes of a SPHERE file, after checking the magic and the header size."""
    if not os.path.isfile(path):
        raise UserError(f"SPHERE file not found: {path}")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    if not raw.startswith(MAGIC):
        raise UserError(f"{path} is not a NIST SPHERE file: it does not start with {MAGIC.decode()}")
    lines = raw[:64].split(b"\n")
    try:
        size = int(lines[1])
    except (IndexError, ValueError):
        raise UserError(f"{path}: SPHERE header size (second header line) is missing or not a number") from None
    if size < 16 or size > len(raw):
        raise UserError(f"{path}: SPHERE header size {size} does not fit a file of {len(raw)} bytes "
                        "(the file is truncated or corrupt)")
    return raw[:size], raw[size:]


def _parse_fields(header: bytes, path: str) -> dict:
    fields: dict = {}
    text = header.decode("latin-1")
    for line in text.split("\n")[2:]:
        line = line.rstrip("\r")
        if line.strip() == "end_head":
            return fields
        if not line.strip() or line.startswith(";"):
            continue
        parts = line.split(" ", 2)
        if len(parts) < 3 or not parts[1].startswith("-"):
            raise UserError(f"{path}: malformed SPHERE header line {line!r} (expected 'name -type value')")
        name, kind, value = parts
        try:
            if kind == "-i":
                fields[name] = int(value)
            elif kind == "-r":
                fields[name] = float(value)
            elif kind.startswith("-s"):
                n = int(kind[2:])
                fields[name] = value[:n]
            else:
                raise ValueError(kind)
        except ValueError:
            raise UserError(f"{path}: SPHERE header line {line!r} has a bad type or value") from None
    raise UserError(f"{path}: SPHERE header has no end_head line (the header is truncated or corrupt)")


def parse_sphere_header(path: str) -> dict:
    """The header fields of a SPHERE file as a dict (ints, floats, strings), plus ``header_size``."""
    header, _ = _header_bytes(path)
    fields = _parse_fields(header, path)
    fields["header_size"] = len(header)
    return fields


def read_sphere(path: str) -> tuple[np.ndarray, int, dict]:
    """Samples (float32 in [-1, 1); [n] mono or [n, channels]), sample rate and header of a SPHERE file.

    Integer PCM of 1, 2 or 4 bytes in either byte order (``sample_byte_format`` 01 / 10) is read
    (1 and 2 bytes exactly: sample / 2**(bits-1)); compressed codings raise a UserError naming the
    file and the conversion command.
    """
    header, data = _header_bytes(path)
    h = _parse_fields(header, path)
    h["header_size"] = len(header)
    coding = str(h.get("sample_coding", "pcm")).lower()
    if any(c in coding for c in _COMPRESSED) or data.startswith(_SHORTEN_MAGIC):
        raise UserError(f"{path} is compressed SPHERE (sample_coding {coding!r}), which is not decoded here; "
                        + CONVERT_HINT)
    if coding.split(",")[0] not in ("pcm", "linear"):
        raise UserError(f"{path}: SPHERE sample_coding {coding!r} is not supported (only linear PCM); "
                        "convert it with `sph2pipe -p -f wav in.sph out.wav`")
    rate = h.get("sample_rate")
    if not isinstance(rate, (int, float)) or not np.isfinite(rate) or not 1 <= rate < 2 ** 31:
        raise UserError(f"{path}: SPHERE header has no valid sample_rate (got {rate!r}); expected a positive "
                        "number of Hz, e.g. sample_rate -i 16000")
    n_bytes = h.get("sample_n_bytes", 2)
    channels = h.get("channel_count", 1)
    if not isinstance(n_bytes, int) or n_bytes not in (1, 2, 4) or not isinstance(channels, int) or channels < 1:
        raise UserError(f"{path}: unsupported SPHERE sample layout (sample_n_bytes {n_bytes!r}, "
                        f"channel_count {channels!r}); expected 1, 2 or 4 bytes and >= 1 channel")
    order = _BYTE_ORDER.get(str(h.get("sample_byte_format", "1" if n_bytes == 1 else "")).strip())
    if order is None or (order == "|") != (n_bytes == 1):
        raise UserError(f"{path}: SPHERE sample_byte_format {h.get('sample_byte_format')!r} does not fit "
                        f"{n_bytes}-byte samples (expected 01 = little-endian or 10 = big-endian)")
    frame = n_bytes * channels
    count = h.get("sample_count", len(data) // frame)
    if not isinstance(count, int) or count < 0 or count * frame > len(data):
        raise UserError(f"{path}: header says {count} samples x {channels} channel(s) x {n_bytes} bytes but only "
                        f"{len(data)} data bytes follow; the file is truncated or corrupt")
    if count == 0:
        raise UserError(f"{path} holds no samples")
    dtype = np.dtype(f"{order}i{n_bytes}")
    samples = np.frombuffer(data, dtype=dtype, count=count * channels).astype(np.float32)
    samples /= float(2 ** (8 * n_bytes - 1))
    if channels > 1:
        samples = samples.reshape(count, channels)
    return samples, int(round(rate)), h
