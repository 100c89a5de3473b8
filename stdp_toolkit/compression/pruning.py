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
other classes). Scores of successive intervals are combined into a running score (``decay``
weight on the past). A neuron that did not fire in an interval keeps its old score.

Silent inputs. An input that (almost) never fires has no measurable correlation with anything:
its score stays at about zero, above every anti-correlated input, so ranking by the score alone
prunes all the active anti-correlated inputs before a single never-active one. At 65 % sparsity
a 400-neuron MNIST network pruned that way kept ~150 synapses per neuron from border pixels
that carry nothing, and only ~120 of the ~590 from active pixels. With ``order: silent_first``
(the default) the synapses of silent inputs are pruned first, and the correlation score ranks
the rest. Silent: the input's activity since the start of training (the time integral of its
trace, i.e. the chance level E[x_i] accumulated over all intervals) is at most ``silent_level``
x that of the busiest input; the default 0.001 selects the ~200 of the 784 MNIST pixels whose
mean intensity is below 0.1 % of the brightest pixel's (67 are 0 in all 60,000 training
images). ``order: score`` ranks by the score alone.

Pruning step: per neuron, the unpruned synapses are ranked (silent inputs first, see above; then
the lowest running score; ties broken by the lower weight) and pruned until the neuron has the
scheduled fraction pruned; or, with the ``threshold`` schedule, every synapse whose score is
below the threshold (plus the silent inputs' synapses with ``silent_first``). A pruned synapse
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


def silent_inputs(x_total: np.ndarray, level: float) -> np.ndarray:
    """Inputs whose accumulated activity (time integral of the pre trace) is at most ``level`` x the busiest's."""
    x_total = np.asarray(x_total, dtype=float)
    return x_total <= level * x_total.max(initial=0.0)


def prune_to_sparsity(mask: np.ndarray, score: np.ndarray, w: np.ndarray, sparsity: float,
                      silent: np.ndarray | None = None) -> np.ndarray:
    """New mask [n_inputs, n_neurons]: per neuron, the lowest-ranked synapses pruned to ``sparsity``.

    Rank: already pruned synapses first (they stay pruned; a neuron never gets fewer pruned),
    then the synapses of ``silent`` inputs (bool [n_inputs], optional), then ascending score;
    ties by weight.
    """
    mask = np.asarray(mask, dtype=float)
    n_in, n = mask.shape
    n_target = int(round(sparsity * n_in))
    key = np.where(mask > 0, score, -np.inf)
    group = np.ones(n_in) if silent is None else np.where(np.asarray(silent, dtype=bool), 0.0, 1.0)
    # one column at a time keeps memory small
    new = np.ones_like(mask)
    for j in range(n):
        first = np.where(mask[:, j] > 0, group, -1.0)
        order = np.lexsort((w[:, j], key[:, j], first))
        k = max(n_target, int((mask[:, j] == 0).sum()))
        new[order[:k], j] = 0.0
    return new


def prune_below(mask: np.ndarray, score: np.ndarray, seen: np.ndarray, threshold: float,
                silent: np.ndarray | None = None) -> np.ndarray:
    """Fixed-threshold schedule: prune every scored synapse whose running score is below ``threshold``
    (and every synapse of a ``silent`` input)."""
    new = np.asarray(mask, dtype=float).copy()
    low = (score < threshold) & seen[None, :]
    new[low] = 0.0
    if silent is not None:
        new[np.asarray(silent, dtype=bool)] = 0.0
    return new


def pruned_fraction(mask: np.ndarray, n_inputs: int, n_neurons: int) -> tuple[float, np.ndarray]:
    """Total fraction pruned and the fraction per neuron."""
    m = np.asarray(mask).reshape(n_inputs, n_neurons)
    per = 1.0 - m.mean(axis=0)
    return float(1.0 - m.mean()), per
