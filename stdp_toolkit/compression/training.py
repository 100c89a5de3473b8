"""Pruning and quantization at regular intervals during training (called by experiment.train).

After every training chunk the postsynaptic spike counts and the input-on time are added to
the interval's statistics; when the samples seen cross the next interval boundary (every
``compression.interval`` samples, taken at the end of the chunk that crosses it, so set
``chunk_presentations`` to the interval or a divisor of it for exact intervals) one step runs:

1. the interval's correlation scores update the running score, each input's activity is added
   to its total since the start (to find the silent inputs), the traces restart from 0;
2. pruning: mask lowered to the scheduled sparsity (or threshold), pruned weights set to 0;
3. quantization of the surviving weights to k levels.

At the end of training a final step prunes to the full target and quantizes, so the network is
evaluated with its compressed weights. All bookkeeping lives in the run's state (arrays) and
``extra`` (JSON), so a resumed run continues exactly.
"""
from __future__ import annotations

import time

import numpy as np

from . import pruning, quantization


def _on_seconds(cfg, result, n_images: int) -> float:
    """Input-on time of a chunk: presentations of real samples (not idle padding) x t_on."""
    shown = int((np.asarray(result.presentation_sample) < n_images).sum())
    return shown * cfg.input_model().params["t_on"] * 1e-3


def after_chunk(run, result, n_images: int) -> bool:
    """Accumulate this chunk's statistics; run a compression step at an interval boundary."""
    cfg, st = run.cfg, run.cfg.compression_settings()
    if st is None:
        return False
    if st.prune is not None:
        n_post = np.bincount(np.asarray(result.spike_i, dtype=int), minlength=cfg.n_neurons).astype(float)
        run.state["n_post"] = run.state.get("n_post", np.zeros(cfg.n_neurons)) + n_post
        run.state["t_on"] = np.atleast_1d(run.state.get("t_on", np.zeros(1))) + _on_seconds(cfg, result, n_images)
    boundary = int(run.extra.get("compression_next", st.interval))
    if run.samples_seen < boundary:
        return False
    step(run)
    run.extra["compression_next"] = (run.samples_seen // st.interval + 1) * st.interval
    return True


def step(run, final: bool = False) -> dict:
    """One pruning + quantization step on ``run.state`` (in place); returns its record."""
    t0 = time.perf_counter()
    cfg, st = run.cfg, run.cfg.compression_settings()
    n_in, n = cfg.n_inputs, cfg.n_neurons
    w = np.asarray(run.state["w"], dtype=float).reshape(n_in, n).copy()
    record = dict(samples=int(run.samples_seen), final=bool(final))
    mask = np.asarray(run.state.get("mask", np.ones(n_in * n)), dtype=float).reshape(n_in, n)
    if st.prune is not None:
        p = st.prune
        if "c" in run.state and float(np.sum(run.state.get("n_post", 0))) > 0:
            score, fired = pruning.correlation_score(run.state["c"], run.state["x_int"], run.state["n_post"],
                                                     float(np.sum(run.state["t_on"])), n_in, n)
            running, seen = pruning.update_running_score(
                run.state.get("corr").reshape(n_in, n) if "corr" in run.state else None,
                run.state.get("corr_seen", np.zeros(n)).astype(bool) if "corr" in run.state else None,
                score, fired, p.decay)
            run.state["corr"], run.state["corr_seen"] = running.ravel(), seen.astype(float)
        if "x_int" in run.state:
            # each input's activity since the start of training (finds the silent inputs)
            run.state["x_total"] = run.state.get("x_total", np.zeros(n_in)) + np.asarray(run.state["x_int"], float)
        # restart the interval's traces
        run.state["c"] = np.zeros(n_in * n)
        run.state["x_int"] = np.zeros(n_in)
        run.state["n_post"] = np.zeros(n)
        run.state["t_on"] = np.zeros(1)
        if "corr" in run.state and (final or run.samples_seen >= p.start):
            running = run.state["corr"].reshape(n_in, n)
            seen = run.state["corr_seen"].astype(bool)
            silent = None
            if p.order == "silent_first" and "x_total" in run.state:
                silent = pruning.silent_inputs(run.state["x_total"], p.silent_level)
                record["silent_inputs"] = int(silent.sum())
            if p.schedule == "gradual":
                target = pruning.scheduled_sparsity(p, run.samples_seen, final)
                mask = pruning.prune_to_sparsity(mask, running, w, target, silent)
                record["scheduled_sparsity"] = target
            else:
                mask = pruning.prune_below(mask, running, seen, p.threshold, silent)
        w = w * mask
        run.state["mask"] = mask.ravel()
        record["pruned_fraction"] = float(1.0 - mask.mean())
    if st.quantize is not None and (final or run.samples_seen >= st.quantize.start):
        q = st.quantize
        if final:
            run.state["w_unquantized"] = w.ravel().copy()  # for the before/after histogram
        w, levels = quantization.quantize(w, q.levels, q.scheme, cfg.plasticity().params["wmax"], mask)
        run.state["levels"] = levels
        record["levels"] = int(len(levels))
    run.state["w"] = w.ravel()
    record["seconds"] = time.perf_counter() - t0
    run.extra["compression_seconds"] = float(run.extra.get("compression_seconds", 0.0)) + record["seconds"]
    run.extra.setdefault("compression_history", []).append(record)
    return record


def finish(run) -> bool:
    """The final step once training is complete (once per run)."""
    if run.cfg.compression_settings() is None or run.extra.get("compression_final"):
        return False
    step(run, final=True)
    run.extra["compression_final"] = True
    return True
