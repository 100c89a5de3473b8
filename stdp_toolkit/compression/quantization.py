"""Quantization of the surviving input weights to k conductance levels.

Two schemes, both with 0 as one of the k levels (a device that is off):

``uniform``  k levels equally spaced on [0, wmax] (the natural choice for a device with evenly
             spaced conductance states).
``kmeans``   0 plus k-1 levels fitted to the unpruned, non-zero weights by 1-D k-means (Lloyd's
             algorithm, started from the weights' quantiles): more levels where the weights are
             dense. When the weights already take at most k-1 distinct non-zero values, those
             values are the (zero-error) optimum, so quantizing twice changes nothing.

Every weight goes to its nearest level; pruned synapses (mask 0) stay exactly 0.
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError
from .settings import SCHEMES


def levels_for(w: np.ndarray, k: int, scheme: str = "uniform", wmax: float = 1.0,
               mask: np.ndarray | None = None, iterations: int = 50) -> np.ndarray:
    """The sorted conductance levels (at most k, including 0) for these weights."""
    if not isinstance(k, (int, np.integer)) or not 2 <= k <= 256:
        raise UserError(f"quantization levels must be an integer from 2 to 256, got {k!r}")
    if scheme not in SCHEMES:
        raise UserError(f"unknown quantization scheme {scheme!r}; choose one of: {', '.join(SCHEMES)}")
    if scheme == "uniform":
        return np.linspace(0.0, wmax, k)
    w = np.asarray(w, dtype=float).ravel()
    keep = w > 0
    if mask is not None:
        keep &= np.asarray(mask).ravel() > 0
    values = np.clip(w[keep], 0.0, wmax)
    distinct = np.unique(values)
    if len(distinct) <= k - 1:
        return np.unique(np.concatenate([[0.0], distinct]))
    centres = np.quantile(values, (np.arange(k - 1) + 0.5) / (k - 1))
    for _ in range(iterations):
        edges = (centres[1:] + centres[:-1]) / 2
        idx = np.searchsorted(edges, values)
        sums = np.bincount(idx, weights=values, minlength=k - 1)
        counts = np.bincount(idx, minlength=k - 1)
        new = np.where(counts > 0, sums / np.maximum(counts, 1), centres)
        new = np.sort(new)
        if np.allclose(new, centres, rtol=0, atol=1e-12):
            break
        centres = new
    return np.unique(np.concatenate([[0.0], centres]))


def snap(w: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Each weight replaced by its nearest level."""
    levels = np.asarray(levels, dtype=float)
    edges = (levels[1:] + levels[:-1]) / 2
    return levels[np.searchsorted(edges, np.asarray(w, dtype=float))]


def quantize(w: np.ndarray, k: int, scheme: str = "uniform", wmax: float = 1.0,
             mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(quantized weights, levels): nearest of at most k levels; pruned synapses stay 0."""
    w = np.asarray(w, dtype=float)
    levels = levels_for(w, k, scheme, wmax, mask)
    q = snap(np.clip(w, 0.0, wmax), levels)
    if mask is not None:
        q = np.where(np.asarray(mask).reshape(q.shape) > 0, q, 0.0)
    return q, levels
