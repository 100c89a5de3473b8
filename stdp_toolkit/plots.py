"""Figures a neuroscientist looks at: rasters, receptive fields, θ, confusion, learning curve.

Every function takes plain arrays and returns a matplotlib Figure, so it works the same in a
notebook and from ``stdp-toolkit plot``.
"""
from __future__ import annotations

import math
import os

import matplotlib.pyplot as plt
import numpy as np


def receptive_fields(weights: np.ndarray, shape=(28, 28), max_neurons: int = 400, title: str = "Input weights"):
    """Grid of each neuron's input weights as an image ([n_inputs, n_neurons])."""
    n = min(weights.shape[1], max_neurons)
    side = math.ceil(math.sqrt(n))
    h, w = shape
    grid = np.full((side * h, side * w), np.nan)
    for k in range(n):
        r, c = divmod(k, side)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = weights[:, k].reshape(shape)
    fig, ax = plt.subplots(figsize=(8, 8))
    im = ax.imshow(grid, cmap="hot_r", interpolation="nearest", vmin=0)
    ax.set_title(f"{title} ({n} neurons)")
    ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="weight")
    fig.tight_layout()
    return fig


def rasters(groups: dict, t_max: float | None = None, boundaries: float | None = None, title: str = "Spike rasters"):
    """Raster per population: ``groups`` maps a name to (neuron indices, times in s)."""
    fig, axes = plt.subplots(len(groups), 1, figsize=(10, 2.4 * len(groups)), sharex=True, squeeze=False)
    for ax, (name, (i, t)) in zip(axes[:, 0], groups.items()):
        ax.plot(np.asarray(t) * 1e3, i, "|", ms=3, color="k")
        ax.set_ylabel(f"{name}\nneuron")
        if boundaries:
            top = t_max if t_max is not None else (np.max(t) if len(t) else 0)
            for b in np.arange(0, top + 1e-9, boundaries):
                ax.axvline(b * 1e3, color="tab:red", lw=0.6, alpha=0.5)
    axes[-1, 0].set_xlabel("time (ms)")
    if t_max is not None:
        axes[-1, 0].set_xlim(0, t_max * 1e3)
    axes[0, 0].set_title(title)
    fig.tight_layout()
    return fig


def theta_histogram(theta_volts: np.ndarray):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(np.asarray(theta_volts) * 1e3, bins=40, color="tab:blue")
    ax.set_xlabel("adaptive threshold θ (mV)")
    ax.set_ylabel("neurons")
    ax.set_title("θ after training")
    fig.tight_layout()
    return fig


def confusion(cm: np.ndarray, title: str = "Confusion matrix"):
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for (r, c), v in np.ndenumerate(cm):
        ax.text(c, r, str(v), ha="center", va="center", fontsize=7, color="w" if norm[r, c] > 0.5 else "k")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(cm.shape[1])), ax.set_yticks(range(cm.shape[0]))
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title} (accuracy {acc:.1%})")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def learning_curve(curve, title: str = "Accuracy during training"):
    """``curve``: [(samples seen, accuracy)], e.g. the running accuracy of a training run."""
    curve = np.asarray(curve, dtype=float).reshape(-1, 2)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(curve[:, 0], curve[:, 1] * 100, "o-", ms=3)
    ax.set_xlabel("training samples")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def assignments_histogram(assignments: np.ndarray):
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(range(10), np.bincount(np.asarray(assignments, int), minlength=10))
    ax.set_xlabel("class")
    ax.set_ylabel("neurons")
    ax.set_xticks(range(10))
    ax.set_title("Neurons per assigned class")
    fig.tight_layout()
    return fig


def save(fig, path: str) -> str:
    """Write a figure atomically (a full disk leaves the old figure, and one error line)."""
    from .checkpoint import atomic_write

    try:
        atomic_write(path, lambda fh: fig.savefig(fh, dpi=110, format=os.path.splitext(path)[1][1:] or "png"))
    finally:
        plt.close(fig)
    return path


# ---- compression (stdp_toolkit/compression) ------------------------------------------------------
def pruning_masks(mask: np.ndarray, shape=(28, 28), max_neurons: int = 100, title: str = "Pruning masks"):
    """Each neuron's kept (white) and pruned (black) input synapses as an image ([n_inputs, n_neurons])."""
    mask = np.asarray(mask, dtype=float)
    n = min(mask.shape[1], max_neurons)
    side = math.ceil(math.sqrt(n))
    h, w = shape
    grid = np.full((side * (h + 1), side * (w + 1)), 0.5)
    for k in range(n):
        r, c = divmod(k, side)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = mask[:, k].reshape(shape)
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(f"{title}: white kept, black pruned ({n} of {mask.shape[1]} neurons, "
                 f"{1 - mask.mean():.0%} pruned)")
    ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def weight_histograms(before: np.ndarray, after: np.ndarray, mask: np.ndarray | None = None, bins: int = 100,
                      title: str = "Input weights before and after quantization"):
    """Histograms of the unpruned weights before and after quantization (log count axis)."""
    before, after = np.asarray(before, float).ravel(), np.asarray(after, float).ravel()
    keep = np.ones_like(before, bool) if mask is None else np.asarray(mask).ravel() > 0
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    hi = max(before[keep].max(initial=0), after[keep].max(initial=0), 1e-6)
    edges = np.linspace(0, hi, bins + 1)
    ax.hist(before[keep], bins=edges, alpha=0.6, label="before (float)", color="tab:blue")
    ax.hist(after[keep], bins=edges, alpha=0.8, label=f"after ({np.unique(after[keep]).size} levels)",
            color="tab:red", histtype="step", lw=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("weight (unpruned synapses)")
    ax.set_ylabel("synapses")
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    return fig


def pareto(results: list, x: str = "bits_per_synapse", y: str = "accuracy", title: str = "Accuracy vs compression"):
    """Scatter of sweep results (dicts with ``x``, ``y``, sparsity, levels), Pareto front joined."""
    xs = np.array([r[x] for r in results], float)
    ys = np.array([r[y] for r in results], float)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    sc = ax.scatter(xs, ys * 100, c=[r["sparsity"] for r in results], cmap="viridis", s=40, zorder=3)
    for r, xv, yv in zip(results, xs, ys):
        ax.annotate(f"{r['levels'] or 'fp'}", (xv, yv * 100), fontsize=7, xytext=(3, 3), textcoords="offset points")
    order = np.lexsort((-ys, xs))
    front, best = [], -np.inf
    for k in order:
        if ys[k] > best:
            front.append(k)
            best = ys[k]
    ax.plot(xs[front], ys[front] * 100, "-", color="tab:red", lw=1.2, label="Pareto front", zorder=2)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("effective bits per synapse (weights + sparsity storage)")
    ax.set_ylabel("accuracy (%)")
    fig.colorbar(sc, ax=ax, label="fraction pruned")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    ax.set_title(title + " (labels: levels)")
    fig.tight_layout()
    return fig


# ---- multimodal (stdp_toolkit/multimodal.py) -------------------------------------------------------
def cross_weights(matrix: np.ndarray, assignments: np.ndarray, ensembles, title: str = "Cross-modal weights"):
    """Cross-modal weights (pre rows, post columns) of two ensembles, neurons sorted by their label.

    Learned class correlation shows as a block diagonal: neurons of digit c in one ensemble drive
    the neurons of digit c in the other.
    """
    a, b = ensembles[0], ensembles[1]
    ia = a.neurons.start + np.argsort(assignments[a.neurons], kind="stable")
    ib = b.neurons.start + np.argsort(assignments[b.neurons], kind="stable")
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, (pre, post, pname, qname) in zip(axes, ((ia, ib, a.name, b.name), (ib, ia, b.name, a.name))):
        im = ax.imshow(matrix[np.ix_(pre, post)], cmap="hot_r", aspect="auto", interpolation="nearest", vmin=0)
        ax.set_xlabel(f"{qname} neuron (sorted by label)")
        ax.set_ylabel(f"{pname} neuron (sorted by label)")
        ax.set_title(f"{pname} → {qname}")
        for grp, axis in ((assignments[pre], ax.axhline), (assignments[post], ax.axvline)):
            for edge in np.flatnonzero(np.diff(grp)) + 0.5:
                axis(edge, color="tab:blue", lw=0.4, alpha=0.6)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="weight")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def noise_curves(curves: dict, title: str = "Accuracy under noise"):
    """Accuracy against noise level; ``curves`` maps a name to [(level, accuracy)], one axis per noise kind."""
    kinds = sorted({k.split(" | ")[0] for k in curves})
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 4), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        for name, pts in curves.items():
            if name.split(" | ")[0] != kind:
                continue
            pts = sorted(pts)
            ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], "o-", label=name.split(" | ")[-1])
        if kind.endswith("snr"):
            ax.invert_xaxis()
        ax.set_xlabel(kind + (" (dB)" if kind.endswith("snr") else " level"))
        ax.set_ylabel("accuracy (%)")
        ax.axhline(10, color="grey", lw=0.6, ls=":")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
