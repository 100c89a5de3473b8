"""Thin ``nn.Module`` wrappers over :mod:`stdp_toolkit.torch_bridge.functional`.

A layer holds the state of one population across the time steps of a sample; call
:meth:`reset_state` before each new sample (batch).  Per-layer trainable parameters are
scalars (one leak and one threshold per layer, as in DIET-SNN).
"""
from __future__ import annotations

from functools import partial
from typing import Optional

import torch
from torch import nn

from .functional import heaviside_linear, heaviside_stdb, lif_step, poisson_encode, update_time_since_spike

__all__ = ["LIF", "IF", "IntegratorOutput", "PoissonEncoder", "DirectEncoder", "StepDropout"]


class LIF(nn.Module):
    """Leaky integrate-and-fire population with soft reset and per-layer trainable leak/threshold.

    * ``threshold``: the initial firing threshold ``V_th`` (trainable unless ``train_threshold=False``);
    * ``leak``: the initial membrane leak ``lambda`` in [0, 1] (1 = IF), trainable unless
      ``train_leak=False``, clamped to [0, 1] in :meth:`forward` and, in place, by :meth:`clamp_`
      (call it after each optimiser step);
    * ``surrogate``: ``"linear"`` (``gamma * max(0, 1-|u/V_th-1|)``) or ``"stdb"``
      (``alpha * exp(-beta * steps since last spike)``).

    The layer counts the spikes it emits (``spike_count``) and neuron-steps (``neuron_steps``) since
    the last :meth:`reset_counters`, for spike-rate and synaptic-operation metrics.
    """

    def __init__(self, threshold: float = 1.0, leak: float = 1.0, *, train_threshold: bool = True,
                 train_leak: bool = True, surrogate: str = "linear", gamma: float = 0.3,
                 alpha: float = 0.3, beta: float = 0.01):
        super().__init__()
        if surrogate not in ("linear", "stdb"):
            raise ValueError(f"surrogate must be 'linear' or 'stdb', not {surrogate!r}")
        self.threshold = nn.Parameter(torch.tensor(float(threshold)), requires_grad=train_threshold)
        self.leak = nn.Parameter(torch.tensor(float(leak)), requires_grad=train_leak)
        self.surrogate = surrogate
        self.gamma, self.alpha, self.beta = float(gamma), float(alpha), float(beta)
        self.u: Optional[torch.Tensor] = None
        self.dt_since_spike: Optional[torch.Tensor] = None
        self.spike_count = 0.0
        self.neuron_steps = 0

    # -- state -------------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Forget the membrane potential and spike timing (start of a new sample/batch)."""
        self.u = None
        self.dt_since_spike = None

    def reset_counters(self) -> None:
        self.spike_count = 0.0
        self.neuron_steps = 0

    @torch.no_grad()
    def clamp_(self) -> None:
        """Clamp the leak to [0, 1] in place and keep the threshold positive (after optimiser steps)."""
        self.leak.clamp_(0.0, 1.0)
        self.threshold.clamp_(min=1e-3)

    @property
    def spike_rate(self) -> float:
        """Mean spikes per neuron per time step since the last :meth:`reset_counters`."""
        return self.spike_count / self.neuron_steps if self.neuron_steps else 0.0

    # -- dynamics ----------------------------------------------------------------------------
    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        """Integrate one time step of input current ``x_t``; return the spikes (0/1, same shape)."""
        if self.u is None or self.u.shape != x_t.shape:
            self.u = torch.zeros_like(x_t)
            self.dt_since_spike = torch.zeros_like(x_t)
        leak = self.leak.clamp(0.0, 1.0)
        if self.surrogate == "stdb":
            surrogate = partial(heaviside_stdb, dt_since_spike=self.dt_since_spike, alpha=self.alpha, beta=self.beta)
        else:
            surrogate = partial(heaviside_linear, gamma=self.gamma)
        spike, self.u = lif_step(x_t, self.u, self.threshold, leak, surrogate)
        if self.surrogate == "stdb":
            self.dt_since_spike = update_time_since_spike(self.dt_since_spike, spike)
        self.spike_count += float(spike.detach().sum())
        self.neuron_steps += spike.numel()
        return spike

    def extra_repr(self) -> str:
        return (f"threshold={float(self.threshold.detach()):.4g}, leak={float(self.leak.detach()):.4g}, surrogate={self.surrogate}")


class IF(LIF):
    """Integrate-and-fire: an :class:`LIF` with leak fixed at 1 (not trained)."""

    def __init__(self, threshold: float = 1.0, **kwargs):
        kwargs.setdefault("train_leak", False)
        super().__init__(threshold, leak=1.0, **kwargs)


class IntegratorOutput(nn.Module):
    """Non-spiking output layer: accumulates its input current over the time steps.

    ``forward(x_t)`` adds ``x_t`` to the membrane and returns the running mean over the steps so far
    (:class:`~stdp_toolkit.torch_bridge.snn.SpikingNet` multiplies it by the product of the thresholds
    to get logits on the ANN's scale).
    """

    def __init__(self):
        super().__init__()
        self.v: Optional[torch.Tensor] = None
        self.steps = 0

    def reset_state(self) -> None:
        self.v = None
        self.steps = 0

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        self.v = x_t if self.v is None else self.v + x_t
        self.steps += 1
        return self.v / self.steps


class PoissonEncoder(nn.Module):
    """Rate-code input: each step emits ``sign(x) * [rand < |x|]`` (Rathi et al.)."""

    def __init__(self, generator: Optional[torch.Generator] = None):
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return poisson_encode(x, self.generator)


class DirectEncoder(nn.Module):
    """Direct input (DIET-SNN): the analog image goes into the first layer at every step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class StepDropout(nn.Module):
    """Dropout whose mask is drawn once per sample and reused at every time step (SNN training)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = float(p)
        self.mask: Optional[torch.Tensor] = None

    def reset_state(self) -> None:
        self.mask = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.mask is None or self.mask.shape != x.shape:
            self.mask = (torch.rand_like(x) >= self.p).to(x.dtype) / (1.0 - self.p)
        return x * self.mask
