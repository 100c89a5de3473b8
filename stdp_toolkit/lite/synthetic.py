"""A delayed-recall task with a controllable sequence length (for the sequence-length study).

Each sample is ``length`` steps of binary spikes on ``dim`` channels:

* steps ``[0, cue_steps)``: the *cue*: the channel group of the class fires at ``rate``;
* the middle: background noise only (every channel fires at ``noise``);
* the last ``recall_steps`` steps: a "go" channel fires at ``rate``.

The label is the cue's class and must be read out at the end (``readout="last"``), so a model has to
carry it across ``length - cue_steps - recall_steps`` steps of noise. Chance is ``1 / n_classes``.
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError


def make_recall(n: int, length: int, n_classes: int = 4, dim: int = 17, cue_steps: int = 5,
                recall_steps: int = 5, rate: float = 0.8, noise: float = 0.05, seed: int = 0):
    """Return ``(x (n, length, dim) float32 0/1, y (n,) int64)``; the go channel is the last one."""
    if length < cue_steps + recall_steps + 1:
        raise UserError(f"length {length} must exceed cue_steps + recall_steps = {cue_steps + recall_steps}")
    group = (dim - 1) // n_classes
    if group < 1:
        raise UserError(f"dim {dim} too small for {n_classes} classes plus a go channel")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    p = np.full((n, length, dim), noise, dtype=np.float32)
    for c in range(n_classes):
        p[y == c, :cue_steps, c * group:(c + 1) * group] = rate
    p[:, length - recall_steps:, dim - 1] = rate
    x = (rng.random(p.shape) < p).astype(np.float32)
    return x, y.astype(np.int64)
