"""Export trained SNNs to NIR (Neuromorphic Intermediate Representation) and run NIR graphs.

Mapping (discrete time, ``dt = 1`` step):

* Conv2d / Linear (no bias) → ``nir.Conv2d`` / ``nir.Linear``; 2x2 average pooling → ``nir.AvgPool2d``;
  flattening → ``nir.Flatten``; a residual sum → two edges into the same neuron node (NIR sums inputs).
* A population with leak ``λ`` and threshold ``V_th`` → ``nir.IF(r=1, v_threshold=V_th)`` when ``λ = 1``,
  else ``nir.LIF(tau = dt/(1-λ), r = tau/dt, v_leak = 0, v_threshold = V_th)`` — the forward-Euler
  discretisation ``v ← v + dt/tau·(v_leak − v + r·I) = λ·v + I`` gives back exactly our update.
* The integrating (non-spiking) output layer → ``nir.I(r=prod_l V_th,l)`` (the SNN's logits are
  ``prod_l V_th,l * mean_t(W s_t)``, see ``SpikingNet.output_scale``).
* NIR neurons reset to ``v_reset``; ours subtract the threshold.  Every neuron node carries
  ``metadata["reset_mode"] = "subtract"`` and the graph ``metadata`` records ``dt``, the encoding and
  the time steps, so :class:`NIRNetwork` (and any reader that honours it) reproduces the PyTorch SNN.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from .functional import heaviside_linear, lif_step, poisson_encode
from .snn import SpikingNet

__all__ = ["to_nir", "write_nir", "read_nir", "NIRNetwork", "from_nir"]


def _site_shapes(snn: SpikingNet) -> Tuple[Tuple[int, ...], List[Tuple[int, ...]], int]:
    cfg = snn.ann.config
    c, s = cfg.get("in_channels", 1), cfg.get("image_size", 28)
    shapes: Dict[int, Tuple[int, ...]] = {}

    def act(i, z):
        shapes[i] = tuple(z.shape[1:])
        return z

    with torch.no_grad():
        p = next(snn.ann.parameters())
        out = snn.ann.body(torch.zeros(1, c, s, s, dtype=p.dtype, device=p.device), act, lambda i, z: z)
    return (c, s, s), [shapes[i] for i in range(len(shapes))], int(out.shape[1])


def _w(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float32).numpy().copy()


def _neuron(snn: SpikingNet, i: int, shape) -> "nir.NIRNode":
    import nir
    n = snn.neurons[i]
    th = float(n.threshold.detach())
    lam = float(n.leak.detach().clamp(0, 1))
    ones = np.ones(shape, dtype=np.float32)
    meta = {"reset_mode": "subtract", "leak": lam}
    if lam >= 1.0:
        return nir.IF(r=ones, v_threshold=ones * th, metadata=meta)
    tau = 1.0 / max(1.0 - lam, 1e-12)
    return nir.LIF(tau=ones * tau, r=ones * tau, v_leak=ones * 0.0, v_threshold=ones * th, metadata=meta)


def _conv(m: nn.Conv2d, in_hw) -> "nir.Conv2d":
    import nir
    return nir.Conv2d(input_shape=tuple(int(v) for v in in_hw), weight=_w(m.weight), stride=m.stride,
                      padding=m.padding, dilation=m.dilation, groups=m.groups,
                      bias=np.zeros(m.out_channels, dtype=np.float32))


def _vgg_body(nir, snn: SpikingNet, nodes: dict, edges: list, shapes, in_shape) -> Tuple[str, int]:
    """Convolutions (each with its spiking layer) and pools, then a flatten; (last node, next site)."""
    prev, cur_shape, site = "input", in_shape, 0
    for op in snn.ann.ops:
        if op[0] == "conv":
            nodes[f"conv{op[1]}"] = _conv(snn.ann.convs[op[1]], cur_shape[1:])
            nodes[f"lif{site}"] = _neuron(snn, site, shapes[site])
            edges += [(prev, f"conv{op[1]}"), (f"conv{op[1]}", f"lif{site}")]
            prev, cur_shape = f"lif{site}", shapes[site]
            site += 1
        else:
            name = f"pool{len([k for k in nodes if k.startswith('pool')])}"
            nodes[name] = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
            edges.append((prev, name))
            prev = name
            cur_shape = (cur_shape[0], cur_shape[1] // 2, cur_shape[2] // 2)
    nodes["flatten"] = nir.Flatten(input_type={"input": np.array(cur_shape)}, start_dim=0, end_dim=-1)
    edges.append((prev, "flatten"))
    return "flatten", site


def _resnet_body(nir, snn: SpikingNet, nodes: dict, edges: list, shapes, in_shape) -> Tuple[str, int]:
    """Stem, residual blocks (a shortcut edge joins each block's second spiking layer), global pool."""
    ann = snn.ann
    nodes["stem"] = _conv(ann.stem, in_shape[1:])
    nodes["lif0"] = _neuron(snn, 0, shapes[0])
    edges += [("input", "stem"), ("stem", "lif0")]
    prev, cur_shape, site = "lif0", shapes[0], 1
    for b, blk in enumerate(ann.blocks):
        nodes[f"b{b}_conv1"] = _conv(blk.conv1, cur_shape[1:])
        nodes[f"lif{site}"] = _neuron(snn, site, shapes[site])
        edges += [(prev, f"b{b}_conv1"), (f"b{b}_conv1", f"lif{site}")]
        mid, mid_shape = f"lif{site}", shapes[site]
        site += 1
        nodes[f"b{b}_conv2"] = _conv(blk.conv2, mid_shape[1:])
        nodes[f"lif{site}"] = _neuron(snn, site, shapes[site])
        edges += [(mid, f"b{b}_conv2"), (f"b{b}_conv2", f"lif{site}")]
        if blk.shortcut is None:
            edges.append((prev, f"lif{site}"))
        else:
            nodes[f"b{b}_short"] = _conv(blk.shortcut, cur_shape[1:])
            edges += [(prev, f"b{b}_short"), (f"b{b}_short", f"lif{site}")]
        prev, cur_shape = f"lif{site}", shapes[site]
        site += 1
    h = cur_shape[1]
    nodes["gap"] = nir.AvgPool2d(kernel_size=np.array([h, h]), stride=np.array([h, h]), padding=np.array([0, 0]))
    nodes["flatten"] = nir.Flatten(input_type={"input": np.array((cur_shape[0], 1, 1))}, start_dim=0, end_dim=-1)
    edges += [(prev, "gap"), ("gap", "flatten")]
    return "flatten", site


def to_nir(snn: SpikingNet) -> "nir.NIRGraph":
    """The NIR graph of a :class:`SpikingNet` built on a VGG, ResNet or MLP."""
    import nir
    in_shape, shapes, n_out = _site_shapes(snn)
    ann = snn.ann
    family = ann.config["family"]
    nodes: Dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array(in_shape)})}
    edges: List[Tuple[str, str]] = []
    if family == "vgg":
        prev, site = _vgg_body(nir, snn, nodes, edges, shapes, in_shape)
    elif family == "mlp":
        nodes["flatten"] = nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=0, end_dim=-1)
        edges.append(("input", "flatten"))
        prev, site = "flatten", 0
    elif family == "resnet":
        prev, site = _resnet_body(nir, snn, nodes, edges, shapes, in_shape)
    else:
        raise UserError(f"NIR export does not know the model family {family!r}")
    fcs = [ann.fc] if family == "resnet" else list(ann.fcs)
    for j, fc in enumerate(fcs):   # a spiking layer after every linear layer but the last
        nodes[f"fc{j}"] = nir.Linear(weight=_w(fc.weight))
        edges.append((prev, f"fc{j}"))
        prev = f"fc{j}"
        if j < len(fcs) - 1:
            nodes[f"lif{site}"] = _neuron(snn, site, shapes[site])
            edges.append((f"fc{j}", f"lif{site}"))
            prev = f"lif{site}"
            site += 1
    out_scale = float(snn.output_scale().detach()) if len(snn.neurons) else 1.0
    nodes["readout"] = nir.I(r=np.full(n_out, out_scale, dtype=np.float32),
                             metadata={"role": "integrating output layer (gain = product of the thresholds)"})
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out])})
    edges += [(prev, "readout"), ("readout", "output")]
    meta = {"producer": "stdp-toolkit torch_bridge", "dt": 1.0, "timesteps": snn.timesteps,
            "encoding": snn.encoding, "reset_mode": "subtract",
            "update": "v[t] = leak*v[t-1] + I[t]; s = v > v_th; v -= v_th*s"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write_nir(graph, path: str) -> None:
    """Write ``graph`` to ``path`` atomically (the shared checkpoint writer): a full disk or a read-only
    folder is one UserError line and never leaves half a file."""
    import io

    import nir

    from ..checkpoint import atomic_write

    if os.path.isdir(path):
        raise UserError(f"{path} is a folder; give a file path for the NIR graph (e.g. {os.path.join(path, 'snn.nir')})")
    buf = io.BytesIO()
    nir.write(buf, graph)
    data = buf.getvalue()
    atomic_write(path, lambda fh: fh.write(data))


def read_nir(path: str):
    import nir
    try:
        return nir.read(path)
    except FileNotFoundError:
        raise UserError(f"NIR file not found: {path}") from None
    except Exception as exc:
        raise UserError(f"cannot read NIR file {path}: {exc}") from None


def _topo(graph) -> List[str]:
    preds = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        preds[b].append(a)
    order, done = [], set()

    def visit(k, stack=()):
        if k in done:
            return
        if k in stack:
            raise UserError("the NIR graph has a cycle; only feed-forward graphs can be run")
        for p in preds[k]:
            visit(p, stack + (k,))
        done.add(k)
        order.append(k)

    for k in graph.nodes:
        visit(k)
    return order


class NIRNetwork(nn.Module):
    """Runs a feed-forward NIR graph step by step with this package's discrete dynamics.

    Supported nodes: Input, Output, Conv2d, Linear, Affine, AvgPool2d, SumPool2d, Flatten, IF, LIF, I.
    Neuron nodes reset by subtraction when ``metadata["reset_mode"] == "subtract"`` (our exports),
    otherwise to ``v_reset``.  LIF parameters map back to ``leak = 1 - dt/tau`` and input gain
    ``dt·r/tau``.  ``forward(x)`` returns the mean input of the integrator output over ``T`` steps.
    """

    def __init__(self, graph, timesteps: Optional[int] = None, encoding: Optional[str] = None):
        super().__init__()
        self.graph = graph
        self.order = _topo(graph)
        self.preds = {k: [a for a, b in graph.edges if b == k] for k in graph.nodes}
        meta = graph.metadata or {}
        self.dt = float(meta.get("dt", 1.0))
        self.timesteps = int(timesteps or meta.get("timesteps", 1))
        self.encoding = encoding or meta.get("encoding", "direct")
        self.params = nn.ParameterDict()
        for k, n in graph.nodes.items():
            for attr in ("weight", "bias"):
                if hasattr(n, attr) and getattr(n, attr) is not None:
                    self.params[f"{k}__{attr}"] = nn.Parameter(torch.as_tensor(np.asarray(getattr(n, attr), dtype=np.float32)),
                                                               requires_grad=False)
        self.generator: Optional[torch.Generator] = None

    def _p(self, k, attr):
        return self.params[f"{k}__{attr}"]

    def _apply(self, k, node, x, state):
        import nir
        if isinstance(node, (nir.Input, nir.Output)):
            return x
        if isinstance(node, nir.Conv2d):
            pad = node.padding if not isinstance(node.padding, np.ndarray) else tuple(int(v) for v in node.padding)
            st = tuple(int(v) for v in np.atleast_1d(node.stride)) if not isinstance(node.stride, int) else node.stride
            dil = tuple(int(v) for v in np.atleast_1d(node.dilation)) if not isinstance(node.dilation, int) else node.dilation
            if isinstance(pad, (list, tuple, np.ndarray)):
                pad = tuple(int(v) for v in np.atleast_1d(pad))
            b = self._p(k, "bias") if f"{k}__bias" in self.params else None
            return F.conv2d(x, self._p(k, "weight"), b, st, pad, dil, int(node.groups))
        if isinstance(node, (nir.Linear, nir.Affine)):
            out = x @ self._p(k, "weight").T
            if isinstance(node, nir.Affine):
                out = out + self._p(k, "bias")
            return out
        if isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
            ks = tuple(int(v) for v in np.atleast_1d(node.kernel_size))
            st = tuple(int(v) for v in np.atleast_1d(node.stride))
            pd = tuple(int(v) for v in np.atleast_1d(node.padding))
            out = F.avg_pool2d(x, ks, st, pd)
            return out * (ks[0] * ks[-1]) if isinstance(node, nir.SumPool2d) else out
        if isinstance(node, nir.Flatten):
            return x.flatten(node.start_dim + 1, node.end_dim if node.end_dim < 0 else node.end_dim + 1)
        if isinstance(node, nir.I):
            r = torch.as_tensor(node.r, dtype=x.dtype)
            state[k] = state.get(k, 0) + r * x
            return state[k]
        if isinstance(node, (nir.IF, nir.LIF)):
            th = torch.as_tensor(node.v_threshold, dtype=x.dtype)
            if isinstance(node, nir.IF):
                leak, gain = 1.0, torch.as_tensor(node.r, dtype=x.dtype) * self.dt
            else:
                tau = torch.as_tensor(node.tau, dtype=x.dtype)
                leak = 1.0 - self.dt / tau
                gain = self.dt * torch.as_tensor(node.r, dtype=x.dtype) / tau
                vl = torch.as_tensor(node.v_leak, dtype=x.dtype)
                x = x + vl / torch.as_tensor(node.r, dtype=x.dtype)  # v_leak term, zero in our exports
            u = state.get(k, torch.zeros_like(x))
            if (node.metadata or {}).get("reset_mode", "reset") == "subtract":
                s, u = lif_step(gain * x, u, th, leak, heaviside_linear)
            else:
                u = leak * u + gain * x
                s = (u > th).to(x.dtype)
                u = torch.where(s > 0, torch.as_tensor(node.v_reset, dtype=x.dtype).expand_as(u), u)
            state[k] = u
            return s
        raise UserError(f"NIR node {k!r} of type {type(node).__name__} is not supported by NIRNetwork")

    @torch.no_grad()
    def forward(self, x: torch.Tensor, timesteps: Optional[int] = None) -> torch.Tensor:
        T = int(timesteps or self.timesteps)
        state: dict = {}
        out_key = [k for k, n in self.graph.nodes.items() if type(n).__name__ == "Output"][0]
        in_key = [k for k, n in self.graph.nodes.items() if type(n).__name__ == "Input"][0]
        result = None
        for _ in range(T):
            vals = {}
            for k in self.order:
                node = self.graph.nodes[k]
                if k == in_key:
                    inp = poisson_encode(x, self.generator) if self.encoding == "poisson" else x
                else:
                    ins = [vals[p] for p in self.preds[k]]
                    inp = ins[0]
                    for extra in ins[1:]:
                        inp = inp + extra
                vals[k] = self._apply(k, node, inp, state)
            result = vals[out_key]
        return result / T


def from_nir(graph_or_path, timesteps: Optional[int] = None) -> NIRNetwork:
    """A runnable :class:`NIRNetwork` from a NIR graph or ``.nir`` file."""
    graph = read_nir(graph_or_path) if isinstance(graph_or_path, str) else graph_or_path
    return NIRNetwork(graph, timesteps)
