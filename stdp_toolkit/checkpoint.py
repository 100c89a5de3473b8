"""One family of atomic, verified checkpoints for every part of the toolkit.

* Brian2 runs: one ``.npz`` (:func:`save` / :func:`load`) with the arrays, JSON meta data and a
  SHA-256 of both;
* the PyTorch bridge and LITE-SNN: a torch file (:func:`save_torch` / :func:`load_torch`) whose
  payload is checksummed the same way and loaded with ``weights_only=True``;
* with each, :func:`data_identity` of the training data, so a resume on other data is refused.

Every file (metrics and figures too) is written by :func:`atomic_write`: to a temporary file in the
same folder, flushed and fsync'ed, then renamed over the old one, so a crash or a full disk leaves
the old file or the new one, never half of one. A damaged file is reported, never silently loaded.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings

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


def atomic_write(path: str, write) -> None:
    """Call ``write(fh)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    One writer for every checkpoint kind: a crash or a full disk leaves the old file (or none),
    never half of one and never a stray temporary file; OS errors become one line.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1] or ".tmp", dir=directory)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}; choose another output folder") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a result file is as readable as any other
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(exc, OSError):
            raise UserError(f"cannot write {path}: {exc.strerror}; free space or choose another output folder") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(path: str, arrays: dict, meta: dict) -> None:
    """Write ``arrays`` (name -> ndarray) and JSON-able ``meta`` atomically to ``path``."""
    meta_json = json.dumps({"format": FORMAT, **meta}, sort_keys=True)
    payload = {f"a_{k}": np.asarray(v) for k, v in arrays.items()}
    payload["meta"] = np.array(meta_json)
    payload["sha256"] = np.array(_digest({k: np.asarray(v) for k, v in arrays.items()}, meta_json))
    atomic_write(path, lambda fh: np.savez(fh, **payload))


TORCH_FORMAT = "stdp-toolkit-torch-checkpoint-1"


def save_torch(path: str, obj: dict, kind: str) -> None:
    """Atomically write a torch checkpoint (``obj``: tensors, state dicts, plain values) with a checksum.

    The file is an ordinary ``torch.load``-able dict ``{format, kind, sha256, payload}`` whose
    ``payload`` is the serialised ``obj``, so a damaged byte is found on load instead of
    silently changing a weight. ``kind`` names what is inside ("torch-bridge", "lite-snn").
    """
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = buf.getvalue()
    wrapper = {"format": TORCH_FORMAT, "kind": kind, "sha256": hashlib.sha256(payload).hexdigest(),
               "payload": payload}
    atomic_write(path, lambda fh: torch.save(wrapper, fh))


def load_torch(path: str, kind: str, hint: str = "train again") -> dict:
    """The dict saved by :func:`save_torch`, or one UserError line if missing, damaged or of another kind."""
    import io

    import torch

    if not os.path.isfile(path):
        raise UserError(f"no checkpoint at {path}: {hint}")
    try:
        with warnings.catch_warnings():  # a flipped protocol byte loads fine but warns in two lines
            warnings.simplefilter("ignore")
            wrapper = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds on a damaged zip or pickle
        raise UserError(f"checkpoint {path} is corrupt or not a torch file ({exc.__class__.__name__}); "
                        f"delete it and {hint}") from None
    if not isinstance(wrapper, dict) or wrapper.get("format") != TORCH_FORMAT:
        raise UserError(f"{path} is not a stdp-toolkit checkpoint of this version (it has no "
                        f"{TORCH_FORMAT!r} tag); {hint} with this version")
    if wrapper.get("kind") != kind:
        raise UserError(f"{path} is a {wrapper.get('kind')} checkpoint, not a {kind} one")
    payload = wrapper.get("payload")
    if not isinstance(payload, bytes) or hashlib.sha256(payload).hexdigest() != wrapper.get("sha256"):
        raise UserError(f"checkpoint {path} is corrupt (checksum mismatch); delete it and {hint}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"checkpoint {path} cannot be read ({exc.__class__.__name__}); delete it and {hint}") from None
    if not isinstance(obj, dict):
        raise UserError(f"checkpoint {path} holds no dict; delete it and {hint}")
    return obj


def data_identity(name: str, *arrays) -> dict:
    """Identity of the data a run used: a name (e.g. the data folder) and a SHA-256 of the arrays' bytes.

    Stored with a checkpoint so that a resume on other data of the same size is refused instead
    of silently training on a mix of two data sets.
    """
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return {"name": str(name), "sha256": h.hexdigest()}


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
        if name.startswith(".tmp-"):
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
            if not isinstance(data, np.lib.npyio.NpzFile) or not {"meta", "sha256"} <= set(data.files):
                raise UserError(f"{path} is not a stdp-toolkit checkpoint (an array file without its meta data "
                                "and checksum); give a run folder written by stdp-toolkit train")
            meta_json = str(data["meta"])
            stored = str(data["sha256"])
            arrays = {k[2:]: data[k] for k in data.files if k.startswith("a_")}
    except UserError:
        raise
    except Exception as exc:  # a damaged zip or .npy header raises many kinds (TokenError, NotImplementedError, ...)
        raise UserError(f"checkpoint {path} is corrupt or unreadable ({exc.__class__.__name__}); "
                        "delete it and train again, or restore a backup") from None
    if _digest(arrays, meta_json) != stored:
        raise UserError(f"checkpoint {path} is corrupt (checksum mismatch); delete it and train again")
    try:
        meta = json.loads(meta_json)
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise UserError(f"{path} is not a stdp-toolkit checkpoint (format {found!r}); give a run folder written by "
                        "stdp-toolkit train")
    return arrays, meta


def write_json(path: str, obj: dict) -> None:
    """Atomically write a small JSON file (metrics, summaries)."""
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda fh: fh.write(text.encode()))
