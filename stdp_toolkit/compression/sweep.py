"""Accuracy against sparsity x levels on Dask (``dask.distributed``).

Each point takes a trained run's weights, prunes them post hoc to the sparsity (by the run's
correlation score where it has one, silent inputs first when its config says so, else by
weight; synapses the run already pruned stay pruned), quantizes the survivors to k levels
(None: float), labels the neurons again on ``label_samples`` training digits and scores ``test_samples`` test digits, all on the frozen
standalone network. Points are independent tasks: a ``LocalCluster`` runs them on this
machine's cores, ``scheduler="tcp://host:8786"`` on an existing cluster (every worker needs
this package, the run directory and the data at the same paths).

Each worker process keeps one frozen simulator (a weight set is run-time data, so every point
reuses the same compiled binary).
"""
from __future__ import annotations

import itertools
import math
import os
import time

import numpy as np

from .. import checkpoint, cluster
from ..errors import UserError
from ..validation import check_output_dir, check_output_file
from . import energy, pruning, quantization

_SIM = {}


def _simulator(cfg):
    from ..backends import Simulator

    key = (cfg.n_neurons, cfg.chunk_presentations, os.getpid())
    if key not in _SIM:
        _SIM.clear()
        _SIM[key] = Simulator(cfg, learning=False, backend="standalone")
    return _SIM[key]


def variant_state(run, sparsity: float, levels: int | None, scheme: str = "uniform") -> dict:
    """The run's state with its input weights pruned to ``sparsity`` and quantized to ``levels``."""
    n_in, n = run.cfg.n_inputs, run.cfg.n_neurons
    w = run.state.get("w_unquantized", run.state["w"]).reshape(n_in, n)
    mask = np.asarray(run.state.get("mask", np.ones(n_in * n))).reshape(n_in, n)
    score = run.state["corr"].reshape(n_in, n) if "corr" in run.state else w
    silent = None
    st = run.cfg.compression_settings()
    p = st.prune if st is not None else None
    if p is not None and p.order == "silent_first" and "x_total" in run.state:
        silent = pruning.silent_inputs(run.state["x_total"], p.silent_level)
    if sparsity > 0:
        mask = pruning.prune_to_sparsity(mask, score, w, sparsity, silent)
    w = w * mask
    if levels is not None:
        w, _ = quantization.quantize(w, int(levels), scheme, run.cfg.plasticity().params["wmax"], mask)
    return {**run.state, "w": w.ravel(), "mask": mask.ravel()}


def evaluate_point(run_dir: str, data_dir: str, sparsity: float, levels: int | None, scheme: str,
                   label_samples: int, test_samples: int) -> dict:
    """One sweep point (runs in a Dask worker)."""
    from ..datasets import load_images
    from ..experiment import RunState, evaluate, label

    t0 = time.perf_counter()
    run = RunState.load(run_dir)
    x, y, _ = load_images(data_dir, "train")
    xt, yt, _ = load_images(data_dir, "test")
    run.state = variant_state(run, sparsity, levels, scheme)
    sim = _simulator(run.cfg)
    run = label(run, x[:label_samples], y[:label_samples], quiet=True, sim=sim)
    res = evaluate(run, xt[:test_samples], yt[:test_samples], quiet=True, sim=sim)
    mask = run.state["mask"].reshape(run.cfg.n_inputs, run.cfg.n_neurons)
    mem = energy.storage(mask, math.ceil(math.log2(levels)) if levels else 32)
    return dict(sparsity=float(sparsity), measured_sparsity=float(1 - mask.mean()), levels=levels, scheme=scheme,
                accuracy=res["accuracy"], accuracy_proportion=res["accuracy_proportion"],
                bits_per_synapse=mem["bits_per_synapse"], memory_bits=mem["bits"],
                spikes_per_sample=res["mean_spikes_per_sample"], test_samples=int(test_samples),
                label_samples=int(label_samples), seconds=time.perf_counter() - t0, worker_pid=os.getpid())


def run_sweep(run_dir: str, data_dir: str, sparsities, levels, scheme: str = "uniform", label_samples: int = 1000,
              test_samples: int = 1000, scheduler: str | None = None, workers: int | None = None,
              out: str | None = None) -> list[dict]:
    """All sparsity x levels points, evaluated on Dask; sorted by (sparsity, levels).

    With ``out``, the points and their Pareto front are written there as JSON and the Pareto plot
    to ``RUN_DIR/figures/pareto.png`` (both paths are checked before any work).
    """
    from ..experiment import RunState
    from ..backends import Simulator

    if out is not None:
        check_output_file(out)
        check_output_dir(os.path.join(run_dir, "figures"), "figure folder")
    if not sparsities or not levels:
        raise UserError("the sweep needs at least one sparsity and one number of levels "
                        "(e.g. --sparsities 0,0.5 --levels 0,16)")
    for s in sparsities:
        if not 0 <= s < 1:
            raise UserError(f"sweep sparsity must be in [0, 1), got {s}")
    for k in levels:
        if k is not None and not 2 <= k <= 256:
            raise UserError(f"sweep levels must be from 2 to 256 (or 0 for float), got {k}")
    run = RunState.load(run_dir)  # fails early with a clear message
    data_dir = os.path.abspath(data_dir) if data_dir else None
    client = cluster.client_for(scheduler, workers)  # a bad address fails before the build
    try:
        # build (or find) the frozen binary once here, so workers do not compile it concurrently
        builder = Simulator(run.cfg, learning=False, backend="standalone")
        builder.close()
        cluster.prepare_workers(client)
        futures = [client.submit(evaluate_point, os.path.abspath(run_dir), data_dir, float(s), k, scheme,
                                 label_samples, test_samples, pure=False)
                   for s, k in itertools.product(sparsities, levels)]
        results = client.gather(futures)
    finally:
        cluster.close(client, scheduler)
    builder.cleanup_run_args()
    results = sorted(results, key=lambda r: (r["sparsity"], r["levels"] or 1000))
    if out is not None:
        from .. import plots
        checkpoint.write_json(out, {"points": results, "pareto": pareto_front(results)})
        plots.save(plots.pareto(results, title=f"{scheme} quantization"), os.path.join(run_dir, "figures", "pareto.png"))
    return results


def pareto_front(results: list[dict], x: str = "bits_per_synapse", y: str = "accuracy") -> list[dict]:
    """Points no other point beats on both fewer bits and higher accuracy."""
    return [r for r in results
            if not any(o[x] <= r[x] and o[y] >= r[y] and (o[x] < r[x] or o[y] > r[y]) for o in results)]
