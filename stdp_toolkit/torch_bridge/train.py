"""Training loops (ANN, hybrid STDB fine-tuning, DIET-SNN), evaluation and checkpoints."""
from __future__ import annotations

import os
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
           "snn_from_checkpoint", "evaluate", "fit", "make_optimizer", "pick_device"]

CHECKPOINT_FORMAT = "stdp-toolkit-torch-bridge/1"


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda requested but CUDA is not available; use --device cpu")
    return torch.device(name)


def save_checkpoint(path: str, **payload) -> None:
    """Atomically write a checkpoint dict (``kind``, ``model_config``, ``model_state``, ...)."""
    payload.setdefault("format", CHECKPOINT_FORMAT)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str) -> dict:
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path}")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise UserError(f"cannot read checkpoint {path}: {exc} (corrupt or not a torch file)") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path} is not a stdp-toolkit torch-bridge checkpoint")
    return ck


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
