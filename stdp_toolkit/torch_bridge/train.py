"""Training loops (ANN, hybrid STDB fine-tuning, DIET-SNN), evaluation and checkpoints."""
from __future__ import annotations

import os
import re
import sys
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from .data import batches
from .models import ConvertibleNet, build_model
from .snn import SpikingNet

__all__ = ["CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint", "model_from_checkpoint",
           "snn_from_checkpoint", "evaluate", "fit", "make_optimizer", "pick_device", "rng_state",
           "set_rng_state", "resume_differences", "check_resume", "file_sha256", "stretch_schedule"]

CHECKPOINT_FORMAT = "stdp-toolkit-torch-bridge/1"


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``; anything else is one UserError line."""
    name = str(name).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    m = re.fullmatch(r"cuda(?::(\d+))?", name)
    if m is None:
        raise UserError(f"unknown --device {name!r}: use auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise UserError(f"--device {name} requested but CUDA is not available; use --device cpu")
    if m.group(1) is not None and int(m.group(1)) >= torch.cuda.device_count():
        raise UserError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                        f"numbered from 0; use --device cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
    return torch.device(name)


CHECKPOINT_KIND = "torch-bridge"   # the kind tag of the shared checksummed torch checkpoint family
_LOAD_HINT = "produce it again (ann-train, convert, hybrid-train or diet-train)"


def save_checkpoint(path: str, **payload) -> None:
    """Atomically write a checkpoint dict (``kind``, ``model_config``, ``model_state``, ...), checksummed.

    The file is one of the shared :func:`stdp_toolkit.checkpoint.save_torch` checkpoints (kind
    ``torch-bridge``): a crash leaves the old file, a damaged byte is found on load, and a full
    disk or a read-only folder is one UserError line.
    """
    from .. import checkpoint

    payload.setdefault("format", CHECKPOINT_FORMAT)
    checkpoint.save_torch(path, payload, kind=CHECKPOINT_KIND)


def load_checkpoint(path: str, hint: str = _LOAD_HINT) -> dict:
    """The dict :func:`save_checkpoint` wrote, or one UserError line (missing, damaged, other kind)."""
    from .. import checkpoint

    if os.path.isdir(path):
        raise UserError(f"checkpoint {path} is a folder; give the .pt file inside it")
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path}; check the path, or {hint}")
    ck = checkpoint.load_torch(path, CHECKPOINT_KIND, hint=hint)
    if ck.get("format") != CHECKPOINT_FORMAT or ck.get("kind") not in ("ann", "snn"):
        raise UserError(f"{path} is not a stdp-toolkit torch-bridge checkpoint of this version; {hint}")
    missing = [k for k in ("dataset", "model_config", "model_state") if k not in ck]
    if missing:
        raise UserError(f"checkpoint {path} lacks {', '.join(missing)}; {hint}")
    return ck


def file_sha256(path: str) -> str:
    """SHA-256 of a file's bytes (identifies the checkpoint a run started from)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def rng_state(device: torch.device) -> dict:
    """The random state a resumed run must continue from (dropout masks, Poisson spikes).

    Data shuffling needs none: each epoch draws its order from its own generator seeded with
    ``seed + epoch`` (see :func:`fit`).
    """
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Optional[dict], device: torch.device) -> None:
    """Restore :func:`rng_state` (before the first resumed epoch)."""
    if not state:
        return
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state.get("cuda") is not None and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_show(v) for v in value) or "[]"
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def resume_differences(saved: dict, current: dict) -> List[str]:
    """``"lr: 0.001 -> 0.01"`` for every setting or data identity that differs between two runs.

    ``saved`` / ``current``: ``{"settings": {...}, "data": {"train": identity, ...}, "init": identity}``
    (identities as :func:`stdp_toolkit.checkpoint.data_identity` returns them).
    """
    diffs = []
    old_s, new_s = saved.get("settings", {}), current.get("settings", {})
    for key in sorted(set(old_s) | set(new_s)):
        a, b = old_s.get(key), new_s.get(key)
        if a != b:
            diffs.append(f"{key}: {_show(a)} -> {_show(b)}")
    old_d, new_d = saved.get("data", {}), current.get("data", {})
    for key in sorted(set(old_d) | set(new_d)):
        a, b = old_d.get(key) or {}, new_d.get(key) or {}
        if a.get("sha256") != b.get("sha256"):
            diffs.append(f"{key} data: {a.get('name', 'none')} (sha256 {str(a.get('sha256'))[:12]}) -> "
                         f"{b.get('name', 'none')} (sha256 {str(b.get('sha256'))[:12]})")
    a, b = saved.get("init") or {}, current.get("init") or {}
    if a.get("sha256") != b.get("sha256"):
        diffs.append(f"--checkpoint: {a.get('name', 'none')} (sha256 {str(a.get('sha256'))[:12]}) -> "
                     f"{b.get('name', 'none')} (sha256 {str(b.get('sha256'))[:12]})")
    return diffs


def check_resume(path: str, prev: dict, current: dict, epochs: int) -> None:
    """UserError naming every difference if the run in ``prev`` cannot be continued by this one."""
    saved = prev.get("resume")
    if not isinstance(saved, dict):
        raise UserError(f"cannot resume {path}: it records no training settings to check; choose another --out "
                        "to start a new run")
    diffs = resume_differences(saved, current)
    if diffs:
        raise UserError(f"cannot resume {path}: it was trained with other settings or data ({'; '.join(diffs)}); "
                        "give the same options and data, or choose another --out to start a new run")
    if epochs < prev["epoch"]:
        raise UserError(f"cannot resume {path} with --epochs {epochs}: it has already trained {prev['epoch']} "
                        f"epochs; give --epochs {prev['epoch']} or more")


def stretch_schedule(scheduler, optimizer, epochs: int) -> None:
    """Make a resumed cosine schedule end at ``epochs`` (closed form at the epoch reached)."""
    import math

    if scheduler.T_max == epochs:
        return
    scheduler.T_max = epochs
    t = min(scheduler.last_epoch, epochs)
    for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
        group["lr"] = scheduler.eta_min + (base - scheduler.eta_min) * (1 + math.cos(math.pi * t / epochs)) / 2
    scheduler._last_lr = [g["lr"] for g in optimizer.param_groups]


def model_from_checkpoint(ck: dict) -> ConvertibleNet:
    """The ANN of a checkpoint, in eval mode (call ``.train()`` before training it)."""
    model = build_model(ck["model_config"])
    model.load_state_dict(ck["model_state"])
    return model.eval()


def snn_from_checkpoint(ck: dict, ann: Optional[ConvertibleNet] = None, **overrides) -> SpikingNet:
    """Rebuild the SNN of an ``snn`` checkpoint (thresholds, leaks, encoding), ``overrides`` win.

    Returned in eval mode (no dropout); ``fit`` switches to training mode itself."""
    if ck.get("snn_config") is None:
        raise UserError("this checkpoint holds an ANN, not an SNN: run `stdp-toolkit convert` or `diet-train` first")
    ann = model_from_checkpoint(ck) if ann is None else ann
    cfg = dict(ck["snn_config"])
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return SpikingNet(ann, timesteps=cfg["timesteps"], encoding=cfg["encoding"], thresholds=cfg["thresholds"],
                      leak=cfg["leaks"], surrogate=cfg.get("surrogate", "linear"), gamma=cfg.get("gamma", 0.3),
                      alpha=cfg.get("alpha", 0.3), beta=cfg.get("beta", 0.01), input_scale=cfg.get("input_scale", 1.0),
                      train_threshold=cfg.get("train_threshold", False),
                      train_leak=cfg.get("train_leak", False)).eval()


@torch.no_grad()
def evaluate(forward: Callable, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500,
             device: torch.device = torch.device("cpu"), progress: bool = False, desc: str = "eval") -> float:
    """Accuracy in [0, 1] of ``forward`` (a callable batch -> logits)."""
    correct = 0
    it = batches(x, y, batch_size)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, total=-(-len(y) // batch_size), desc=desc, leave=False)
    for xb, yb in it:
        correct += int((forward(xb.to(device)).argmax(1).cpu() == yb).sum())
    return correct / max(1, len(y))


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise UserError(f"unknown optimizer {name!r}: use 'sgd' or 'adam'")


def fit(model: nn.Module, forward: Callable, data: Dict[str, torch.Tensor], *, epochs: int, batch_size: int,
        optimizer, scheduler=None, start_epoch: int = 0, augment: bool = False, device=torch.device("cpu"),
        after_step: Optional[Callable[[], None]] = None, eval_forward: Optional[Callable] = None,
        eval_batch_size: int = 500, on_epoch_end: Optional[Callable[[int, dict], None]] = None,
        progress: bool = True, seed: int = 0, history: Optional[List[dict]] = None,
        max_batches: Optional[int] = None) -> List[dict]:
    """Cross-entropy training for ``epochs`` (from ``start_epoch``), evaluating after each epoch.

    ``after_step`` runs after every optimiser step (e.g. clamping leaks); ``on_epoch_end(epoch,
    record)`` is where checkpoints are written.  Returns the history (one dict per epoch).
    """
    history = list(history or [])
    eval_forward = eval_forward or forward
    for epoch in range(start_epoch, epochs):
        gen = torch.Generator().manual_seed(seed + epoch)
        model.train()
        t0 = time.time()
        total_loss, correct, seen = 0.0, 0, 0
        nb = -(-len(data["y_train"]) // batch_size)
        if max_batches:
            nb = min(nb, max_batches)
        it = batches(data["x_train"], data["y_train"], batch_size, shuffle=True, augment=augment, generator=gen)
        if progress:
            from tqdm import tqdm
            it = tqdm(it, total=nb, desc=f"epoch {epoch + 1}/{epochs}", leave=False)
        for b, (xb, yb) in enumerate(it):
            if max_batches and b >= max_batches:
                break
            xb, yb = xb.to(device), yb.to(device)
            out = forward(xb)
            loss = F.cross_entropy(out, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step()
            total_loss += float(loss.detach()) * len(yb)
            correct += int((out.argmax(1) == yb).sum())
            seen += len(yb)
            if progress and b % 10 == 0:
                it.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        if scheduler is not None:
            scheduler.step()
        train_time = time.time() - t0
        model.eval()
        test_acc = evaluate(eval_forward, data["x_test"], data["y_test"], eval_batch_size, device,
                            progress=progress, desc="test")
        record = dict(epoch=epoch + 1, train_loss=total_loss / max(1, seen), train_acc=correct / max(1, seen),
                      test_acc=test_acc, train_seconds=train_time, eval_seconds=time.time() - t0 - train_time)
        history.append(record)
        if progress:
            from tqdm import tqdm
            tqdm.write(f"epoch {epoch + 1}: loss {record['train_loss']:.4f} train {record['train_acc']:.4f} "
                       f"test {test_acc:.4f} ({train_time:.0f}s)", file=sys.stderr)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, record)
    return history
