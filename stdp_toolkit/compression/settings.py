"""The ``compression`` section of a config: pruning and quantization during training.

.. code-block:: yaml

    compression:
      interval: 1000          # samples between two pruning/quantization steps (applied at chunk ends)
      prune:
        schedule: gradual     # gradual: target sparsity reached by a cubic ramp | threshold: fixed score threshold
        target: 0.65          # gradual: final fraction of each neuron's input synapses pruned
        start: 2000           # no pruning before this many training samples
        end: 30000            # gradual: the target is reached here (and at the end of training at the latest)
        threshold: 0.0        # threshold: prune synapses whose correlation score is below this
        decay: 0.5            # weight of the previous intervals in the running correlation score
        order: silent_first   # silent_first: inputs that (almost) never fired are pruned first, then by score | score
        silent_level: 0.001   # silent: activity since the start at most this fraction of the busiest input's
      quantize:
        levels: 16            # k conductance levels, 2..256 (zero is one of them)
        scheme: uniform       # uniform on [0, wmax] | kmeans (levels fitted to the surviving weights)
        start: 2000           # no quantization before this many training samples

An empty section (the default) means no compression: the network and its build are exactly
those of the core toolkit. Either part may be left out.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import validation as V
from ..errors import UserError

SCHEDULES = ("gradual", "threshold")
SCHEMES = ("uniform", "kmeans")
ORDERS = ("silent_first", "score")


@dataclass(frozen=True)
class PruneSettings:
    schedule: str = "gradual"
    target: float = 0.6
    start: int = 0
    end: int = 0
    threshold: float = 0.0
    decay: float = 0.5
    order: str = "silent_first"
    silent_level: float = 0.001


@dataclass(frozen=True)
class QuantizeSettings:
    levels: int = 16
    scheme: str = "uniform"
    start: int = 0


@dataclass(frozen=True)
class CompressionSettings:
    interval: int
    prune: PruneSettings | None
    quantize: QuantizeSettings | None

    @property
    def enabled(self) -> bool:
        return self.prune is not None or self.quantize is not None


def _number(where, value, integer=False, low=None, high=None, low_open=False, high_open=False):
    check = V.integer if integer else V.number
    return check(where, value, low=low, high=high, low_open=low_open, high_open=high_open)


def _section(where, data, allowed):
    if data is None:
        return None
    V.string_keys(where, data)
    unknown = V.unknown_keys(data, allowed)
    if unknown:
        raise UserError(f"{where}: unknown setting(s) {unknown}; known: {sorted(allowed)}")
    return data


def parse(section: dict | None, chunk_presentations: int = 1000) -> CompressionSettings | None:
    """Validated settings, or None when the section is empty (no compression)."""
    data = _section("compression", section or {}, ("interval", "prune", "quantize"))
    if not data:
        return None
    interval = _number("compression.interval", data.get("interval", chunk_presentations), integer=True,
                       low=0, low_open=True)
    prune = quant = None
    p = _section("compression.prune", data.get("prune"), PruneSettings.__dataclass_fields__)
    if p is not None:
        schedule = p.get("schedule", "gradual")
        V.choice("compression.prune.schedule", schedule, SCHEDULES)
        start = _number("compression.prune.start", p.get("start", 0), integer=True, low=0)
        end = _number("compression.prune.end", p.get("end", start), integer=True, low=start)
        order = p.get("order", "silent_first")
        V.choice("compression.prune.order", order, ORDERS)
        prune = PruneSettings(
            schedule=schedule,
            target=_number("compression.prune.target", p.get("target", 0.6), low=0, high=1, high_open=True),
            start=start, end=end,
            threshold=_number("compression.prune.threshold", p.get("threshold", 0.0)),
            decay=_number("compression.prune.decay", p.get("decay", 0.5), low=0, high=1, high_open=True),
            order=order,
            silent_level=_number("compression.prune.silent_level", p.get("silent_level", 0.001), low=0, high=1,
                                 high_open=True),
        )
    q = _section("compression.quantize", data.get("quantize"), QuantizeSettings.__dataclass_fields__)
    if q is not None:
        scheme = q.get("scheme", "uniform")
        V.choice("compression.quantize.scheme", scheme, SCHEMES)
        quant = QuantizeSettings(
            levels=_number("compression.quantize.levels", q.get("levels", 16), integer=True, low=2, high=256),
            scheme=scheme,
            start=_number("compression.quantize.start", q.get("start", 0), integer=True, low=0),
        )
    settings = CompressionSettings(interval=interval, prune=prune, quantize=quant)
    return settings if settings.enabled else None
