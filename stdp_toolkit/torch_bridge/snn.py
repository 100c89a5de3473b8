"""The spiking network that runs a :class:`~stdp_toolkit.torch_bridge.models.ConvertibleNet`'s weights.

``SpikingNet(ann, ...)`` shares the ANN's Conv2d/Linear modules (no copy) and puts one IF/LIF
population (:class:`~stdp_toolkit.torch_bridge.layers.LIF`) at every activation site, a per-sample
fixed dropout mask at every dropout site, and a non-spiking integrating output layer after the last
linear layer.  Input is Poisson rate-coded (hybrid conversion) or direct (DIET-SNN).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
from torch import nn

from .functional import poisson_encode
from .layers import LIF, IntegratorOutput, StepDropout
from .models import ConvertibleNet

__all__ = ["SpikingNet"]


class _StopForward(Exception):
    pass


class SpikingNet(nn.Module):
    """SNN view of a convertible ANN.

    Parameters
    ----------
    ann: the model whose weights are used (shared, so training the SNN trains them).
    timesteps: default number of time steps ``T`` per sample.
    encoding: ``"poisson"`` or ``"direct"``.
    thresholds: one firing threshold per activation site (default 1.0).
    leak: initial leak of every layer (1.0 = IF); ``train_leak`` / ``train_threshold`` make them
        trainable (DIET-SNN).
    surrogate: ``"linear"`` or ``"stdb"`` (with ``alpha``, ``beta``).
    input_scale: amplitude of the Poisson input spikes (see :meth:`encode`).
    """

    def __init__(self, ann: ConvertibleNet, timesteps: int = 25, encoding: str = "poisson",
                 thresholds: Optional[Sequence[float]] = None, leak: float | Sequence[float] = 1.0,
                 train_threshold: bool = False, train_leak: bool = False, surrogate: str = "linear",
                 gamma: float = 0.3, alpha: float = 0.3, beta: float = 0.01, input_scale: float = 1.0):
        super().__init__()
        if encoding not in ("poisson", "direct"):
            raise ValueError("encoding must be 'poisson' or 'direct'")
        self.ann = ann
        self.timesteps = int(timesteps)
        self.encoding = encoding
        self.input_scale = float(input_scale)
        n = ann.n_act
        thresholds = [1.0] * n if thresholds is None else list(thresholds)
        leaks = [float(leak)] * n if isinstance(leak, (int, float)) else list(leak)
        if len(thresholds) != n or len(leaks) != n:
            raise ValueError(f"need {n} thresholds and leaks, got {len(thresholds)} and {len(leaks)}")
        self.neurons = nn.ModuleList(
            LIF(th, lk, train_threshold=train_threshold, train_leak=train_leak, surrogate=surrogate,
                gamma=gamma, alpha=alpha, beta=beta) for th, lk in zip(thresholds, leaks))
        self.drops = nn.ModuleList(StepDropout(p) for p in ann.dropout_ps)
        self.output = IntegratorOutput()
        self.generator: Optional[torch.Generator] = None
        self._stop_at: Optional[int] = None
        self._probe: List[torch.Tensor] = []

    # -- settings ----------------------------------------------------------------------------
    def snn_config(self) -> dict:
        n0 = self.neurons[0] if len(self.neurons) else None
        return dict(timesteps=self.timesteps, encoding=self.encoding, input_scale=self.input_scale,
                    thresholds=self.thresholds(), leaks=self.leaks(),
                    surrogate=n0.surrogate if n0 else "linear", gamma=n0.gamma if n0 else 0.3,
                    alpha=n0.alpha if n0 else 0.3, beta=n0.beta if n0 else 0.01)

    def thresholds(self) -> List[float]:
        return [float(n.threshold.detach()) for n in self.neurons]

    def leaks(self) -> List[float]:
        return [float(n.leak.detach().clamp(0, 1)) for n in self.neurons]

    def set_thresholds(self, values: Sequence[float]) -> None:
        with torch.no_grad():
            for n, v in zip(self.neurons, values):
                n.threshold.fill_(float(v))

    def set_surrogate(self, surrogate: str, **kw) -> None:
        for n in self.neurons:
            n.surrogate = surrogate
            for k, v in kw.items():
                setattr(n, k, float(v))

    def clamp_(self) -> None:
        for n in self.neurons:
            n.clamp_()

    def reset_state(self) -> None:
        for m in list(self.neurons) + list(self.drops) + [self.output]:
            m.reset_state()

    def reset_counters(self) -> None:
        for n in self.neurons:
            n.reset_counters()

    # -- running -----------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Poisson: ``s * sign(x) * [rand < |x|/s]`` with ``s = input_scale`` (spikes of amplitude
        ``s``, so inputs with ``|x| > 1`` are not clipped when ``s >= max|x|``; ``s = 1`` is Rathi et
        al.'s encoder); direct: ``x``."""
        if self.encoding == "direct":
            return x
        if self.input_scale == 1.0:
            return poisson_encode(x, self.generator)
        return self.input_scale * poisson_encode(x / self.input_scale, self.generator)

    def _act(self, i: int, z: torch.Tensor) -> torch.Tensor:
        if self._stop_at is not None and i == self._stop_at:
            self._probe.append(z.detach())
            raise _StopForward
        return self.neurons[i](z)

    def _drop(self, i: int, z: torch.Tensor) -> torch.Tensor:
        return self.drops[i](z)

    def output_scale(self) -> torch.Tensor | float:
        """Factor on the output layer's mean input current: the product of all thresholds (detached).

        With soft reset, population ``l`` fires at rate ``r_l ≈ I_l / V_th,l`` where its input current
        ``I_l`` is the ANN pre-activation divided by the thresholds of the populations before it, so
        ``mean_t(W s_t) * prod_l V_th,l`` has the scale of the ANN's logits (exact for feed-forward
        nets in the rate limit; an approximation across ResNet shortcuts).  Argmax is unaffected; the
        factor keeps the cross-entropy well scaled for any thresholds and T.
        """
        if not len(self.neurons):
            return 1.0
        scale = self.neurons[0].threshold.detach()
        for n in list(self.neurons)[1:]:
            scale = scale * n.threshold.detach()
        return scale

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """One time step on the (un-encoded) input ``x``; returns the running-mean output (logits)."""
        z = self.ann.body(self.encode(x), self._act, self._drop)
        return self.output(z) * self.output_scale()

    def forward(self, x: torch.Tensor, timesteps: Optional[int] = None, return_all: bool = False):
        """Run ``T`` steps on a batch; returns the output layer's mean input current (logits).

        With ``return_all=True`` also returns the list of per-step logits (for accuracy-vs-T curves
        from a single run).
        """
        T = self.timesteps if timesteps is None else int(timesteps)
        self.reset_state()
        out, history = None, []
        for _ in range(T):
            out = self.step(x)
            if return_all:
                history.append(out.detach())
        return (out, history) if return_all else out

    def forward_encoded(self, inputs) -> torch.Tensor:
        """Run on already-encoded inputs (a sequence of per-step tensors, e.g. recorded Poisson
        spikes), bypassing the encoder; returns the output layer's mean input current."""
        self.reset_state()
        out = None
        for x_t in inputs:
            out = self.output(self.ann.body(x_t, self._act, self._drop)) * self.output_scale()
        return out

    @torch.no_grad()
    def probe_inputs(self, x: torch.Tensor, layer: int, timesteps: int) -> List[torch.Tensor]:
        """Input currents into population ``layer`` at each of ``timesteps`` steps, with all earlier
        populations spiking (used by layer-wise threshold balancing)."""
        self.reset_state()
        self._stop_at, self._probe = layer, []
        try:
            for _ in range(timesteps):
                try:
                    self.step(x)
                except _StopForward:
                    pass
            return self._probe
        finally:
            self._stop_at = None
            self._probe = []
            self.reset_state()
