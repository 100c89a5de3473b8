"""Experiment configuration: one validated, serialisable object (read from YAML in ``networks/``).

Everything a run needs to be reproduced is here; a checkpoint stores it in full.
"""
from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass, field, replace

import yaml

from ..errors import UserError
from ..models import EXCITATORY, INHIBITORY, POISSON_INPUT, get_rule


@dataclass
class Config:
    name: str = "dc100"
    n_neurons: int = 100
    n_inputs: int = 784
    dt: float = 0.5                      # ms
    excitatory: dict = field(default_factory=dict)   # overrides of EXCITATORY.params
    inhibitory: dict = field(default_factory=dict)   # overrides of INHIBITORY.params
    input: dict = field(default_factory=dict)        # overrides of POISSON_INPUT.params
    rule: str = "dc_trace"
    rule_params: dict = field(default_factory=dict)
    w_init: float = 0.3                  # initial input weights: (U[0,1) + 0.01) * w_init
    delay_max: float = 10.0              # ms; input->E delays drawn from U[0, delay_max]
    w_ei: float = 10.4                   # E->I one-to-one
    w_ie: float = 17.0                   # I->E all but the partner
    norm_total: float = 78.0             # each neuron's input weights sum to this before a sample (0: off)
    theta_init: float = 20.0             # mV
    min_spikes: int = 5                  # fewer excitatory spikes -> show again, brighter
    max_boosts: int = 10                 # give up raising the intensity after this many repeats
    epochs: int = 1
    label_samples: int = 10000
    chunk_presentations: int = 1000      # presentations per compiled run (standalone)
    method: str = "euler"                # integration of the E and I neurons: euler | exponential_euler
    compression: dict = field(default_factory=dict)  # pruning/quantization during training (see compression.settings)

    # ---- derived models -------------------------------------------------------------------------
    def excitatory_model(self):
        return replace(EXCITATORY.with_params(**self.excitatory), method=self.method)

    def inhibitory_model(self):
        return replace(INHIBITORY.with_params(**self.inhibitory), method=self.method)

    def input_model(self):
        return POISSON_INPUT.with_params(**self.input)

    def plasticity(self):
        return get_rule(self.rule, **self.rule_params)

    def compression_settings(self):
        """Parsed ``compression`` section, or None when it is empty."""
        from ..compression.settings import parse

        return parse(self.compression, self.chunk_presentations)

    @property
    def prunes(self) -> bool:
        """Whether the learning network carries a pruning mask and correlation trace."""
        c = self.compression_settings()
        return c is not None and c.prune is not None

    @property
    def steps_per_presentation(self) -> int:
        m = self.input_model().params
        return int(round((m["t_on"] + m["t_rest"]) / self.dt))

    @property
    def presentation_ms(self) -> float:
        return self.steps_per_presentation * self.dt

    # ---- validation and I/O ----------------------------------------------------------------------
    def validate(self) -> "Config":
        def positive(name, value, integer=False, allow_zero=False):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if integer:
                ok = ok and float(value).is_integer()
            if not ok or value < 0 or (value == 0 and not allow_zero):
                kind = "an integer" if integer else "a number"
                bound = ">= 0" if allow_zero else "> 0"
                raise UserError(f"config value {name} must be {kind} {bound}, got {value!r}")

        positive("n_neurons", self.n_neurons, integer=True)
        positive("n_inputs", self.n_inputs, integer=True)
        positive("dt", self.dt)
        positive("w_init", self.w_init)
        positive("delay_max", self.delay_max, allow_zero=True)
        positive("w_ei", self.w_ei, allow_zero=True)
        positive("w_ie", self.w_ie, allow_zero=True)
        positive("norm_total", self.norm_total, allow_zero=True)
        positive("theta_init", self.theta_init, allow_zero=True)
        positive("min_spikes", self.min_spikes, integer=True, allow_zero=True)
        positive("max_boosts", self.max_boosts, integer=True, allow_zero=True)
        positive("epochs", self.epochs, integer=True)
        positive("label_samples", self.label_samples, integer=True)
        positive("chunk_presentations", self.chunk_presentations, integer=True)
        if self.method not in ("euler", "exponential_euler"):
            raise UserError(f"method must be 'euler' or 'exponential_euler', got {self.method!r}")
        for section in ("excitatory", "inhibitory", "input", "rule_params", "compression"):
            if not isinstance(getattr(self, section), dict):
                raise UserError(f"config section {section} must be a mapping of parameter: value")
        # building the models checks parameter names and the rule name
        self.excitatory_model(), self.inhibitory_model(), self.plasticity()
        self.compression_settings()
        inp = self.input_model().params
        for key in ("t_on", "max_rate"):
            positive(f"input.{key}", inp[key])
        positive("input.t_rest", inp["t_rest"], allow_zero=True)
        positive("input.boost_rate", inp["boost_rate"], allow_zero=True)
        if abs((inp["t_on"] + inp["t_rest"]) / self.dt - self.steps_per_presentation) > 1e-6:
            raise UserError("input.t_on + input.t_rest must be a whole number of time steps dt")
        return self

    def to_dict(self) -> dict:
        return copy.deepcopy(asdict(self))

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "Config":
        if not isinstance(data, dict):
            raise UserError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"{source}: unknown setting(s) {unknown}; known settings: {sorted(known)}")
        return cls(**copy.deepcopy(data)).validate()

    @classmethod
    def load(cls, path: str) -> "Config":
        if not os.path.isfile(path):
            raise UserError(f"config file not found: {path} (see networks/ for examples)")
        try:
            with open(path) as fh:
                data = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise UserError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        return cls.from_dict(data or {}, source=path)

    def replace(self, **changes) -> "Config":
        data = self.to_dict()
        data.update(changes)
        return Config.from_dict(data)
