"""Unsupervised readout: label neurons by their responses, then vote.

D&C's two votes: ``mean`` predicts the class whose neurons have the highest mean spike count;
``proportion`` weights every neuron's spikes by the share of its responses that went to each
class (it uses every neuron, not just its best class).
"""
from __future__ import annotations

import numpy as np

N_CLASSES = 10


def class_rates(counts: np.ndarray, labels: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Mean spike count of every neuron per class: [n_neurons, n_classes]."""
    counts = np.asarray(counts, dtype=float)
    rates = np.zeros((counts.shape[1], n_classes))
    for c in range(n_classes):
        mask = labels == c
        if mask.any():
            rates[:, c] = counts[mask].mean(axis=0)
    return rates


def assign_labels(counts: np.ndarray, labels: np.ndarray, n_classes: int = N_CLASSES):
    """Each neuron's class (highest mean response) and its response proportions per class."""
    rates = class_rates(counts, labels, n_classes)
    assignments = rates.argmax(axis=1)
    total = rates.sum(axis=1, keepdims=True)
    proportions = np.divide(rates, total, out=np.zeros_like(rates), where=total > 0)
    return assignments, proportions


def predict(counts: np.ndarray, assignments: np.ndarray, proportions: np.ndarray | None = None,
            method: str = "mean", n_classes: int = N_CLASSES) -> np.ndarray:
    """Predicted class of each sample from its spike counts [n_samples, n_neurons]."""
    return class_scores(counts, assignments, proportions, method, n_classes).argmax(axis=1)


def predict_ensembles(counts: np.ndarray, assignments: np.ndarray, groups, proportions: np.ndarray | None = None,
                      method: str = "mean", n_classes: int = N_CLASSES) -> np.ndarray:
    """Joint vote of several ensembles (slices of the neurons): each votes with its class scores
    normalised to sum 1, so an ensemble that fires a lot but for every class alike (a noisy
    modality) weighs less than one that is sure, and loudness alone decides nothing."""
    total = np.zeros((len(counts), n_classes))
    for sl in groups:
        sc = np.maximum(class_scores(counts[:, sl], assignments[sl], None if proportions is None else proportions[sl],
                                     method, n_classes), 0.0)
        norm = sc.sum(axis=1, keepdims=True)
        total += np.divide(sc, norm, out=np.zeros_like(sc), where=norm > 0)
    return total.argmax(axis=1)


def class_scores(counts: np.ndarray, assignments: np.ndarray, proportions: np.ndarray | None = None,
                 method: str = "mean", n_classes: int = N_CLASSES) -> np.ndarray:
    """Score of every class for every sample [n_samples, n_classes] (the vote before the argmax)."""
    counts = np.asarray(counts, dtype=float)
    if method == "mean":
        scores = np.full((len(counts), n_classes), -1.0)  # a class without neurons never wins
        for c in range(n_classes):
            members = assignments == c
            if members.any():
                scores[:, c] = counts[:, members].mean(axis=1)
    elif method == "proportion":
        scores = counts @ proportions
    else:
        raise ValueError(f"unknown vote {method!r}")
    return scores


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    cm = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(cm, (labels.astype(int), predictions.astype(int)), 1)
    return cm
