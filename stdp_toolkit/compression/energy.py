"""Synaptic operations, energy and memory per inference, compressed vs uncompressed.

Counting (from spikes actually propagated in a frozen run of test samples, repeats included):

* input->E: every input spike reaches its unpruned synapses: sum_i spikes_i x fan-out_i
  (fan-out = unpruned synapses of input i; N for the uncompressed network);
* E->I: one operation per excitatory spike; I->E: N-1 per inhibitory spike (fixed weights, no
  weight read, same in both networks).

Energy constants (pJ), from M. Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014, 45 nm, 0.9 V: 32-bit float add 0.9, 32-bit int add 0.1, 8-bit int add 0.03,
64-bit read from an 8 KB SRAM 10 (0.156 pJ/bit). The smallest memory is used for every weight
read, which understates the saving of a smaller memory (the same talk: 20 pJ for 32 KB, 100 pJ
for 1 MB); neuron updates are not counted (equal in both networks).

* uncompressed: 32-bit float weights, dense: per input spike N weight reads of 32 bits and N
  float adds;
* compressed: b-bit weight codes (b = ceil(log2 k)), integer accumulation (32-bit int add; an
  8-bit add where b <= 4 would be cheaper still, not assumed); sparsity stored as a bitmap (1 bit
  per synapse, one read of N bits per input spike) or as CSR column indices (ceil(log2 N) bits
  per unpruned synapse), whichever needs less memory.
* E<->I operations: 32-bit float adds in both.

Memory: weights (+ bitmap or indices) of the input projection, in bits.
"""
from __future__ import annotations

import math

import numpy as np

from ..energy import PJ, SOURCE

PJ_PER_BIT = PJ["sram_8kb_read_64bit"] / 64


def storage(mask: np.ndarray, weight_bits: float) -> dict:
    """Memory of the input projection [n_inputs, n_neurons] in the cheaper sparse format."""
    mask = np.asarray(mask) > 0
    n_in, n = mask.shape
    nnz = int(mask.sum())
    total = n_in * n
    if nnz == total:
        fmt, bits = "dense", total * weight_bits
    else:
        idx_bits = math.ceil(math.log2(max(n, 2)))
        bitmap = total + nnz * weight_bits
        csr = nnz * (weight_bits + idx_bits) + (n_in + 1) * 32
        fmt, bits = ("bitmap", bitmap) if bitmap <= csr else ("csr", csr)
    return dict(format=fmt, bits=float(bits), bytes=float(bits) / 8, bits_per_synapse=float(bits) / total,
                weight_bits=float(weight_bits), unpruned=nnz, synapses=total)


def synaptic_ops(input_spikes: np.ndarray, exc_spikes: float, inh_spikes: float, mask: np.ndarray) -> dict:
    """Operations per inference from spike counts per sample (input spikes per pixel, summed)."""
    mask = np.asarray(mask) > 0
    n = mask.shape[1]
    fanout = mask.sum(axis=1)
    input_ops = float(np.dot(np.asarray(input_spikes, dtype=float), fanout))
    return dict(input_exc=input_ops, exc_inh=float(exc_spikes), inh_exc=float(inh_spikes) * (n - 1),
                input_spikes=float(np.sum(input_spikes)), total=input_ops + float(exc_spikes) + float(inh_spikes) * (n - 1))


def energy_pj(ops: dict, input_spikes: float, mem: dict, quantized: bool) -> dict:
    """Energy per inference (pJ) for operations ``ops`` with the given weight storage."""
    fixed = (ops["exc_inh"] + ops["inh_exc"]) * PJ["fp32_add"]
    if not quantized and mem["format"] == "dense":
        syn = ops["input_exc"] * (32 * PJ_PER_BIT + PJ["fp32_add"])
        index = 0.0
    else:
        add = PJ["int32_add"] if quantized else PJ["fp32_add"]
        syn = ops["input_exc"] * (mem["weight_bits"] * PJ_PER_BIT + add)
        if mem["format"] == "bitmap":
            index = input_spikes * mem["n_neurons"] * PJ_PER_BIT
        elif mem["format"] == "csr":
            index = ops["input_exc"] * math.ceil(math.log2(max(mem["n_neurons"], 2))) * PJ_PER_BIT
        else:
            index = 0.0
    return dict(input_exc=syn, index=index, exc_inh_inh_exc=fixed, total=syn + index + fixed)


def account(input_spikes: np.ndarray, exc_spikes: float, inh_spikes: float, mask: np.ndarray,
            levels: int | None) -> dict:
    """Ops, memory and energy per inference of one network (levels None: 32-bit float weights)."""
    mask = np.asarray(mask)
    quantized = levels is not None
    bits = math.ceil(math.log2(levels)) if quantized else 32
    mem = storage(mask, bits)
    mem["n_neurons"] = int(mask.shape[1])
    ops = synaptic_ops(input_spikes, exc_spikes, inh_spikes, mask)
    return dict(ops=ops, memory=mem, energy_pj=energy_pj(ops, float(np.sum(input_spikes)), mem, quantized))


def constants() -> dict:
    return dict(source=SOURCE, pj=PJ, pj_per_bit_read=PJ_PER_BIT,
                assumptions=("uncompressed: dense 32-bit float weights, 32-bit read + fp32 add per synaptic op; "
                             "compressed: ceil(log2 k)-bit codes, 32-bit int add, bitmap or CSR sparsity "
                             "(the smaller); every read priced at the 8 KB SRAM figure; E<->I ops fp32 adds; "
                             "neuron updates not counted"))
