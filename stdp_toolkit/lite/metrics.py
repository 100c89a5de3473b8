"""Parameters, synaptic operations and estimated energy per sample.

Accounting (stated in every report):

* SNN synaptic operations are accumulates (AC) triggered by spikes: a spike (or one input event)
  reaching a layer with fan-out ``f`` costs ``f`` ACs (causal temporal convolutions count only the
  outputs inside the sequence; spatial 3x3 convolutions count the full 9*C_out, ignoring borders).
* Real-valued operands cost multiply-accumulates (MAC): ANN/LSTM/GRU layers, the SNN's first layer on
  word embeddings (computed once per word, since the same vector is shown for T steps), attention scores
  and weighted sums, the small ANN head.
* Embedding look-ups cost nothing in every model; BatchNorm is folded into the preceding weights.
* Energy (Horowitz, ISSCC 2014, 45 nm, 32-bit float): MAC 4.6 pJ, AC 0.9 pJ.
  ``energy_synaptic_J`` = MACs*4.6pJ + ACs*0.9pJ (the headline figure); ``energy_total_J`` also counts
  neuron updates as MACs (LIF: ``leak*u + x`` per neuron per step; LSTM/GRU: 3 element-wise gate
  products per unit per step).
"""
from __future__ import annotations

from ..energy import PJ

E_MAC_J = PJ["fp32_mac"] * 1e-12
E_AC_J = PJ["fp32_add"] * 1e-12


def count_params(model) -> dict:
    total = sum(p.numel() for p in model.parameters())
    emb = sum(p.numel() for n, p in model.named_parameters() if n.startswith("embedding."))
    return {"params": int(total), "params_embedding": int(emb), "params_body": int(total - emb)}


def energy_report(counter) -> dict:
    """Per-sample figures from an :class:`~.models.OpCounter`."""
    n = max(counter.samples, 1)
    macs, acs, nmacs = counter.macs / n, counter.acs / n, counter.neuron_macs / n
    syn = macs * E_MAC_J + acs * E_AC_J
    return {
        "macs_per_sample": macs,
        "acs_per_sample": acs,
        "synops_per_sample": macs + acs,
        "neuron_macs_per_sample": nmacs,
        "energy_synaptic_J": syn,
        "energy_total_J": syn + nmacs * E_MAC_J,
        "spike_rate": counter.spikes / counter.neuron_steps if counter.neuron_steps else None,
        "time_steps_per_sample": counter.time_steps / n,
        "per_layer_per_sample": {k: {kk: vv / n for kk, vv in v.items()} for k, v in counter.per_layer.items()},
    }
