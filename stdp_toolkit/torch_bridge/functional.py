"""Shared spiking dynamics of the PyTorch bridge (pure functions, no state).

These are the *one* definition of the discrete-time spiking neuron used everywhere in
``stdp_toolkit.torch_bridge`` (conversion, hybrid STDB, DIET-SNN) and by the LITE-SNN sequence
models: :func:`lif_step` is an integrate-and-fire / leaky-integrate-and-fire update with soft reset,

    u[t]  = leak * u[t-1] + x_in[t]
    s[t]  = H(u[t] / v_th - 1)
    u[t] <- u[t] - v_th * s[t]            (reset by subtraction)

and the Heaviside step ``H`` gets a surrogate gradient in the backward pass:

* :func:`heaviside_linear`: ``gamma * max(0, 1 - |x|)`` with ``x = u/v_th - 1`` (Rathi & Roy, DIET-SNN);
* :func:`heaviside_stdb`: ``alpha * exp(-beta * dt)`` with ``dt`` the number of steps since the
  neuron last spiked (spike-timing-dependent backpropagation, Rathi et al. ICLR 2020).

Everything here is differentiable with respect to the input, the membrane potential, the
threshold and the leak, so thresholds and leaks can be trained (DIET-SNN).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

__all__ = [
    "HeavisideLinear",
    "HeavisideSTDB",
    "heaviside_linear",
    "heaviside_stdb",
    "lif_step",
    "poisson_encode",
    "update_time_since_spike",
]


class HeavisideLinear(torch.autograd.Function):
    """Forward: ``(x > 0)`` as float.  Backward: ``gamma * max(0, 1 - |x|)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, gamma: float = 0.3) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.gamma = float(gamma)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        surrogate = ctx.gamma * torch.clamp(1.0 - x.abs(), min=0.0)
        return grad_out * surrogate, None


class HeavisideSTDB(torch.autograd.Function):
    """Forward: ``(x > 0)`` as float.  Backward: ``alpha * exp(-beta * dt_since_spike)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, dt_since_spike: torch.Tensor, alpha: float = 0.3,  # type: ignore[override]
                beta: float = 0.01) -> torch.Tensor:
        dt = torch.as_tensor(dt_since_spike, dtype=x.dtype, device=x.device)
        ctx.save_for_backward(dt)
        ctx.alpha = float(alpha)
        ctx.beta = float(beta)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        (dt,) = ctx.saved_tensors
        surrogate = ctx.alpha * torch.exp(-ctx.beta * dt)
        return grad_out * surrogate, None, None, None


def heaviside_linear(x: torch.Tensor, gamma: float = 0.3) -> torch.Tensor:
    """Spike function with the linear (triangle) surrogate; ``x = u / v_th - 1``."""
    return HeavisideLinear.apply(x, gamma)


def heaviside_stdb(x: torch.Tensor, dt_since_spike: torch.Tensor, alpha: float = 0.3,
                   beta: float = 0.01) -> torch.Tensor:
    """Spike function with the STDB surrogate ``alpha * exp(-beta * dt_since_spike)``.

    ``dt_since_spike`` (same shape as ``x``, or broadcastable) is the number of time steps since the
    neuron's last spike; it carries no gradient.  Rathi et al. use alpha=0.3, beta=0.01 for VGG and
    alpha=0.5, beta=0.035 for ResNets.
    """
    return HeavisideSTDB.apply(x, dt_since_spike, alpha, beta)


def lif_step(x_in: torch.Tensor, u: torch.Tensor, v_th, leak,
             surrogate: Callable[[torch.Tensor], torch.Tensor] = heaviside_linear, detach_reset: bool = True):
    """One time step of an LIF (``leak < 1``) or IF (``leak == 1``) neuron with soft reset.

    ``u = leak * u + x_in``; ``s = surrogate(u / v_th - 1)``; ``u_new = u - v_th * s``.
    ``v_th`` and ``leak`` may be Python floats or tensors (e.g. trainable ``nn.Parameter``s,
    scalar or broadcastable to ``u``); gradients flow to all tensor arguments.
    ``detach_reset`` (default, as in the DIET-SNN / hybrid authors' code): the reset term
    ``v_th * s`` is differentiated with respect to ``v_th`` but not through the spike ``s``
    (the forward pass is identical).  Returns ``(spike, u_new)``.
    """
    u = leak * u + x_in
    spike = surrogate(u / v_th - 1.0)
    u_new = u - v_th * (spike.detach() if detach_reset else spike)
    return spike, u_new


def update_time_since_spike(dt_since_spike: torch.Tensor, spike: torch.Tensor) -> torch.Tensor:
    """Advance the per-neuron "steps since last spike" counter used by the STDB surrogate.

    Neurons that spiked now get 0, the others ``dt + 1``.  (Neurons that never spiked count from the
    start of the sample, as in the authors' code.)
    """
    return torch.where(spike.detach() > 0, torch.zeros_like(dt_since_spike), dt_since_spike + 1)


def poisson_encode(x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Poisson (Bernoulli per step) rate code of Rathi et al.: ``sign(x) * [rand < |x|]``.

    ``x`` is the normalised image; values with ``|x| >= 1`` spike every step.
    """
    rand = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype if x.is_floating_point() else torch.float32)
    return torch.sign(x) * (rand < x.abs()).to(rand.dtype)
