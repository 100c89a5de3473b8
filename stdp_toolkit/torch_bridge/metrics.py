"""Spike rates, synaptic operations and an energy estimate of an SNN against its ANN.

Operation counts
----------------
* ANN: every Conv2d/Linear does ``MACs = out_elements * in_channels * k * k`` (Linear: ``in * out``)
  per inference.
* SNN: a layer whose input is a spike tensor does one *accumulate* (AC) per non-zero input per
  synapse it reaches: counted exactly as ``sum over outputs of the non-zero inputs in their
  receptive field`` (conv) or ``nnz(input) * out_features`` (linear), summed over the time steps.
  Average pooling of spikes gives values 0, 1/4, ... : each non-zero still counts as one AC.
  With direct (analog) input the first layer does dense MACs at every step.
* Energy (Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm, 32-bit float):
  MAC 4.6 pJ, add (AC) 0.9 pJ.  Membrane updates and memory access are not counted (as in the
  DIET-SNN and hybrid-SNN papers).
"""
from __future__ import annotations

from typing import Dict, List

import torch
import torch.nn.functional as F
from torch import nn

from ..energy import PJ, SOURCE
from .snn import SpikingNet

__all__ = ["E_MAC_FP32_PJ", "E_AC_FP32_PJ", "E_MAC_INT32_PJ", "E_AC_INT32_PJ", "ann_macs", "snn_metrics"]

E_MAC_FP32_PJ, E_AC_FP32_PJ = PJ["fp32_mac"], PJ["fp32_add"]
E_MAC_INT32_PJ, E_AC_INT32_PJ = PJ["int32_mac"], PJ["int32_add"]


def _dense_ops(m: nn.Module, inp: torch.Tensor) -> int:
    """MACs per sample of a dense (ANN) pass of ``m`` on an input shaped like ``inp``."""
    if isinstance(m, nn.Linear):
        return m.in_features * m.out_features
    h, w = inp.shape[-2:]
    oh = (h + 2 * m.padding[0] - m.dilation[0] * (m.kernel_size[0] - 1) - 1) // m.stride[0] + 1
    ow = (w + 2 * m.padding[1] - m.dilation[1] * (m.kernel_size[1] - 1) - 1) // m.stride[1] + 1
    k = m.kernel_size[0] * m.kernel_size[1]
    return int(m.out_channels * oh * ow) * (m.in_channels // m.groups) * k


def _sparse_ops(m: nn.Module, inp: torch.Tensor) -> int:
    nz = (inp != 0).to(torch.float32)
    if isinstance(m, nn.Linear):
        return int(nz.sum()) * m.out_features
    ones = torch.ones(1, m.in_channels, *m.kernel_size, dtype=nz.dtype, device=nz.device)
    fan = F.conv2d(nz, ones, stride=m.stride, padding=m.padding, dilation=m.dilation)
    return int(fan.sum()) * (m.out_channels // m.groups)


@torch.no_grad()
def ann_macs(ann: nn.Module, x: torch.Tensor) -> List[int]:
    """MACs per sample of each Conv2d/Linear layer of the ANN for an input like ``x[:1]``."""
    counts: List[int] = []
    hooks = [m.register_forward_hook(lambda m, i, o: counts.append(_dense_ops(m, i[0])))
             for m in ann.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was = ann.training
    ann.eval()
    try:
        ann(x[:1])
    finally:
        for h in hooks:
            h.remove()
        ann.train(was)
    return counts


@torch.no_grad()
def snn_metrics(snn: SpikingNet, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 100,
                timesteps: int | None = None) -> Dict:
    """Run the SNN on ``x`` and return spike rates, op counts per sample, energy and accuracy.

    Keys: ``spike_rate`` (per population: spikes / neuron / step), ``spikes_per_neuron`` (over the
    whole sample), ``ann_macs``/``snn_acs``/``snn_macs`` (per layer, per sample), totals,
    ``ann_energy_uJ``, ``snn_energy_uJ``, ``energy_ratio`` (ANN / SNN), ``latency_steps``, ``accuracy``.
    """
    T = snn.timesteps if timesteps is None else int(timesteps)
    was = snn.training
    snn.eval()
    layers = [m for m in snn.ann.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    acs = [0] * len(layers)
    macs = [0] * len(layers)
    first_dense = snn.encoding == "direct"

    def make_hook(j, m):
        def hook(mod, inp):
            if j == 0 and first_dense:
                macs[j] += _dense_ops(mod, inp[0]) * inp[0].shape[0]
            else:
                acs[j] += _sparse_ops(mod, inp[0])
        return hook

    hooks = [m.register_forward_pre_hook(make_hook(j, m)) for j, m in enumerate(layers)]
    snn.reset_counters()
    correct = n = 0
    try:
        for s in range(0, len(x), batch_size):
            xb = x[s:s + batch_size]
            out = snn(xb, T)
            if y is not None:
                correct += int((out.argmax(1) == y[s:s + batch_size]).sum())
            n += len(xb)
    finally:
        for h in hooks:
            h.remove()
        snn.train(was)
    dense = ann_macs(snn.ann, x)
    rates = [nrn.spike_rate for nrn in snn.neurons]
    acs_ps = [a / n for a in acs]
    macs_ps = [m / n for m in macs]
    e_ann = sum(dense) * E_MAC_FP32_PJ * 1e-6
    e_snn = (sum(acs_ps) * E_AC_FP32_PJ + sum(macs_ps) * E_MAC_FP32_PJ) * 1e-6
    return dict(
        samples=n, latency_steps=T, accuracy=(correct / n if y is not None else None),
        spike_rate=rates, spikes_per_neuron=[r * T for r in rates],
        mean_spike_rate=(sum(nrn.spike_count for nrn in snn.neurons) / max(1, sum(nrn.neuron_steps for nrn in snn.neurons))),
        ann_macs=dense, snn_acs=acs_ps, snn_macs=macs_ps,
        ann_macs_total=sum(dense), snn_acs_total=sum(acs_ps), snn_macs_total=sum(macs_ps),
        ann_energy_uJ=e_ann, snn_energy_uJ=e_snn, energy_ratio=(e_ann / e_snn if e_snn else float("inf")),
        energy_constants=dict(mac_pJ=E_MAC_FP32_PJ, ac_pJ=E_AC_FP32_PJ,
                              source=SOURCE + " (32-bit float)"),
    )
