"""Export a trained fully-connected or small VGG SNN to a Brian2 network (NeuronGroups + Synapses).

For a VGG, each convolution (with the average pooling before it) becomes a sparse ``Synapses`` object
whose weights are the convolution kernel entries (found by pushing basis vectors through the layers).

The Brian2 network reproduces the PyTorch dynamics exactly (up to float32 vs float64 rounding):

* one ``NeuronGroup`` per hidden population with variables ``v`` (membrane), ``I`` (input received
  from the previous layer's spikes), shared constants ``vth`` and ``lam``; every step
  ``v = lam*v + I`` (a ``run_regularly`` operation before the threshold), threshold ``v/vth - 1 > 0``
  and reset ``v -= vth`` (soft reset);
* ``Synapses`` with ``on_pre: I_post += w`` between consecutive populations (weights of the
  ``nn.Linear``);
* Poisson input: two ``SpikeGeneratorGroup``\\ s (positive and negative input spikes of amplitude
  ``input_scale``, since the normalised image has negative pixels) fed the very same spikes as the
  PyTorch run; direct input: a ``NeuronGroup`` holding the pixel values and ``Synapses`` with the
  summed variable ``I_ext_post = w*x_pre``, gated on for the ``T`` input steps;
* the non-spiking output layer: a ``NeuronGroup`` integrating ``v += I``; the prediction is
  ``argmax v``.

Each Brian2 time step (``dt`` = 1 ms, arbitrary) is one PyTorch step; spikes need one step per layer
to travel, so layer ``k`` handles PyTorch step ``t`` at Brian2 step ``t+k`` and the network is run
for ``T + L`` steps.  Several samples are simulated at once as independent blocks of neurons.
"""
from __future__ import annotations

import time
from typing import Dict, Optional

import numpy as np
import torch

from ..errors import UserError
from .snn import SpikingNet

__all__ = ["to_brian2", "run_brian2", "compare_with_brian2"]


class _Stop(Exception):
    pass


def _sparse_maps(snn: SpikingNet, batch: int = 512):
    """The linear map into each population (and into the output) as sparse ``(post, pre, w)`` arrays.

    For an MLP these are the ``nn.Linear`` weights; for a VGG, convolution and average pooling between
    two populations are folded into one sparse matrix, found by pushing basis vectors through the
    (bias-free, hence linear) layers in float64.  Returns ``(maps, sizes)`` with ``sizes[0]`` the input
    size and ``sizes[k+1]`` the size of population ``k`` (the last one: the output layer).
    """
    family = snn.ann.config.get("family")
    if family not in ("mlp", "vgg"):
        raise UserError("Brian2 export supports feed-forward fully-connected (--arch mlp) and VGG SNNs, not "
                        f"{family!r} (use NIR export for it)")
    import copy
    ann = copy.deepcopy(snn.ann).double().eval()
    cfg = ann.config
    c, s = cfg.get("in_channels", 1), cfg.get("image_size", 28)
    shapes = {}

    def shape_act(i, z):
        shapes[i] = tuple(z.shape[1:])
        return z

    with torch.no_grad():
        out = ann.body(torch.zeros(1, c, s, s, dtype=torch.float64), shape_act, lambda i, z: z)
    n_sites = len(shapes)
    in_shapes = [(c, s, s)] + [shapes[i] for i in range(n_sites)]
    sizes = [int(np.prod(sh)) for sh in in_shapes] + [int(out.shape[1])]
    maps = []
    for k in range(n_sites + 1):  # map from (input | population k-1) to (population k | output)
        src_shape = in_shapes[k]
        n_src = sizes[k]
        posts, pres, ws = [], [], []
        for start in range(0, n_src, batch):
            idx = torch.arange(start, min(n_src, start + batch))
            basis = torch.zeros(len(idx), n_src, dtype=torch.float64)
            basis[torch.arange(len(idx)), idx] = 1.0
            basis = basis.reshape((len(idx),) + src_shape)
            captured = {}

            def act(i, z, k=k, basis=basis, captured=captured):
                if i == k:
                    captured["z"] = z
                    raise _Stop
                return basis if i == k - 1 else torch.zeros((basis.shape[0],) + shapes[i], dtype=torch.float64)

            x0 = basis if k == 0 else torch.zeros((len(idx), c, s, s), dtype=torch.float64)
            with torch.no_grad():
                try:
                    captured["z"] = ann.body(x0, act, lambda i, z: z)
                except _Stop:
                    pass
            z = captured["z"].reshape(len(idx), -1)
            r, q = torch.nonzero(z, as_tuple=True)
            pres.append((idx[r]).numpy())
            posts.append(q.numpy())
            ws.append(z[r, q].numpy())
        maps.append((np.concatenate(posts), np.concatenate(pres), np.concatenate(ws)))
    return maps, sizes


def _encoded_inputs(snn: SpikingNet, x: torch.Tensor, T: int, seed: int) -> torch.Tensor:
    x = x.flatten(1)
    if snn.encoding == "direct":
        return x.unsqueeze(0).expand(T, *x.shape)
    snn.generator = torch.Generator().manual_seed(seed)
    try:
        return torch.stack([snn.encode(x) for _ in range(T)])
    finally:
        snn.generator = None


def _block_connect(S, maps, sizes, k: int, N: int) -> None:
    """Connect layer ``k``'s sparse map once per sample: sample ``b`` uses neurons ``b*n .. b*n+n-1``."""
    post, pre, w = maps[k]
    n_pre, n_post = sizes[k], sizes[k + 1]
    S.connect(i=(pre[None, :] + n_pre * np.arange(N)[:, None]).ravel(),
              j=(post[None, :] + n_post * np.arange(N)[:, None]).ravel())
    S.w = np.tile(w, N)


def _layers(b2, snn: SpikingNet, sizes, N: int, T: int, dt):
    """The hidden IF populations (one per spiking layer) and the integrating output population."""
    hidden = []
    for k in range(len(sizes) - 2):
        eqs = ("v : 1\nI : 1\nI_ext : 1\nvth : 1 (shared, constant)\nlam : 1 (shared, constant)\n"
               "t_end : second (shared, constant)")
        # t_end: population k handles PyTorch steps 0..T-1 at Brian2 steps k+1..k+T and stays silent after
        G = b2.NeuronGroup(N * sizes[k + 1], eqs, threshold="v/vth - 1 > 0 and t < t_end", reset="v -= vth", dt=dt,
                           name=f"hidden{k}")
        G.t_end = (k + 1 + T - 0.5) * dt
        G.vth = float(snn.neurons[k].threshold.detach())
        G.lam = float(snn.neurons[k].leak.detach().clamp(0, 1))
        hidden.append(G)
    out = b2.NeuronGroup(N * sizes[-1], "v : 1\nI : 1", dt=dt, name="output")
    out.run_regularly("v = v + I\nI = 0", when="before_thresholds", dt=dt)
    return hidden, out


def _input(b2, snn: SpikingNet, inputs: np.ndarray, first, maps, sizes, N: int, T: int, dt):
    """The input stage into ``first``: analog values behind a time gate (direct) or two spike
    generators for +a and -a (Poisson). Returns (named objects, first layer's update, namespace)."""
    n_in, L = sizes[0], len(maps)
    if snn.encoding == "direct":
        # Gate: on for Brian2 steps 1..T (layer 1 handles PyTorch step t at Brian2 step t+1).
        gate = b2.TimedArray(np.r_[0.0, np.ones(T), np.zeros(L + 1)], dt=dt, name="input_gate")
        if np.any(np.abs(inputs - inputs[0]) > 0):
            raise UserError("direct encoding needs the same analog input at every step")
        inp = b2.NeuronGroup(N * n_in, "x : 1 (constant)", dt=dt, name="input")
        inp.x = inputs[0].ravel()
        S = b2.Synapses(inp, first, "w : 1 (constant)\nI_ext_post = w * x_pre : 1 (summed)", dt=dt, name="syn_in")
        _block_connect(S, maps, sizes, 0, N)
        return {"input": inp, "syn_in": S}, "v = lam*v + I + input_gate(t)*I_ext\nI = 0", {"input_gate": gate}
    amp = float(np.abs(inputs).max()) if inputs.size else 1.0
    if not set(np.unique(inputs).tolist()) <= {-amp, 0.0, amp}:
        raise UserError("Poisson inputs must be spikes of one amplitude (-a, 0, +a)")
    named = {}
    for sign, name in ((amp, "input_pos"), (-amp, "input_neg")):
        t_idx, b_idx, j_idx = np.nonzero(inputs == sign)
        gen = b2.SpikeGeneratorGroup(N * n_in, b_idx * n_in + j_idx, t_idx * dt, dt=dt, name=name)
        S = b2.Synapses(gen, first, "w : 1 (constant)", on_pre=f"I_post += {sign} * w", dt=dt, name=f"syn_{name}")
        _block_connect(S, maps, sizes, 0, N)
        named[name], named[f"syn_{name}"] = gen, S
    return named, "v = lam*v + I\nI = 0", {}


def to_brian2(snn: SpikingNet, x: torch.Tensor, timesteps: Optional[int] = None, seed: int = 0,
              inputs: Optional[torch.Tensor] = None, monitors: bool = False, maps=None):
    """Build the Brian2 network of ``snn`` for the samples ``x`` (``[N, ...]``).

    ``maps``: the result of ``_sparse_maps(snn)`` when building several networks of one SNN.
    ``inputs``: the encoded input ``[T, N, n_in]`` (Poisson spikes or analog values); by default
    drawn from a ``seed``-ed generator (Poisson) or the image itself (direct).
    Returns ``(network, groups, info)`` (run it with
    ``network.run(info["run_steps"] * info["dt"], namespace=info["namespace"])``): ``groups`` maps names (``input``/``input_pos``/``input_neg``,
    ``hidden0``..., ``output``, synapses ``syn0``..., monitors ``spikes_hidden0``..., ``state_output``)
    to the Brian2 objects; neuron ``b*n + j`` of a group is unit ``j`` of sample ``b``.
    """
    import brian2 as b2

    maps, sizes = _sparse_maps(snn) if maps is None else maps
    T = snn.timesteps if timesteps is None else int(timesteps)
    N = len(x)
    if inputs is None:
        inputs = _encoded_inputs(snn, x, T, seed)
    inputs = inputs.detach().cpu().double().numpy().reshape(T, N, -1)
    if inputs.shape[2] != sizes[0]:
        raise UserError(f"input has {inputs.shape[2]} features, the network expects {sizes[0]}")
    L = len(maps)  # hidden populations = L-1, output = layer L
    dt = 1 * b2.ms
    hidden, out = _layers(b2, snn, sizes, N, T, dt)
    groups: Dict[str, object] = {f"hidden{k}": G for k, G in enumerate(hidden)}
    groups["output"] = out
    named, first_update, namespace = _input(b2, snn, inputs, hidden[0] if hidden else out, maps, sizes, N, T, dt)
    groups.update(named)
    for k, G in enumerate(hidden):
        G.run_regularly(first_update if k == 0 else "v = lam*v + I\nI = 0", when="before_thresholds", dt=dt)
        post = hidden[k + 1] if k + 1 < len(hidden) else out
        S = b2.Synapses(G, post, "w : 1 (constant)", on_pre="I_post += w", dt=dt, name=f"syn{k}")
        _block_connect(S, maps, sizes, k + 1, N)
        groups[f"syn{k}"] = S
    if monitors:
        for k, G in enumerate(hidden):
            groups[f"spikes_hidden{k}"] = b2.SpikeMonitor(G, name=f"spikes_hidden{k}")
        groups["state_output"] = b2.StateMonitor(out, "v", record=True, dt=dt, name="state_output")
    net = b2.Network(*groups.values())
    info = dict(timesteps=T, run_steps=T + L, dt=dt, samples=N, n_out=sizes[-1], layers=L, namespace=namespace)
    return net, groups, info


def run_brian2(snn: SpikingNet, x: torch.Tensor, inputs: Optional[torch.Tensor] = None, codegen: str = "numpy",
               timesteps: Optional[int] = None, seed: int = 0, monitors: bool = False, maps=None):
    """Build and run the Brian2 network on ``x``; returns ``(logits [N, classes], groups)``.

    The logits are the output group's ``v`` times ``V_th(last) / T``, the PyTorch SNN's scale."""
    import brian2 as b2

    old = b2.prefs.codegen.target
    b2.prefs.codegen.target = codegen
    try:
        net, groups, info = to_brian2(snn, x, timesteps, seed, inputs, monitors, maps)
        net.run(info["run_steps"] * info["dt"], namespace=info["namespace"])
        v = np.asarray(groups["output"].v[:]).reshape(info["samples"], info["n_out"])
    finally:
        b2.prefs.codegen.target = old
    if len(snn.neurons):
        v = v * float(snn.output_scale().detach()) / info["timesteps"]  # same scale as the PyTorch logits
    return v, groups


def compare_with_brian2(snn: SpikingNet, x: torch.Tensor, y: Optional[torch.Tensor] = None, codegen: str = "numpy",
                        chunk: int = 50, seed: int = 0, timesteps: Optional[int] = None,
                        raster_path: Optional[str] = None, progress: bool = False) -> dict:
    """Run PyTorch and Brian2 on the same samples (same input spikes) and report agreement.

    ``agreement``: fraction of samples where Brian2's prediction equals the float32 PyTorch SNN's;
    ``agreement_float64``: the same against the PyTorch SNN evaluated in float64.
    """
    snn.eval()
    T = snn.timesteps if timesteps is None else int(timesteps)
    t0 = time.time()
    preds_t32, preds_t64, preds_b = [], [], []
    snn64 = None
    import copy
    snn64 = copy.deepcopy(snn).double()
    maps = _sparse_maps(snn)
    starts = range(0, len(x), chunk)
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, desc="brian2", leave=False)
    for s in starts:
        xb = x[s:s + chunk]
        enc = _encoded_inputs(snn, xb, T, seed + s)
        with torch.no_grad():
            shape = (T, len(xb)) + tuple(xb.shape[1:])
            preds_t32.append(snn.forward_encoded(enc.float().reshape(shape)).argmax(1).numpy())
            preds_t64.append(snn64.forward_encoded(enc.double().reshape(shape)).argmax(1).numpy())
        v, groups = run_brian2(snn, xb, enc, codegen, T, monitors=(raster_path is not None and s == 0), maps=maps)
        preds_b.append(v.argmax(1))
        if raster_path is not None and s == 0:
            _raster(groups, raster_path, len(xb))
    p32, p64, pb = (np.concatenate(p) for p in (preds_t32, preds_t64, preds_b))
    res = dict(samples=int(len(pb)), timesteps=T, encoding=snn.encoding,
               agreement=float((pb == p32).mean()), agreement_float64=float((pb == p64).mean()),
               seconds=time.time() - t0, codegen=codegen)
    if y is not None:
        yy = y.numpy()
        res.update(torch_acc=float((p32 == yy).mean()), brian2_acc=float((pb == yy).mean()))
    if raster_path is not None:
        res["raster"] = raster_path
    return res


def _raster(groups, path: str, n_samples: int) -> None:
    import os

    import matplotlib.pyplot as plt
    mons = [k for k in groups if k.startswith("spikes_hidden")]
    fig, axes = plt.subplots(len(mons), 1, figsize=(7, 2.5 * len(mons)), squeeze=False)
    for ax, k in zip(axes[:, 0], mons):
        M = groups[k]
        n = groups[k.replace("spikes_", "")].N // n_samples
        sel = np.asarray(M.i[:]) < n  # first sample only
        ax.plot(np.asarray(M.t[:])[sel] * 1000, np.asarray(M.i[:])[sel], "|k", ms=3)
        ax.set_ylabel(f"{k[7:]} neuron")
    axes[-1, 0].set_xlabel("time step (ms)")
    fig.tight_layout()
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise UserError(f"cannot write the raster plot {path}: {exc.strerror}; free space or choose another --out") \
            from None
    finally:
        plt.close(fig)
