"""Sequence models: the vanilla LIF stack, LITE (spiking convolutions over time + attention) and
matched-size LSTM / GRU / ReLU-CNN baselines.

All models take a batch ``x`` and optional ``lengths`` and return logits ``(B, n_classes)``:

* ``input_kind="tokens"``: ``x`` = token ids ``(B, L)`` (0 = padding), embedded by a trainable
  ``nn.Embedding`` (no pretrained vectors). Spiking models present each word for ``steps_per_item``
  time steps (the authors' IMDB draft uses T=5), so a sentence of L words takes ``L*T`` steps.
* ``input_kind="frames"``: ``x`` = binned event frames ``(B, S, 2, H, W)`` (event counts), one frame per
  time step. A small convolutional front end over *space* (spiking for the SNNs, ReLU for the ANNs)
  turns each frame into a feature vector.
* ``input_kind="vectors"``: ``x`` = ``(B, S, D)`` (e.g. the synthetic spike trains of
  :mod:`.synthetic`), fed as they are.

Readout: ``"mean"`` integrates over all valid steps (classification of a whole sequence);
``"last"`` reads only the end of the sequence (the last ``recall_steps`` steps for the integrator, the
last step as the attention query, the last hidden state for LSTM/GRU), so the answer must be carried
through time.

The spiking neurons are :class:`stdp_toolkit.torch_bridge.layers.LIF` (trainable per-layer leak,
clamped to [0, 1], and trainable threshold; linear surrogate gradient). Each model counts its
operations while an :class:`OpCounter` is attached (see :func:`count_ops` and :mod:`stdp_toolkit.lite.metrics`):
accumulates (AC) triggered by spikes and multiply-accumulates (MAC) on real-valued inputs.

Why one module of ~390 lines of code: the five models are compared like for like (same front end,
readouts and op counting), which is easiest to check when they sit side by side.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from ..torch_bridge.layers import LIF

MODEL_NAMES = ("vanilla", "lite", "lstm", "gru", "cnn")
SPIKING = ("vanilla", "lite")


# ---------------------------------------------------------------------------------------------
# operation counting
@dataclass
class OpCounter:
    """Operations summed over the samples seen while attached (divide by ``samples`` per sample)."""

    macs: float = 0.0          # multiply-accumulates on real-valued operands (synaptic / dense)
    acs: float = 0.0           # accumulates triggered by binary spikes (or by event counts)
    neuron_macs: float = 0.0   # neuron state updates: LIF leak*u + x, LSTM/GRU element-wise gate products
    spikes: float = 0.0
    neuron_steps: float = 0.0
    samples: int = 0
    time_steps: float = 0.0    # summed over samples (valid steps only)
    per_layer: dict = field(default_factory=dict)

    def add(self, layer: str, macs: float = 0.0, acs: float = 0.0, neuron_macs: float = 0.0) -> None:
        self.macs += float(macs)
        self.acs += float(acs)
        self.neuron_macs += float(neuron_macs)
        d = self.per_layer.setdefault(layer, {"macs": 0.0, "acs": 0.0, "neuron_macs": 0.0})
        d["macs"] += float(macs)
        d["acs"] += float(acs)
        d["neuron_macs"] += float(neuron_macs)


@contextlib.contextmanager
def count_ops(model: nn.Module):
    counter = OpCounter()
    model.ops = counter
    try:
        yield counter
    finally:
        model.ops = None


def _valid_mask(lengths: Optional[torch.Tensor], batch: int, steps: int, device) -> torch.Tensor:
    if lengths is None:
        return torch.ones(batch, steps, dtype=torch.bool, device=device)
    return torch.arange(steps, device=device)[None, :] < lengths[:, None]


def _causal_conv_targets(steps: int, kernel: int, dilation: int, device) -> torch.Tensor:
    """For a causal conv, how many outputs each input step feeds: min(k, (S-1-t)//d + 1)."""
    t = torch.arange(steps, device=device)
    return torch.clamp((steps - 1 - t) // dilation + 1, max=kernel).float()


# ---------------------------------------------------------------------------------------------
# building blocks
class SpikingSequence(nn.Module):
    """An :class:`LIF` population unrolled over the time axis: currents ``(B, S, ...)`` -> spikes."""

    def __init__(self, threshold: float = 1.0, leak: float = 0.95):
        super().__init__()
        self.lif = LIF(threshold=threshold, leak=leak)

    def forward(self, currents: torch.Tensor) -> torch.Tensor:
        self.lif.reset_state()
        out = [self.lif(currents[:, t]) for t in range(currents.shape[1])]
        self.lif.reset_state()
        return torch.stack(out, dim=1)


class CausalConv1d(nn.Module):
    """Convolution over time ``(B, S, C_in) -> (B, S, C_out)``; output t sees inputs t-(k-1)d .. t."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int = 1, bias: bool = True):
        super().__init__()
        self.kernel, self.dilation = kernel, dilation
        self.conv = nn.Conv1d(c_in, c_out, kernel, dilation=dilation, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (self.kernel - 1) * self.dilation
        y = self.conv(F.pad(x.transpose(1, 2), (pad, 0)))
        return y.transpose(1, 2)

    def count(self, ops: OpCounter, name: str, x: torch.Tensor, spiking: bool, mask: torch.Tensor) -> None:
        c_out = self.conv.out_channels
        if spiking:  # each input spike is added into (valid targets) x C_out outputs
            targets = _causal_conv_targets(x.shape[1], self.kernel, self.dilation, x.device)
            ops.add(name, acs=float((x.detach().sum(dim=2) * targets[None, :]).sum()) * c_out)
        else:
            ops.add(name, macs=float(mask.sum()) * self.conv.in_channels * self.kernel * c_out)


class TemporalAttention(nn.Module):
    """Attention pooling over time steps.

    Keys and values are linear maps of the per-step (spike) features; the query is a learned vector,
    plus (``query_from_last=True``) a linear map of the last valid step's features. Returns
    ``(pooled (B, value_dim), weights (B, heads, S))``. Padded steps get zero weight.
    Every time step has a direct gradient path to the output through its key and value, which is
    what keeps gradients from vanishing on long sequences.
    """

    def __init__(self, dim: int, key_dim: int = 32, value_dim: Optional[int] = None, heads: int = 2,
                 query_from_last: bool = False):
        super().__init__()
        value_dim = value_dim or dim
        if key_dim % heads or value_dim % heads:
            raise UserError(f"attention key_dim {key_dim} and value_dim {value_dim} must be divisible by heads {heads}")
        self.heads, self.key_dim, self.value_dim = heads, key_dim, value_dim
        self.key = nn.Linear(dim, key_dim, bias=False)
        self.value = nn.Linear(dim, value_dim, bias=False)
        self.query = nn.Parameter(torch.randn(key_dim) / math.sqrt(key_dim))
        self.query_from_last = query_from_last
        self.query_proj = nn.Linear(dim, key_dim, bias=False) if query_from_last else None

    def forward(self, s: torch.Tensor, mask: torch.Tensor, ops: Optional[OpCounter] = None,
                spiking: bool = True):
        b, steps, _ = s.shape
        h, dk, dv = self.heads, self.key_dim // self.heads, self.value_dim // self.heads
        k = self.key(s).view(b, steps, h, dk)
        v = self.value(s).view(b, steps, h, dv)
        q = self.query.expand(b, -1)
        last = None
        if self.query_proj is not None:
            last_idx = mask.long().sum(1).clamp(min=1) - 1
            last = s[torch.arange(b, device=s.device), last_idx]
            q = q + self.query_proj(last)
        q = q.view(b, h, dk)
        scores = torch.einsum("bshd,bhd->bhs", k, q) / math.sqrt(dk)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        pooled = torch.einsum("bhs,bshd->bhd", weights, v).reshape(b, h * dv)
        if ops is not None:
            n_valid = float(mask.sum())
            inp = s.detach() * mask[:, :, None]
            kv = self.key_dim + self.value_dim
            if spiking:
                ops.add("attention.kv", acs=float(inp.sum()) * kv)
            else:
                ops.add("attention.kv", macs=n_valid * s.shape[2] * kv)
            if last is not None:
                if spiking:
                    ops.add("attention.query", acs=float(last.detach().sum()) * self.key_dim)
                else:
                    ops.add("attention.query", macs=b * s.shape[2] * self.key_dim)
            # scores q.k, softmax (one op per score) and the weighted sum of values: real-valued MACs
            ops.add("attention.scores", macs=n_valid * (self.key_dim + self.heads + self.value_dim))
        return pooled, weights


class Head(nn.Module):
    """Small ANN head ``dim -> hidden -> n_classes`` on the pooled / integrated features."""

    def __init__(self, dim: int, hidden: int, n_classes: int, dropout: float = 0.0):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, n_classes)
        self.drop = nn.Dropout(dropout)

    def forward(self, z: torch.Tensor, ops: Optional[OpCounter] = None) -> torch.Tensor:
        if ops is not None:
            ops.add("head", macs=z.shape[0] * (self.fc1.in_features * self.fc1.out_features
                                                + self.fc2.in_features * self.fc2.out_features))
        return self.fc2(F.relu(self.fc1(self.drop(z))))


class FrameFrontEnd(nn.Module):
    """Convolutions over *space* applied to every frame: 3 x (conv3x3 -> BN -> neuron -> max-pool 2).

    ``spiking=True``: LIF neurons unrolled over the frames (the membrane carries from frame to frame);
    ``spiking=False``: ReLU. 34x34 -> 17 -> 8 -> 4; output ``(B, S, c3*4*4)``. BatchNorm is folded into
    the convolution at inference and costs no operations.
    """

    def __init__(self, channels=(12, 24, 32), in_channels: int = 2, spiking: bool = True,
                 leak: float = 0.95, threshold: float = 1.0, size: int = 34):
        super().__init__()
        self.spiking = spiking
        self.convs, self.bns, self.neurons = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        c_prev = in_channels
        for c in channels:
            self.convs.append(nn.Conv2d(c_prev, c, 3, padding=1, bias=False))
            self.bns.append(nn.BatchNorm2d(c))
            self.neurons.append(SpikingSequence(threshold, leak) if spiking else nn.ReLU())
            c_prev = c
            size //= 2
        self.out_dim = c_prev * size * size

    def forward(self, x: torch.Tensor, ops: Optional[OpCounter] = None) -> torch.Tensor:
        b, steps = x.shape[:2]
        h = x
        for i, (conv, bn, neuron) in enumerate(zip(self.convs, self.bns, self.neurons)):
            flat = h.reshape(b * steps, *h.shape[2:])
            cur = bn(conv(flat))
            if ops is not None:
                fan = conv.out_channels * 9
                if self.spiking:  # input events / spikes each trigger 9*C_out accumulates (border ignored)
                    ops.add(f"front.conv{i}", acs=float(flat.detach().sum()) * fan)
                else:
                    ops.add(f"front.conv{i}", macs=float(cur.numel()) * conv.in_channels * 9)
            if self.spiking:
                cur = neuron(cur.view(b, steps, *cur.shape[1:]))
                if ops is not None:
                    ops.add(f"front.lif{i}", neuron_macs=float(cur[0].numel()) * b)
                    ops.spikes += float(cur.detach().sum())
                    ops.neuron_steps += float(cur.numel())
                cur = cur.reshape(b * steps, *cur.shape[2:])
            else:
                cur = neuron(cur)
            cur = F.max_pool2d(cur, 2)
            h = cur.view(b, steps, *cur.shape[1:])
        return h.reshape(b, steps, -1)


# ---------------------------------------------------------------------------------------------
# models
@dataclass
class SeqSpec:
    """What a model needs to know about its data."""

    input_kind: str                 # tokens | frames | vectors
    n_classes: int
    in_dim: int = 0                 # vectors: features per step
    vocab_size: int = 0             # tokens
    embed_dim: int = 100            # tokens
    steps_per_item: int = 1         # spiking models: time steps each word / frame / vector is shown
    readout: str = "mean"           # mean | last
    recall_steps: int = 1           # readout="last": integrator window of the vanilla SNN
    embed_dropout: float = 0.0      # tokens: dropout on the word vectors (training only)

    def __post_init__(self) -> None:
        if self.input_kind not in ("tokens", "frames", "vectors"):
            raise UserError(f"input_kind must be tokens, frames or vectors, not {self.input_kind!r}")
        if self.readout not in ("mean", "last"):
            raise UserError(f"readout must be 'mean' or 'last', not {self.readout!r}")
        if self.steps_per_item < 1:
            raise UserError(f"steps_per_item must be >= 1, got {self.steps_per_item}")


class SequenceModel(nn.Module):
    """Shared input handling: embeddings / frame front end, masks, time-step bookkeeping."""

    spiking = False

    def __init__(self, spec: SeqSpec, frame_channels=(12, 24, 32), leak: float = 0.95, threshold: float = 1.0):
        super().__init__()
        self.spec = spec
        self.ops: Optional[OpCounter] = None
        self.embedding = None
        self.front = None
        if spec.input_kind == "tokens":
            if spec.vocab_size < 3:
                raise UserError("a token model needs vocab_size >= 3")
            self.embedding = nn.Embedding(spec.vocab_size, spec.embed_dim, padding_idx=0)
            self.feat_dim = spec.embed_dim
        elif spec.input_kind == "frames":
            self.front = FrameFrontEnd(frame_channels, spiking=self.spiking, leak=leak, threshold=threshold)
            self.feat_dim = self.front.out_dim
        else:
            if spec.in_dim < 1:
                raise UserError("a vector model needs in_dim >= 1")
            self.feat_dim = spec.in_dim

    def items(self, x: torch.Tensor, lengths: Optional[torch.Tensor]):
        """Per-item features ``(B, L, F)``, item mask ``(B, L)``; the features are spikes (or event
        counts) when ``features_binary`` is True."""
        if self.spec.input_kind == "tokens":
            mask = x != 0 if lengths is None else _valid_mask(lengths, x.shape[0], x.shape[1], x.device)
            return F.dropout(self.embedding(x), self.spec.embed_dropout, self.training), mask, False
        mask = _valid_mask(lengths, x.shape[0], x.shape[1], x.device)
        if self.spec.input_kind == "frames":
            return self.front(x, self.ops), mask, self.spiking
        return x, mask, True

    def time_steps(self, n_items: int) -> int:
        return n_items * (self.spec.steps_per_item if self.spiking else 1)

    def _record_steps(self, mask: torch.Tensor) -> None:
        if self.ops is not None:
            self.ops.samples += mask.shape[0]
            self.ops.time_steps += float(mask.sum())

    def _lif(self, layer: SpikingSequence, cur: torch.Tensor, mask: torch.Tensor, name: str) -> torch.Tensor:
        s = layer(cur) * mask[:, :, None]
        if self.ops is not None:
            n = float(mask.sum()) * cur.shape[2]
            self.ops.add(name, neuron_macs=n)
            self.ops.spikes += float(s.detach().sum())
            self.ops.neuron_steps += n
        return s

    def clamp_(self) -> None:
        for m in self.modules():
            if isinstance(m, LIF):
                m.clamp_()


def _repeat_steps(z: torch.Tensor, mask: torch.Tensor, t: int):
    if t == 1:
        return z, mask
    return z.repeat_interleave(t, dim=1), mask.repeat_interleave(t, dim=1)


class VanillaSNN(SequenceModel):
    """Linear -> LIF -> Linear -> LIF -> integrator -> small ANN head (no attention, no conv over time).

    The only memory across time steps is the membrane potential (trainable leak, init 0.95; threshold
    init 1.0), as in the authors' IMDB draft.
    """

    spiking = True

    def __init__(self, spec: SeqSpec, hidden: int = 64, head_hidden: int = 32, leak: float = 0.95,
                 threshold: float = 1.0, dropout: float = 0.0, frame_channels=(12, 24, 32)):
        super().__init__(spec, frame_channels, leak, threshold)
        self.fc1, self.fc2 = nn.Linear(self.feat_dim, hidden), nn.Linear(hidden, hidden)
        self.lif1, self.lif2 = SpikingSequence(threshold, leak), SpikingSequence(threshold, leak)
        self.head = Head(hidden, head_hidden, spec.n_classes, dropout)

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        z, mask, binary = self.items(x, lengths)
        ops = self.ops
        cur1 = self.fc1(z)  # a constant input repeated T steps: computed once per item
        if ops is not None:
            if binary:
                ops.add("fc1", acs=float((z.detach() * mask[:, :, None]).sum()) * self.fc1.out_features)
            else:
                ops.add("fc1", macs=float(mask.sum()) * self.fc1.in_features * self.fc1.out_features)
        cur1, mask = _repeat_steps(cur1, mask, self.spec.steps_per_item)
        self._record_steps(mask)
        s1 = self._lif(self.lif1, cur1, mask, "lif1")
        if ops is not None:
            ops.add("fc2", acs=float(s1.detach().sum()) * self.fc2.out_features)
        s2 = self._lif(self.lif2, self.fc2(s1), mask, "lif2")
        if self.spec.readout == "last":
            n = mask.long().sum(1, keepdim=True)
            idx = torch.arange(mask.shape[1], device=mask.device)[None, :]
            window = mask & (idx >= n - self.spec.recall_steps * self.spec.steps_per_item)
        else:
            window = mask
        integ = (s2 * window[:, :, None]).sum(1) / window.sum(1, keepdim=True).clamp(min=1)
        if ops is not None:
            ops.add("integrator", acs=float((s2.detach() * window[:, :, None]).sum()))
        return self.head(integ, ops)


class LITE(SequenceModel):
    """LITE-SNN: spiking convolutions over time (and space, for frames) + an attention layer.

    items -> causal Conv1d over items (k) -> BN -> LIF (unrolled over ``L*T`` steps) -> causal Conv1d
    over steps (k, dilation T: spans k items) -> BN -> LIF -> attention pooling over the steps -> head.
    The convolutions are computed for all steps in parallel; the LIF membranes give the recurrence.
    """

    spiking = True

    def __init__(self, spec: SeqSpec, channels: int = 48, kernel: int = 3, key_dim: int = 16, heads: int = 2,
                 head_hidden: int = 32, leak: float = 0.95, threshold: float = 1.0, dropout: float = 0.0,
                 frame_channels=(12, 24, 32), skip: bool = False, value_dim: Optional[int] = None,
                 pool: str = "attention"):
        super().__init__(spec, frame_channels, leak, threshold)
        if pool not in ("attention", "both"):
            raise UserError(f"LITE pool must be 'attention' or 'both' (attention + integrator), not {pool!r}")
        self.skip = skip  # attend over the spikes of both layers (short and long receptive fields)
        self.pool = pool  # "both": the attention output plus the integrated (mean) spikes of the last layer
        t = spec.steps_per_item
        self.conv1 = CausalConv1d(self.feat_dim, channels, kernel, bias=False)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = CausalConv1d(channels, channels, kernel, dilation=t, bias=False)
        self.bn2 = nn.BatchNorm1d(channels)
        self.lif1, self.lif2 = SpikingSequence(threshold, leak), SpikingSequence(threshold, leak)
        att_in = 2 * channels if skip else channels
        value_dim = value_dim or channels
        self.attention = TemporalAttention(att_in, key_dim, value_dim, heads, query_from_last=spec.readout == "last")
        self.head = Head(value_dim + (channels if pool == "both" else 0), head_hidden, spec.n_classes, dropout)
        self.last_attention: Optional[torch.Tensor] = None

    @staticmethod
    def _bn(bn: nn.BatchNorm1d, cur: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if bn.training:  # statistics from valid steps only
            valid = cur[mask]
            out = torch.zeros_like(cur)
            out[mask] = bn(valid)
            return out
        return bn(cur.transpose(1, 2)).transpose(1, 2) * mask[:, :, None]

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        z, mask, binary = self.items(x, lengths)
        ops = self.ops
        z = z * mask[:, :, None]
        cur1 = self._bn(self.bn1, self.conv1(z), mask)
        if ops is not None:
            self.conv1.count(ops, "conv1", z, binary, mask)
        cur1, mask = _repeat_steps(cur1, mask, self.spec.steps_per_item)
        self._record_steps(mask)
        s1 = self._lif(self.lif1, cur1, mask, "lif1")
        cur2 = self._bn(self.bn2, self.conv2(s1), mask)
        if ops is not None:
            self.conv2.count(ops, "conv2", s1, True, mask)
        s2 = self._lif(self.lif2, cur2, mask, "lif2")
        feats = torch.cat([s1, s2], dim=2) if self.skip else s2
        pooled, self.last_attention = self.attention(feats, mask, ops, spiking=True)
        if self.pool == "both":
            pooled = torch.cat([pooled, s2.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)], dim=1)
            if ops is not None:
                ops.add("integrator", acs=float(s2.detach().sum()))
        return self.head(pooled, ops)


class CNNBaseline(SequenceModel):
    """ReLU CNN: the LITE layout with ReLU units, no repetition of items, masked max-pool over time."""

    def __init__(self, spec: SeqSpec, channels: int = 48, kernel: int = 3, head_hidden: int = 32,
                 dropout: float = 0.0, frame_channels=(12, 24, 32)):
        super().__init__(spec, frame_channels)
        self.conv1 = CausalConv1d(self.feat_dim, channels, kernel, bias=False)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = CausalConv1d(channels, channels, kernel, bias=False)
        self.bn2 = nn.BatchNorm1d(channels)
        self.head = Head(channels, head_hidden, spec.n_classes, dropout)

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        z, mask, _ = self.items(x, lengths)
        ops = self.ops
        self._record_steps(mask)
        z = z * mask[:, :, None]
        h1 = F.relu(LITE._bn(self.bn1, self.conv1(z), mask))
        h2 = F.relu(LITE._bn(self.bn2, self.conv2(h1), mask))
        if ops is not None:
            self.conv1.count(ops, "conv1", z, False, mask)
            self.conv2.count(ops, "conv2", h1, False, mask)
        if self.spec.readout == "last":
            last_idx = mask.long().sum(1).clamp(min=1) - 1
            pooled = h2[torch.arange(h2.shape[0], device=h2.device), last_idx]
        else:
            pooled = h2.masked_fill(~mask[:, :, None], float("-inf")).amax(1)
        return self.head(pooled, ops)


class RNNBaseline(SequenceModel):
    """LSTM or GRU over the items; last valid hidden state -> head."""

    def __init__(self, spec: SeqSpec, cell: str = "lstm", hidden: int = 64, head_hidden: int = 32,
                 dropout: float = 0.0, frame_channels=(12, 24, 32)):
        super().__init__(spec, frame_channels)
        self.cell = cell
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(self.feat_dim, hidden, batch_first=True)
        self.head = Head(hidden, head_hidden, spec.n_classes, dropout)

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        z, mask, _ = self.items(x, lengths)
        self._record_steps(mask)
        n = mask.long().sum(1).clamp(min=1)
        packed = nn.utils.rnn.pack_padded_sequence(z, n.cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        h = state[0] if self.cell == "lstm" else state
        if self.ops is not None:
            hid, gates = self.rnn.hidden_size, (4 if self.cell == "lstm" else 3)
            steps = float(mask.sum())
            self.ops.add(self.cell, macs=steps * gates * hid * (self.feat_dim + hid),
                         neuron_macs=steps * 3 * hid)
        return self.head(h[-1], self.ops)


# the keyword options of each model (what build_model passes on; anything else is refused)
MODEL_KEYWORDS = {
    "vanilla": ("hidden", "head_hidden", "leak", "threshold", "dropout", "frame_channels"),
    "lite": ("channels", "kernel", "key_dim", "heads", "head_hidden", "leak", "threshold", "dropout", "frame_channels",
             "skip", "value_dim", "pool"),
    "lstm": ("hidden", "head_hidden", "dropout", "frame_channels"),
    "gru": ("hidden", "head_hidden", "dropout", "frame_channels"),
    "cnn": ("channels", "kernel", "head_hidden", "dropout", "frame_channels"),
}


def check_model_keywords(name: str, keywords) -> None:
    """One-line :class:`UserError` for a model name not in :data:`MODEL_NAMES` or a keyword that model does not take
    (a misspelt ``hiden=128`` would otherwise build the default size)."""
    name = name.lower()
    if name not in MODEL_KEYWORDS:
        raise UserError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    unknown = [k for k in keywords if k not in MODEL_KEYWORDS[name]]
    if unknown:
        raise UserError(f"the {name} model has no option {', '.join(map(repr, unknown))}; "
                        f"its options are {', '.join(MODEL_KEYWORDS[name])}")


def build_model(name: str, spec: SeqSpec, **kw) -> SequenceModel:
    """``name`` in :data:`MODEL_NAMES`; keyword options as in :data:`MODEL_KEYWORDS` (``hidden``, ``channels``,
    ``kernel``, ...); one the model does not take is a :class:`UserError`."""
    name = name.lower()
    check_model_keywords(name, kw)
    if name == "vanilla":
        return VanillaSNN(spec, **kw)
    if name == "lite":
        return LITE(spec, **kw)
    if name in ("lstm", "gru"):
        return RNNBaseline(spec, cell=name, **kw)
    return CNNBaseline(spec, **kw)
