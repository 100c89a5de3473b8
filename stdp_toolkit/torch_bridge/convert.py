"""ANN→SNN conversion: layer-by-layer threshold balancing and accuracy-versus-time-steps curves."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from ..errors import UserError
from .models import ConvertibleNet
from .snn import SpikingNet

__all__ = ["robust_max", "balance_thresholds", "ann_activation_thresholds", "accuracy_vs_timesteps"]

_MAX_VALUES = 4_000_000  # values kept for a percentile (randomly subsampled above this)


def robust_max(chunks: Sequence[torch.Tensor], mode: str = "max", percentile: float = 99.7,
               generator: Optional[torch.Generator] = None) -> float:
    """Maximum (``mode="max"``) or ``percentile``-th percentile (``mode="percentile"``) of all values.

    Exact as long as the chunks hold at most 4 million values in total; above that a uniform random
    subsample of 4 million values is used for the percentile (the maximum is always exact).
    """
    if mode == "max":
        return float(max(float(c.max()) for c in chunks))
    if mode != "percentile":
        raise UserError(f"balancing mode must be 'max' or 'percentile', not {mode!r}")
    if not 0 < percentile <= 100:
        raise UserError(f"percentile must be in (0, 100], got {percentile}")
    total = sum(c.numel() for c in chunks)
    keep = []
    for c in chunks:
        flat = c.reshape(-1).float().cpu()
        if total > _MAX_VALUES:
            n = max(1, int(flat.numel() * _MAX_VALUES / total))
            idx = torch.randint(0, flat.numel(), (n,), generator=generator)
            flat = flat[idx]
        keep.append(flat.numpy())
    return float(np.percentile(np.concatenate(keep), percentile))


@torch.no_grad()
def balance_thresholds(snn: SpikingNet, x: torch.Tensor, timesteps: int = 100, mode: str = "max",
                       percentile: float = 99.7, scale: float = 1.0, progress: bool = False) -> List[float]:
    """Layer-by-layer threshold balancing (Sengupta et al. 2019; Rathi et al. 2020).

    For each population ``l`` in order, run the SNN on the batch ``x`` for ``timesteps`` steps with
    populations ``< l`` already spiking at their balanced thresholds, and set ``V_th(l)`` to the
    maximum (or the ``percentile``) of the input current population ``l`` receives.  Finally all
    thresholds are multiplied by ``scale`` (e.g. 0.7).  Sets and returns the thresholds.
    """
    was_training = snn.training
    snn.eval()
    values: List[float] = []
    layers = range(len(snn.neurons))
    if progress:
        from tqdm import tqdm
        layers = tqdm(layers, desc="threshold balancing", leave=False)
    for l in layers:
        chunks = snn.probe_inputs(x, l, timesteps)
        v = robust_max(chunks, mode, percentile)
        if not np.isfinite(v) or v <= 0:
            v = 1e-3  # a dead layer: any positive threshold keeps it silent
        values.append(v)
        with torch.no_grad():
            snn.neurons[l].threshold.fill_(v)
    values = [v * scale for v in values]
    snn.set_thresholds(values)
    snn.train(was_training)
    return values


@torch.no_grad()
def ann_activation_thresholds(ann: ConvertibleNet, x: torch.Tensor, percentile: float = 99.7,
                              scale: float = 1.0, mode: str = "percentile") -> List[float]:
    """Per-layer percentile (or max) of the ANN's pre-activations on ``x``, times ``scale``.

    DIET-SNN's initialisation: ``V_th(l) = percentile_99.7(pre-activation at l) * scale``.
    """
    was_training = ann.training
    ann.eval()
    store: Dict[int, torch.Tensor] = {}

    def act(i, z):
        store[i] = z.detach()
        return torch.relu(z)

    ann.body(x, act, lambda i, z: z)
    ann.train(was_training)
    out = []
    for i in range(ann.n_act):
        v = robust_max([store[i]], mode, percentile)
        out.append(max(v, 1e-3) * scale)
    return out


@torch.no_grad()
def accuracy_vs_timesteps(snn: SpikingNet, batches, timesteps: Sequence[int],
                          progress: bool = False) -> Dict[int, float]:
    """Test accuracy at each ``T`` in ``timesteps`` from one run of ``max(timesteps)`` steps per batch.

    ``batches`` yields ``(x, y)``.  Returns ``{T: accuracy in [0, 1]}``.
    """
    snn.eval()
    ts = sorted(set(int(t) for t in timesteps))
    correct = {t: 0 for t in ts}
    n = 0
    it = batches
    if progress:
        from tqdm import tqdm
        it = tqdm(batches, desc=f"SNN eval T<={ts[-1]}", leave=False)
    for x, y in it:
        _, hist = snn(x, ts[-1], return_all=True)
        for t in ts:
            correct[t] += int((hist[t - 1].argmax(1) == y).sum())
        n += len(y)
    return {t: correct[t] / max(n, 1) for t in ts}
