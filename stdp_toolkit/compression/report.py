"""``stdp-toolkit report RUN_DIR``: compression, operations, energy and memory of a trained run.

Spikes are counted in a frozen standalone run of ``samples`` test digits with every population
recorded (one extra cached build per network size); accuracy is the run's evaluation in
metrics.json when there is one (``stdp-toolkit evaluate``), else measured on those samples.
With ``reference`` (an uncompressed run directory) its own spikes are counted the same way and
the energy ratio is taken against it; without, against the same network made dense with
32-bit weights (same spikes).
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

from .. import readout
from ..errors import UserError
from . import energy, pruning


def weight_levels(run) -> int | None:
    """Number of distinct weight levels of a quantized run, None for a float-weight run."""
    st = run.cfg.compression_settings()
    if st is not None and st.quantize is not None and run.extra.get("compression_final"):
        return int(st.quantize.levels)
    return None


def mask_of(run) -> np.ndarray:
    n_in, n = run.cfg.n_inputs, run.cfg.n_neurons
    if "mask" in run.state:
        return np.asarray(run.state["mask"]).reshape(n_in, n)
    return np.ones((n_in, n))


def count_spikes(run, images: np.ndarray, backend: str = "standalone") -> dict:
    """Spikes per inference (repeats included) from a frozen run with all populations recorded."""
    from ..experiment import chunk_seed, to_unit
    from ..backends import Simulator
    from ..network.state import rest_state

    cfg = run.cfg
    x = to_unit(images)
    sim = Simulator(cfg, learning=False, backend=backend, record_input=True, record_inhibitory=True,
                    codegen_target="numpy" if backend == "runtime" else None)
    per_chunk = max(1, int(sim.n_presentations * 0.9))
    inp = np.zeros(cfg.n_inputs)
    n_exc = n_inh = 0.0
    done, counts, labels_idx = 0, [], []
    for k, start in enumerate(range(0, len(x), per_chunk)):
        idx = np.arange(start, min(len(x), start + per_chunk))
        r = sim.run(x[idx], rest_state(cfg, run.state), chunk_seed(run.seed, "report", k))
        # only presentations of samples that completed (the rest of the chunk is idle or unfinished)
        pres_len = cfg.presentation_ms * 1e-3
        n_pres = int((np.asarray(r.presentation_sample) < r.consumed).sum())
        t_end = n_pres * pres_len
        ii, it = r.input_spikes
        inp += np.bincount(ii[it < t_end], minlength=cfg.n_inputs)
        n_exc += float((r.spike_t < t_end).sum())
        hi, ht = r.inh_spikes
        n_inh += float((ht < t_end).sum())
        done += r.consumed
        counts.append(r.counts)
        labels_idx.append(idx[: r.consumed])
    if done == 0:
        raise UserError("no test sample completed in the spike-count run")
    return dict(samples=done, input_spikes=inp / done, exc_spikes=n_exc / done, inh_spikes=n_inh / done,
                counts=np.concatenate(counts), index=np.concatenate(labels_idx))


def compression_summary(run) -> dict:
    mask = mask_of(run)
    w = run.weights
    total, per = pruning.pruned_fraction(mask, *mask.shape)
    levels = weight_levels(run)
    distinct = int(np.unique(w[mask > 0]).size) if (mask > 0).any() else 0
    return dict(
        pruned_fraction=total,
        pruned_per_neuron=dict(min=float(per.min()), mean=float(per.mean()), max=float(per.max()),
                               values=[round(float(v), 4) for v in per]),
        zero_weight_fraction=float((w == 0).mean()),
        levels=levels, distinct_weights=distinct,
        weight_bits=(math.ceil(math.log2(levels)) if levels else 32),
        history=run.extra.get("compression_history", []),
        compression_seconds=run.extra.get("compression_seconds"),
    )


def build_report(run_dir: str, images, labels, reference: str | None = None, backend: str = "standalone") -> dict:
    from ..experiment import RunState

    run = RunState.load(run_dir)
    summary = compression_summary(run)
    spikes = count_spikes(run, images, backend)
    acc = _accuracy(run_dir, run, spikes, labels)
    mask = mask_of(run)
    mine = energy.account(spikes["input_spikes"], spikes["exc_spikes"], spikes["inh_spikes"], mask, summary["levels"])
    dense = energy.account(spikes["input_spikes"], spikes["exc_spikes"], spikes["inh_spikes"], np.ones_like(mask), None)
    out = dict(run_dir=run_dir, config=run.cfg.name, n_neurons=run.cfg.n_neurons, **summary,
               spike_samples=spikes["samples"], accuracy=acc,
               per_inference=dict(input_spikes=float(spikes["input_spikes"].sum()), exc_spikes=spikes["exc_spikes"],
                                  inh_spikes=spikes["inh_spikes"], synaptic_ops=mine["ops"], energy_pj=mine["energy_pj"]),
               memory=mine["memory"], constants=energy.constants(),
               same_spikes_dense=dict(synaptic_ops=dense["ops"]["total"], energy_pj=dense["energy_pj"]["total"],
                                      memory_bits=dense["memory"]["bits"]))
    out["energy_ratio_same_spikes"] = dense["energy_pj"]["total"] / mine["energy_pj"]["total"]
    out["memory_ratio"] = dense["memory"]["bits"] / mine["memory"]["bits"]
    out["train_seconds"] = run.train_seconds
    out["train_cpu_children_seconds"] = run.extra.get("train_cpu_children_seconds")
    if reference:
        ref = RunState.load(reference)
        if ref.cfg.n_neurons != run.cfg.n_neurons:
            raise UserError(f"reference {reference} has {ref.cfg.n_neurons} neurons, this run {run.cfg.n_neurons}")
        rs = count_spikes(ref, images, backend)
        racc = _accuracy(reference, ref, rs, labels)
        r = energy.account(rs["input_spikes"], rs["exc_spikes"], rs["inh_spikes"], mask_of(ref), weight_levels(ref))
        out["reference"] = dict(run_dir=reference, accuracy=racc, synaptic_ops=r["ops"], energy_pj=r["energy_pj"],
                                memory_bits=r["memory"]["bits"], train_seconds=ref.train_seconds)
        out["energy_ratio"] = r["energy_pj"]["total"] / mine["energy_pj"]["total"]
        out["ops_ratio"] = r["ops"]["total"] / mine["ops"]["total"]
        out["memory_ratio_vs_reference"] = r["memory"]["bits"] / mine["memory"]["bits"]
        if acc.get("accuracy") is not None and racc.get("accuracy") is not None:
            out["accuracy_drop_points"] = 100 * (racc["accuracy"] - acc["accuracy"])
    else:
        out["energy_ratio"] = out["energy_ratio_same_spikes"]
    return out


def _accuracy(run_dir, run, spikes, labels) -> dict:
    from ..experiment import metrics_path

    path = metrics_path(run_dir)
    if os.path.exists(path):
        with open(path) as fh:
            ev = json.load(fh).get("evaluation")
        if ev:
            return dict(accuracy=ev["accuracy"], test_samples=ev["test_samples"], source="metrics.json evaluation")
    if run.assignments is None:
        return dict(accuracy=None, test_samples=0, source="run has no neuron labels")
    pred = readout.predict(spikes["counts"], run.assignments)
    y = np.asarray(labels)[spikes["index"]]
    return dict(accuracy=float((pred == y).mean()), test_samples=int(len(y)), source="spike-count run")


def format_report(r: dict) -> str:
    pn = r["pruned_per_neuron"]
    e = r["per_inference"]
    lines = [
        f"run {r['run_dir']} ({r['config']}, {r['n_neurons']} neurons)",
        f"pruned: {r['pruned_fraction']:.1%} of input synapses (per neuron {pn['min']:.1%} .. {pn['max']:.1%}); "
        f"zero weights {r['zero_weight_fraction']:.1%}",
        f"weights: {r['levels'] or 'float'} levels, {r['weight_bits']} bits; storage {r['memory']['format']}, "
        f"{r['memory']['bits_per_synapse']:.2f} effective bits/synapse ({r['memory']['bytes'] / 1024:.1f} KiB)",
        f"per inference ({r['spike_samples']} test samples): {e['input_spikes']:.0f} input spikes, "
        f"{e['synaptic_ops']['total']:.0f} synaptic ops, {e['energy_pj']['total'] / 1e3:.1f} nJ",
        f"vs dense 32-bit, same spikes: energy {r['energy_ratio_same_spikes']:.2f}x lower, memory {r['memory_ratio']:.2f}x smaller",
    ]
    acc = r["accuracy"]
    if acc.get("accuracy") is not None:
        lines.append(f"accuracy {acc['accuracy']:.2%} on {acc['test_samples']} test samples ({acc['source']})")
    if "reference" in r:
        ra = r["reference"]["accuracy"]
        lines.append(f"vs reference {r['reference']['run_dir']}: energy {r['energy_ratio']:.2f}x lower, "
                     f"synaptic ops {r['ops_ratio']:.2f}x fewer, memory {r['memory_ratio_vs_reference']:.2f}x smaller"
                     + (f", accuracy {ra['accuracy']:.2%} ({r.get('accuracy_drop_points', float('nan')):+.2f} points drop)"
                        if ra.get("accuracy") is not None else ""))
    lines.append(f"energy constants: {r['constants']['source']}")
    return "\n".join(lines)
