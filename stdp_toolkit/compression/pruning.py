"""Correlation-based pruning of the input->excitatory synapses.

Correlation measure (explicit, not the weight as a proxy)
---------------------------------------------------------
While a pruning network learns, every input synapse carries a trace ``c`` that adds the
presynaptic trace ``x_in`` (the STDP rule's own pre trace, time constant ``tau_pre``) at every
postsynaptic spike: after an interval, ``c_ij / n_j`` (``n_j`` = spikes of neuron j) is the mean
presynaptic trace just before neuron j fires, E[x_i | j fires]. Each input also integrates its
trace over time (``x_int``), which gives the chance level E[x_i]: the value that an input firing
independently of neuron j would show at j's spikes. The correlation score of a synapse is

    score_ij = E[x_i | j fires] - E[x_i]        (per interval, averaged over "input-on" time)

Positive: input i tends to fire just before j (it helps to cause j's spikes: the synapses STDP
potentiates). About zero: no relation, whatever the input's rate, and exactly zero for an input
that never fires (an MNIST border pixel). Negative: i is active while j is silent (strokes of
other classes). Pruning by lowest score therefore removes anti-correlated inputs first, then
uncorrelated and silent ones; the silent ones cost no operations, so this order also removes
the most synaptic events per pruned synapse. Scores of successive intervals are combined into a running score
(``decay`` weight on the past). A neuron that did not fire in an interval keeps its old score.

Pruning step: per neuron, the unpruned synapses with the lowest running score are pruned
(ties broken by the lower weight) until the neuron has the scheduled fraction pruned; or, with
the ``threshold`` schedule, every synapse whose score is below the threshold. A pruned synapse
stays pruned: its mask is 0, its weight 0, and the network neither transmits through it nor
potentiates it (see network/builder.py).
"""
from __future__ import annotations

import numpy as np

from .settings import PruneSettings


def correlation_score(c: np.ndarray, x_int: np.ndarray, n_post: np.ndarray, seconds_on: float,
                      n_inputs: int, n_neurons: int) -> tuple[np.ndarray, np.ndarray]:
    """Score [n_inputs, n_neurons] of one interval and which neurons fired (have a score).

    ``c``: the synapses' trace sums (pre-major order), ``x_int``: per-input time integral of the
    pre trace in ms, ``n_post``: spikes per neuron, ``seconds_on``: input-on time of the interval.
    """
    c = np.asarray(c, dtype=float).reshape(n_inputs, n_neurons)
    n_post = np.asarray(n_post, dtype=float)
    fired = n_post > 0
    conditional = c / np.maximum(n_post, 1.0)[None, :]
    chance = np.asarray(x_int, dtype=float) * 1e-3 / max(seconds_on, 1e-12)
    score = conditional - chance[:, None]
    score[:, ~fired] = 0.0
    return score, fired


def update_running_score(running: np.ndarray | None, seen: np.ndarray | None, score: np.ndarray,
                         fired: np.ndarray, decay: float) -> tuple[np.ndarray, np.ndarray]:
    """Exponential running average of interval scores, per neuron that fired."""
    if running is None:
        running, seen = np.zeros_like(score), np.zeros(score.shape[1], dtype=bool)
    running = running.copy()
    first = fired & ~seen
    again = fired & seen
    running[:, first] = score[:, first]
    running[:, again] = decay * running[:, again] + (1 - decay) * score[:, again]
    return running, seen | fired


def scheduled_sparsity(p: PruneSettings, samples: int, final: bool = False) -> float:
    """Fraction of each neuron's synapses pruned after ``samples`` (gradual: cubic ramp, Zhu & Gupta 2017)."""
    if final:
        return p.target
    if samples < p.start:
        return 0.0
    if p.end <= p.start:
        return p.target
    progress = min(1.0, (samples - p.start) / (p.end - p.start))
    return p.target * (1.0 - (1.0 - progress) ** 3)


def prune_to_sparsity(mask: np.ndarray, score: np.ndarray, w: np.ndarray, sparsity: float) -> np.ndarray:
    """New mask [n_inputs, n_neurons]: per neuron, the lowest-score synapses pruned to ``sparsity``.

    Already pruned synapses stay pruned (they sort first); a neuron never gets fewer pruned.
    """
    mask = np.asarray(mask, dtype=float)
    n_in, n = mask.shape
    n_target = int(round(sparsity * n_in))
    key = np.where(mask > 0, score, -np.inf)
    # ascending by score, ties by weight; one column at a time keeps memory small
    new = np.ones_like(mask)
    for j in range(n):
        order = np.lexsort((w[:, j], key[:, j]))
        k = max(n_target, int((mask[:, j] == 0).sum()))
        new[order[:k], j] = 0.0
    return new


def prune_below(mask: np.ndarray, score: np.ndarray, seen: np.ndarray, threshold: float) -> np.ndarray:
    """Fixed-threshold schedule: prune every scored synapse whose running score is below ``threshold``."""
    new = np.asarray(mask, dtype=float).copy()
    low = (score < threshold) & seen[None, :]
    new[low] = 0.0
    return new


def pruned_fraction(mask: np.ndarray, n_inputs: int, n_neurons: int) -> tuple[float, np.ndarray]:
    """Total fraction pruned and the fraction per neuron."""
    m = np.asarray(mask).reshape(n_inputs, n_neurons)
    per = 1.0 - m.mean(axis=0)
    return float(1.0 - m.mean()), per


def magnitude_mask(w: np.ndarray, sparsity: float) -> np.ndarray:
    """Post-hoc pruning by weight (for runs without a correlation score): lowest weights per neuron."""
    w = np.asarray(w, dtype=float)
    return prune_to_sparsity(np.ones_like(w), w, w, sparsity)
