"""Event-camera data: the N-MNIST binary reader, other formats through ``tonic``, and binning.

N-MNIST stores each event in 40 bits, big-endian: byte 0 = x, byte 1 = y, the top bit of byte 2 =
polarity, and the remaining 23 bits = timestamp in microseconds. The format is five lines of numpy, so it
is read here directly (with strict checks and clear errors); other common event formats (AEDAT4,
Prophesee ``.dat``/EVT2/EVT3, DVS-Gesture ``.aedat``) are delegated to the ``tonic`` library
(optional: ``pip install tonic``) instead of hand-written parsers.

Events are returned as a numpy structured array with fields ``x``, ``y``, ``t`` (µs) and ``p`` (0/1).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets import paths
from ..errors import UserError

EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])
NMNIST_SENSOR = (34, 34)  # width, height
NMNIST_DIR = "nmnist-small"


def data_dir_from(arg: str | os.PathLike | None) -> Path:
    """The folder that holds ``nmnist-small/`` and ``sst2/`` (see :func:`stdp_toolkit.datasets.paths.data_dir`)."""
    return Path(paths.data_dir(arg, required="N-MNIST and SST-2 (the folder that holds nmnist-small/ and sst2/)"))


def decode_nmnist_bytes(raw: bytes | np.ndarray, source: str = "<bytes>",
                        sensor_size: tuple[int, int] = NMNIST_SENSOR) -> np.ndarray:
    """Decode N-MNIST 5-byte events; raises :class:`UserError` on a corrupt buffer."""
    buf = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, (bytes, bytearray)) else raw
    if buf.size == 0:
        raise UserError(f"{source}: empty event file; re-extract it from the N-MNIST archive")
    if buf.size % 5:
        raise UserError(f"{source}: size {buf.size} bytes is not a multiple of 5, so this is not an "
                        "N-MNIST event file (or it is truncated); re-extract it from the N-MNIST archive")
    ev = buf.reshape(-1, 5)
    out = np.empty(ev.shape[0], dtype=EVENT_DTYPE)
    out["x"] = ev[:, 0]
    out["y"] = ev[:, 1]
    out["p"] = ev[:, 2] >> 7
    out["t"] = ((ev[:, 2].astype(np.int64) & 0x7F) << 16) | (ev[:, 3].astype(np.int64) << 8) | ev[:, 4]
    w, h = sensor_size
    bad = (out["x"] >= w) | (out["y"] >= h)
    if bad.any():
        i = int(np.argmax(bad))
        raise UserError(f"{source}: event {i} has coordinates ({out['x'][i]}, {out['y'][i]}) outside the "
                        f"{w}x{h} N-MNIST sensor; the file is corrupt or not N-MNIST")
    if out.size > 1 and np.any(np.diff(out["t"]) < 0):
        i = int(np.argmax(np.diff(out["t"]) < 0)) + 1
        raise UserError(f"{source}: timestamps go backwards at event {i}; the file is corrupt or not N-MNIST")
    return out


def read_nmnist(path: str | os.PathLike) -> np.ndarray:
    """Read one N-MNIST recording (``.bin``/``.bs2``)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"event file {path} not found")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read event file {path}: {exc.strerror or exc}") from None
    return decode_nmnist_bytes(raw, source=str(path))


def read_events(path: str | os.PathLike, encoding: str = "evt3") -> np.ndarray:
    """Read an event recording, choosing the reader from the file name.

    ``.bin``/``.bs2`` -> the N-MNIST reader here; Prophesee ``.dat`` and ``.raw`` (``encoding`` ``evt2`` or
    ``evt3``) -> ``expelliarmus``; ``.aedat4`` (DV) and ``.aedat`` (AEDAT 3.1, e.g. DVS128 Gesture) ->
    ``tonic.io``. Both libraries come with ``pip install tonic``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".bin", ".bs2"):
        return read_nmnist(path)
    if suffix not in (".dat", ".raw", ".aedat4", ".aedat"):
        raise UserError(f"{path}: unknown event format {suffix!r}; supported: .bin/.bs2 (N-MNIST), "
                        ".dat/.raw (Prophesee), .aedat4, .aedat (the last four need `pip install tonic`)")
    if not path.is_file():
        raise UserError(f"event file {path} not found")
    try:
        if suffix in (".dat", ".raw"):
            import expelliarmus

            if suffix == ".raw" and encoding not in ("evt2", "evt3"):
                raise UserError(f"{path}: .raw encoding must be 'evt2' or 'evt3', not {encoding!r}")
            arr = expelliarmus.Wizard(encoding="dat" if suffix == ".dat" else encoding).read(str(path))
        else:
            import tonic.io as tio

            arr = tio.read_aedat4(str(path)) if suffix == ".aedat4" else tio.read_dvs_ibm(str(path))
    except ImportError as exc:
        raise UserError(f"{path}: reading {suffix} files needs the tonic library (`pip install tonic`)") from exc
    except UserError:
        raise
    except Exception as exc:  # the library's own message, wrapped as a user error
        raise UserError(f"{path}: could not read {suffix} events ({exc}); is the file complete and in that format?") from exc
    if isinstance(arr, tuple):  # tonic's AEDAT readers return (sensor shape, events)
        arr = arr[-1]
    if arr is None:
        raise UserError(f"{path}: could not decode {suffix} events (corrupt header or wrong encoding)")
    return _to_event_dtype(arr)


def _to_event_dtype(arr: np.ndarray) -> np.ndarray:
    names = arr.dtype.names or ()
    out = np.empty(arr.shape[0], dtype=EVENT_DTYPE)
    for field in ("x", "y", "t", "p"):
        if field not in names:
            raise UserError(f"event array lacks field {field!r} (has {names})")
        out[field] = arr[field]
    return out


def bin_events(events: np.ndarray, n_bins: int, sensor_size: tuple[int, int] = NMNIST_SENSOR,
               t_start: int | None = None, t_stop: int | None = None) -> np.ndarray:
    """Count events into ``n_bins`` equal time windows: array ``(n_bins, 2, H, W)`` float32.

    Channel 0 = OFF (p=0), 1 = ON (p=1). The window spans ``[t_start, t_stop]`` (defaults: first and last
    event), so every event lands in exactly one bin.
    """
    if n_bins < 1:
        raise UserError(f"n_bins must be >= 1, got {n_bins}")
    w, h = sensor_size
    frames = np.zeros((n_bins, 2, h, w), dtype=np.float32)
    if events.size == 0:
        return frames
    t0 = int(events["t"][0] if t_start is None else t_start)
    t1 = int(events["t"][-1] if t_stop is None else t_stop)
    sel = (events["t"] >= t0) & (events["t"] <= t1)
    ev = events[sel]
    span = max(t1 - t0 + 1, 1)
    b = ((ev["t"] - t0) * n_bins // span).astype(np.int64)
    np.add.at(frames, (b, ev["p"].astype(np.int64), ev["y"].astype(np.int64), ev["x"].astype(np.int64)), 1.0)
    return frames


def read_label_file(path: str | os.PathLike) -> list[tuple[int, int]]:
    """``#sample #class`` lines -> list of (sample id, label)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"label file {path} not found; is the data directory the one holding {NMNIST_DIR}/?")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise UserError(f"cannot read label file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: byte {exc.start} is not text ({exc.reason}); the label file is corrupt") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
            raise UserError(f"{path}:{n}: expected '<sample id> <class>' (two whole numbers), got {line!r}")
        sid, lab = int(parts[0]), int(parts[1])
        if not 0 <= lab <= 9:
            raise UserError(f"{path}:{n}: class {lab} is not a digit 0-9")
        rows.append((sid, lab))
    return rows


@dataclass
class EventFrames:
    """A binned event data set in memory: ``frames`` (N, T, 2, H, W) float32 and ``labels`` (N,)."""

    frames: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    n_events: np.ndarray


def load_nmnist(data_dir: str | os.PathLike | None, split: str, n_bins: int = 8,
                limit: int | None = None) -> EventFrames:
    """Load the shared N-MNIST subset (``split`` = ``train`` (1,000) or ``test`` (100)) as binned frames."""
    root = data_dir_from(data_dir) / NMNIST_DIR
    label_file = {"train": "train1K.txt", "test": "test100.txt"}.get(split)
    if label_file is None:
        raise UserError(f"unknown N-MNIST split {split!r}; use 'train' or 'test'")
    rows = read_label_file(root / label_file)
    if limit is not None:
        rows = rows[:limit]
    frames = np.zeros((len(rows), n_bins, 2, NMNIST_SENSOR[1], NMNIST_SENSOR[0]), dtype=np.float32)
    counts = np.zeros(len(rows), dtype=np.int64)
    for i, (sid, _) in enumerate(rows):
        ev = read_nmnist(root / f"{sid}.bs2")
        counts[i] = ev.size
        frames[i] = bin_events(ev, n_bins)
    return EventFrames(frames=frames, labels=np.array([r[1] for r in rows], dtype=np.int64),
                       ids=np.array([r[0] for r in rows], dtype=np.int64), n_events=counts)
