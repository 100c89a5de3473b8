"""Atomic, verified checkpoints of a run (weights, θ, dynamic state, labels, config, progress).

A checkpoint is one ``.npz`` written to a temporary file in the same directory, flushed and
fsync'ed, then renamed over the old one, so a crash leaves either the old or the new file,
never half of one. A SHA-256 of the arrays is stored inside and checked on load, so a damaged
file is reported instead of silently loaded.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: run folders are not locked there
    fcntl = None

from .errors import UserError

FORMAT = "stdp-toolkit-checkpoint-1"


def _digest(arrays: dict, meta_json: str) -> str:
    h = hashlib.sha256(meta_json.encode())
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(key.encode())
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(path: str, arrays: dict, meta: dict) -> None:
    """Write ``arrays`` (name -> ndarray) and JSON-able ``meta`` atomically to ``path``."""
    meta_json = json.dumps({"format": FORMAT, **meta}, sort_keys=True)
    payload = {f"a_{k}": np.asarray(v) for k, v in arrays.items()}
    payload["meta"] = np.array(meta_json)
    payload["sha256"] = np.array(_digest({k: np.asarray(v) for k, v in arrays.items()}, meta_json))
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


_LOCKED: dict[str, int] = {}  # run folders this process holds, with their nesting depth


@contextlib.contextmanager
def run_lock(run_dir: str):
    """Only one process writes a run folder at a time.

    Two trainings into one ``--out`` would otherwise interleave their checkpoints. The lock is
    an ``flock`` on ``RUN_DIR/.lock``: the system drops it when the process dies (kill -9 included),
    so it never needs removing by hand. Nested use in one process is allowed.
    """
    key = os.path.realpath(run_dir)
    if key in _LOCKED:
        _LOCKED[key] += 1
        try:
            yield
        finally:
            _LOCKED[key] -= 1
        return
    try:
        os.makedirs(run_dir, exist_ok=True)  # training creates its folder
        fh = open(os.path.join(run_dir, ".lock"), "a")
    except OSError as exc:
        raise UserError(f"cannot write the run folder {run_dir}: {exc.strerror}; choose another --out") from None
    with fh:
        if fcntl is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(f"{run_dir} is being written by another run right now; wait for it to finish, "
                                "or use another --out") from None
        _LOCKED[key] = 1
        try:
            yield
        finally:
            del _LOCKED[key]


def remove_stale_temporaries(directory: str) -> None:
    """Delete temporary files a killed writer left behind (the real files are never partial)."""
    for name in os.listdir(directory):
        if name.startswith(".tmp-") and name.endswith((".npz", ".json")):
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass


def load(path: str) -> tuple[dict, dict]:
    """Return (arrays, meta) from a checkpoint, or raise UserError if missing or damaged."""
    if not os.path.isfile(path):
        raise UserError(f"no checkpoint at {path}: train first (stdp-toolkit train ... --out DIR)")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta_json = str(data["meta"])
            stored = str(data["sha256"])
            arrays = {k[2:]: data[k] for k in data.files if k.startswith("a_")}
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        raise UserError(f"checkpoint {path} is corrupt or unreadable ({exc.__class__.__name__}); "
                        "delete it and train again, or restore a backup") from None
    if _digest(arrays, meta_json) != stored:
        raise UserError(f"checkpoint {path} is corrupt (checksum mismatch); delete it and train again")
    meta = json.loads(meta_json)
    if meta.get("format") != FORMAT:
        raise UserError(f"{path} is not a stdp-toolkit checkpoint (format {meta.get('format')!r})")
    return arrays, meta


def write_json(path: str, obj: dict) -> None:
    """Atomically write a small JSON file (metrics, summaries)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)
