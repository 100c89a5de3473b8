"""Figures a neuroscientist looks at: rasters, receptive fields, θ, confusion, learning curve.

Every function takes plain arrays. Without ``ax=`` (or ``axes=``) it returns a new
``matplotlib.figure.Figure`` that pyplot does not know about: a notebook shows it once, as the
cell's value, and a script or ``stdp-toolkit plot`` never piles up open pyplot figures. With
``ax=`` it draws into your Axes and returns it (the pandas/seaborn convention), so your own
``plt.subplots()`` figure is shown once, by pyplot. ``save`` writes either kind.
"""
from __future__ import annotations

import importlib
import math
import os
import sys

import numpy as np

from .errors import UserError


# ---- figures without pyplot ---------------------------------------------------------------------
def _new_figure(figsize):
    """A Figure outside pyplot, laid out tightly when drawn (nothing to close, nothing shown twice)."""
    from matplotlib.figure import Figure

    _inline_display()
    return Figure(figsize=figsize, layout="tight")


def _inline_display() -> None:
    """In Jupyter, make a Figure render as an image even before pyplot made any figure.

    The inline backend registers its image formatter when its module is first imported, which
    pyplot normally does on its first figure; without that a returned Figure shows as text.
    Importing it then switches no figures away: a pyplot figure would have imported it already.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None or "matplotlib_inline.backend_inline" in sys.modules:
        return
    import matplotlib

    try:
        backend = matplotlib.get_backend(auto_select=False)  # matplotlib >= 3.10: does not pick one
    except TypeError:
        backend = matplotlib.rcParams._get_backend_or_none()
    if backend in ("inline", "module://matplotlib_inline.backend_inline"):
        try:
            importlib.import_module("matplotlib_inline.backend_inline")
        except ImportError:
            pass


def _check_axes(ax, where: str):
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise UserError(f"{where} must be a matplotlib Axes (e.g. from fig.add_subplot()), "
                        f"not {type(ax).__name__}")
    return ax


def _one_axes(ax, figsize):
    """(figure to return or None, Axes to draw on): a new figure when ``ax`` is None, else ``ax``."""
    if ax is None:
        fig = _new_figure(figsize)
        return fig, fig.add_subplot()
    return None, _check_axes(ax, "ax=")


def _many_axes(axes, n: int, fn: str, what: str, figsize, **subplots):
    """(figure to return or None, list of ``n`` Axes): a new figure, or the caller's ``axes``."""
    if axes is None:
        fig = _new_figure(figsize)
        return fig, list(fig.subplots(squeeze=False, **subplots).ravel())
    flat = list(np.asarray(axes, dtype=object).ravel())
    if len(flat) != n:
        raise UserError(f"{fn}(axes=...) needs {n} Axes ({what}), got {len(flat)}: pass {n} or leave axes= out")
    return None, [_check_axes(a, "each of axes=") for a in flat]


def save(fig, path: str) -> str:
    """Write a figure atomically (a full disk leaves the old figure, and one error line).

    Takes a Figure from these functions or pyplot, or an Axes (its whole figure is written). It
    closes nothing: these functions' figures are not pyplot's, and a pyplot figure of yours stays
    open to be shown.
    """
    from matplotlib.figure import Figure

    from .checkpoint import atomic_write

    if isinstance(fig, (list, tuple, np.ndarray)):
        fig = np.asarray(fig, dtype=object).ravel()[0]
    while not isinstance(fig, Figure):  # an Axes -> its (sub)figure -> the figure that holds it
        if getattr(fig, "figure", None) is None or fig.figure is fig:
            raise UserError(f"save() needs a matplotlib Figure or Axes, not {type(fig).__name__}")
        fig = fig.figure
    atomic_write(path, lambda fh: fig.savefig(fh, dpi=110, format=os.path.splitext(path)[1][1:] or "png"))
    return path


# ---- the training run ---------------------------------------------------------------------------
def receptive_fields(weights: np.ndarray, shape=(28, 28), max_neurons: int = 400, title: str = "Input weights",
                     *, ax=None):
    """Grid of each neuron's input weights as an image ([n_inputs, n_neurons]).

    What each neuron learned to respond to: with STDP on digits, each tile looks like a digit.

    Example::

        import matplotlib.pyplot as plt
        import stdp_toolkit as st

        run = st.load("runs/mine")
        st.plots.receptive_fields(run.weights)       # a cell's last line: the Figure is shown once

        fig, (a, b) = plt.subplots(1, 2, figsize=(12, 6))     # or side by side, in your figure
        st.plots.receptive_fields(run.weights[:, :100], ax=a, title="first 100")
        st.plots.receptive_fields(run.weights[:, 100:200], ax=b, title="next 100")
    """
    n = min(weights.shape[1], max_neurons)
    side = math.ceil(math.sqrt(n))
    h, w = shape
    grid = np.full((side * h, side * w), np.nan)
    for k in range(n):
        r, c = divmod(k, side)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = weights[:, k].reshape(shape)
    fig, ax = _one_axes(ax, (8, 8))
    im = ax.imshow(grid, cmap="hot_r", interpolation="nearest", vmin=0)
    ax.set_title(f"{title} ({n} neurons)")
    ax.set_xticks([]), ax.set_yticks([])
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="weight")
    return ax if fig is None else fig


def rasters(groups: dict, t_max: float | None = None, boundaries: float | None = None, title: str = "Spike rasters",
            *, axes=None):
    """Raster per population: ``groups`` maps a name to (neuron indices, times in s).

    One Axes per population, so ``axes=`` takes ``len(groups)`` of them; ``boundaries`` (s) marks
    where each presented sample starts.

    Example::

        import numpy as np
        from stdp_toolkit import plots

        t = np.sort(np.random.rand(300)) * 0.7          # spike times (s)
        i = np.random.randint(0, 20, 300)               # which neuron spiked
        fig = plots.rasters({"excitatory": (i, t)}, t_max=0.7, boundaries=0.35)
        plots.save(fig, "rasters.png")
    """
    fig, axs = _many_axes(axes, len(groups), "rasters", "one per population: " + ", ".join(map(str, groups)),
                          (10, 2.4 * len(groups)), nrows=len(groups), ncols=1, sharex=True)
    for ax, (name, (i, t)) in zip(axs, groups.items()):
        ax.plot(np.asarray(t) * 1e3, i, "|", ms=3, color="k")
        ax.set_ylabel(f"{name}\nneuron")
        if boundaries:
            top = t_max if t_max is not None else (np.max(t) if len(t) else 0)
            for b in np.arange(0, top + 1e-9, boundaries):
                ax.axvline(b * 1e3, color="tab:red", lw=0.6, alpha=0.5)
        if t_max is not None:
            ax.set_xlim(0, t_max * 1e3)
    axs[-1].set_xlabel("time (ms)")
    axs[0].set_title(title)
    return axes if fig is None else fig


def theta_histogram(theta_volts: np.ndarray, *, ax=None):
    """Adaptive thresholds after training: a wide spread means homeostasis is doing its job."""
    fig, ax = _one_axes(ax, (5, 3.5))
    ax.hist(np.asarray(theta_volts) * 1e3, bins=40, color="tab:blue")
    ax.set_xlabel("adaptive threshold θ (mV)")
    ax.set_ylabel("neurons")
    ax.set_title("θ after training")
    return ax if fig is None else fig


def confusion(cm: np.ndarray, title: str = "Confusion matrix", *, ax=None):
    """Counts per (true, predicted) class, shaded by row so rare classes read as well as common ones."""
    cm = np.asarray(cm)
    fig, ax = _one_axes(ax, (5, 4.5))
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for (r, c), v in np.ndenumerate(cm):
        ax.text(c, r, str(v), ha="center", va="center", fontsize=7, color="w" if norm[r, c] > 0.5 else "k")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(cm.shape[1])), ax.set_yticks(range(cm.shape[0]))
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title} (accuracy {acc:.1%})")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax if fig is None else fig


def learning_curve(curve, title: str = "Accuracy during training", *, ax=None):
    """``curve``: [(samples seen, accuracy)], e.g. the running accuracy of a training run."""
    curve = np.asarray(curve, dtype=float).reshape(-1, 2)
    fig, ax = _one_axes(ax, (6, 3.5))
    ax.plot(curve[:, 0], curve[:, 1] * 100, "o-", ms=3)
    ax.set_xlabel("training samples")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    return ax if fig is None else fig


def assignments_histogram(assignments: np.ndarray, *, ax=None):
    """Neurons per assigned class: a class with few neurons is one the network will often miss."""
    fig, ax = _one_axes(ax, (5, 3))
    ax.bar(range(10), np.bincount(np.asarray(assignments, int), minlength=10))
    ax.set_xlabel("class")
    ax.set_ylabel("neurons")
    ax.set_xticks(range(10))
    ax.set_title("Neurons per assigned class")
    return ax if fig is None else fig


# ---- compression (stdp_toolkit/compression) ------------------------------------------------------
def pruning_masks(mask: np.ndarray, shape=(28, 28), max_neurons: int = 100, title: str = "Pruning masks", *, ax=None):
    """Each neuron's kept (white) and pruned (black) input synapses as an image ([n_inputs, n_neurons])."""
    mask = np.asarray(mask, dtype=float)
    n = min(mask.shape[1], max_neurons)
    side = math.ceil(math.sqrt(n))
    h, w = shape
    grid = np.full((side * (h + 1), side * (w + 1)), 0.5)
    for k in range(n):
        r, c = divmod(k, side)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = mask[:, k].reshape(shape)
    fig, ax = _one_axes(ax, (8, 8))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(f"{title}: white kept, black pruned ({n} of {mask.shape[1]} neurons, "
                 f"{1 - mask.mean():.0%} pruned)")
    ax.set_xticks([]), ax.set_yticks([])
    return ax if fig is None else fig


def weight_histograms(before: np.ndarray, after: np.ndarray, mask: np.ndarray | None = None, bins: int = 100,
                      title: str = "Input weights before and after quantization", *, ax=None):
    """Histograms of the unpruned weights before and after quantization (log count axis)."""
    before, after = np.asarray(before, float).ravel(), np.asarray(after, float).ravel()
    keep = np.ones_like(before, bool) if mask is None else np.asarray(mask).ravel() > 0
    fig, ax = _one_axes(ax, (6.5, 3.8))
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
    return ax if fig is None else fig


def pareto(results: list, x: str = "bits_per_synapse", y: str = "accuracy", title: str = "Accuracy vs compression",
           *, ax=None):
    """Scatter of sweep results (dicts with ``x``, ``y``, sparsity, levels), Pareto front joined."""
    xs = np.array([r[x] for r in results], float)
    ys = np.array([r[y] for r in results], float)
    fig, ax = _one_axes(ax, (6.5, 4.2))
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
    ax.figure.colorbar(sc, ax=ax, label="fraction pruned")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    ax.set_title(title + " (labels: levels)")
    return ax if fig is None else fig


# ---- multimodal (stdp_toolkit/multimodal.py) -------------------------------------------------------
def study(summary: list, title: str = "Accuracy over seeds", *, ax=None):
    """Per config: mean ± sd over seeds of both votes (bars), each seed (dots), the test set's standard
    error (the thin cap). ``summary``: the rows of :func:`stdp_toolkit.study.summarise`."""
    fig, ax = _one_axes(ax, (max(5.5, 1.6 * len(summary) + 2), 4.2))
    x = np.arange(len(summary))
    for k, (key, label, color) in enumerate((("accuracy", "mean-rate vote", "tab:blue"),
                                             ("accuracy_proportion", "proportion vote", "tab:orange"))):
        pos = x + (k - 0.5) * 0.36
        means = np.array([r[key + "_mean"] for r in summary]) * 100
        sds = np.nan_to_num(np.array([r[key + "_sd"] for r in summary])) * 100
        ax.bar(pos, means, 0.34, yerr=sds, capsize=4, color=color, alpha=0.6, label=f"{label} (mean ± sd)")
        for p, r in zip(pos, summary):
            ax.plot(np.full(len(r[key]), p), np.array(r[key]) * 100, "k.", ms=4, zorder=3)
    se = np.array([r["test_standard_error"] for r in summary]) * 100
    ax.errorbar(x - 0.18, [r["accuracy_mean"] * 100 for r in summary], yerr=se, fmt="none", ecolor="k", lw=0.8,
                capsize=2, label="test-set standard error")
    lo = min(min(r["accuracy"] + r["accuracy_proportion"]) for r in summary) * 100
    ax.set_ylim(max(0.0, lo - 5), 100)
    ax.set_xticks(x, [f"{r['config']}\n({len(r['seeds'])} seeds)" for r in summary])
    ax.set_ylabel("test accuracy (%)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=7, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title)
    return ax if fig is None else fig


def cross_weights(matrix: np.ndarray, assignments: np.ndarray, ensembles, title: str = "Cross-modal weights",
                  *, axes=None):
    """Cross-modal weights (pre rows, post columns) of two ensembles, neurons sorted by their label.

    Learned class correlation shows as a block diagonal: neurons of digit c in one ensemble drive
    the neurons of digit c in the other. Two Axes (one per direction); ``title`` titles a figure
    this function makes (with ``axes=`` the figure is yours, and each Axes keeps its own title).
    """
    a, b = ensembles[0], ensembles[1]
    ia = a.neurons.start + np.argsort(assignments[a.neurons], kind="stable")
    ib = b.neurons.start + np.argsort(assignments[b.neurons], kind="stable")
    fig, axs = _many_axes(axes, 2, "cross_weights", f"{a.name} → {b.name} and {b.name} → {a.name}", (11, 5), nrows=1, ncols=2)
    for ax, (pre, post, pname, qname) in zip(axs, ((ia, ib, a.name, b.name), (ib, ia, b.name, a.name))):
        im = ax.imshow(matrix[np.ix_(pre, post)], cmap="hot_r", aspect="auto", interpolation="nearest", vmin=0)
        ax.set_xlabel(f"{qname} neuron (sorted by label)")
        ax.set_ylabel(f"{pname} neuron (sorted by label)")
        ax.set_title(f"{pname} → {qname}")
        for grp, axis in ((assignments[pre], ax.axhline), (assignments[post], ax.axvline)):
            for edge in np.flatnonzero(np.diff(grp)) + 0.5:
                axis(edge, color="tab:blue", lw=0.4, alpha=0.6)
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="weight")
    if fig is None:
        return axes
    fig.suptitle(title)
    return fig


def noise_curves(curves: dict, title: str = "Accuracy under noise", *, axes=None):
    """Accuracy against noise level; ``curves`` maps "kind | name" to [(level, accuracy)].

    One Axes per noise kind (sorted), so curves that share a kind share an x axis; ``title``
    titles a figure this function makes.
    """
    kinds = sorted({k.split(" | ")[0] for k in curves})
    fig, axs = _many_axes(axes, len(kinds), "noise_curves", "one per noise kind: " + ", ".join(kinds), (5.2 * len(kinds), 4),
                          nrows=1, ncols=len(kinds))
    for ax, kind in zip(axs, kinds):
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
    if fig is None:
        return axes
    fig.suptitle(title)
    return fig
