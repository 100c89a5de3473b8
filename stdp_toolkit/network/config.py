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


@dataclass(frozen=True)
class Ensemble:
    """One excitatory/inhibitory ensemble with its own inputs: slices into the network's arrays."""

    name: str
    inputs: slice
    neurons: slice

    @property
    def n_inputs(self) -> int:
        return self.inputs.stop - self.inputs.start

    @property
    def n_neurons(self) -> int:
        return self.neurons.stop - self.neurons.start


# integration of the E and I neurons: forward Euler (D&C's choice, fastest), exponential Euler
# (exact at fixed conductances, ~1 exp per neuron and step) or linearly implicit Euler (stable
# for any conductance, one division; see models.NeuronModel.linearly_implicit)
METHODS = ("euler", "exponential_euler", "implicit_euler")

# cross-modal synapses (multimodal networks): defaults of the ``cross_modal`` config section
CROSS_MODAL_DEFAULTS = dict(rule="power_law", rule_params={}, w_init=0.0)


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
    method: str = "euler"                # integration of the E and I neurons (METHODS)
    compression: dict = field(default_factory=dict)  # pruning/quantization during training (see compression.settings)
    # multimodal networks: several ensembles side by side, each with its own inputs, excitatory and
    # inhibitory neurons and lateral inhibition, e.g. [{name: image, n_inputs: 784, n_neurons: 400},
    # {name: audio, n_inputs: 784, n_neurons: 400}]; n_inputs/n_neurons are then their sums.
    ensembles: list = field(default_factory=list)
    # plastic excitatory synapses between the excitatory neurons of different ensembles (both
    # directions): {rule, rule_params, w_init}; empty = none (the ablation). See network/builder.py.
    cross_modal: dict = field(default_factory=dict)
    audio: dict = field(default_factory=dict)        # audio front-end settings (datasets/audio.py)

    # ---- derived models -------------------------------------------------------------------------
    def excitatory_model(self):
        return self._integrated(EXCITATORY.with_params(**self.excitatory))

    def inhibitory_model(self):
        return self._integrated(INHIBITORY.with_params(**self.inhibitory))

    def _integrated(self, model):
        if self.method == "implicit_euler":
            return model.linearly_implicit()
        return replace(model, method=self.method)

    def input_model(self):
        return POISSON_INPUT.with_params(**self.input)

    def plasticity(self):
        return get_rule(self.rule, **self.rule_params)

    def compression_settings(self):
        """Parsed ``compression`` section, or None when it is empty."""
        from ..compression.settings import parse

        return parse(self.compression, self.chunk_presentations)

    def ensemble_list(self) -> list[Ensemble]:
        """The ensembles in input/neuron order; a plain network is one ensemble."""
        if not self.ensembles:
            return [Ensemble(self.name, slice(0, self.n_inputs), slice(0, self.n_neurons))]
        out, i0, n0 = [], 0, 0
        for e in self.ensembles:
            out.append(Ensemble(e["name"], slice(i0, i0 + e["n_inputs"]), slice(n0, n0 + e["n_neurons"])))
            i0, n0 = i0 + e["n_inputs"], n0 + e["n_neurons"]
        return out

    def ensemble(self, name: str) -> Ensemble:
        for e in self.ensemble_list():
            if e.name == name:
                return e
        raise UserError(f"config {self.name} has no ensemble {name!r}; it has: "
                        f"{', '.join(e.name for e in self.ensemble_list())}")

    @property
    def has_cross_modal(self) -> bool:
        return bool(self.cross_modal)

    def cross_modal_settings(self) -> dict:
        return {**CROSS_MODAL_DEFAULTS, **self.cross_modal}

    def cross_plasticity(self):
        """The cross-modal rule, its presynaptic trace renamed so it can sit beside the input rule's."""
        s = self.cross_modal_settings()
        return get_rule(s["rule"], **s["rule_params"]).with_pre_trace("x_cross", "tau_cross")

    @property
    def n_input_synapses(self) -> int:
        return sum(e.n_inputs * e.n_neurons for e in self.ensemble_list())

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

        self._validate_ensembles()    # first: the network's sizes are derived from them
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
        if self.method not in METHODS:
            raise UserError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
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

    def _validate_ensembles(self) -> None:
        if not isinstance(self.ensembles, list):
            raise UserError("config section ensembles must be a list of {name, n_inputs, n_neurons}")
        names = []
        for k, e in enumerate(self.ensembles):
            if not isinstance(e, dict) or set(e) != {"name", "n_inputs", "n_neurons"}:
                raise UserError(f"ensembles[{k}] must have exactly the keys name, n_inputs, n_neurons; got {e!r}")
            for key in ("n_inputs", "n_neurons"):
                v = e[key]
                if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                    raise UserError(f"ensembles[{k}].{key} must be an integer > 0, got {v!r}")
            names.append(str(e["name"]))
        if len(set(names)) != len(names):
            raise UserError(f"ensemble names must be unique, got {names}")
        if self.ensembles:
            n_in = sum(e["n_inputs"] for e in self.ensembles)
            n_e = sum(e["n_neurons"] for e in self.ensembles)
            if (self.n_inputs, self.n_neurons) != (n_in, n_e):
                raise UserError(f"n_inputs/n_neurons ({self.n_inputs}/{self.n_neurons}) must be the sums over the "
                                f"ensembles ({n_in}/{n_e}); leave them out of a multi-ensemble config")
            if self.compression:
                raise UserError("compression is not supported for multi-ensemble networks yet; "
                                "remove the compression section")
        if not isinstance(self.cross_modal, dict):
            raise UserError("config section cross_modal must be a mapping (rule, rule_params, w_init)")
        if self.cross_modal:
            if len(self.ensembles) < 2:
                raise UserError("cross_modal synapses need at least two ensembles (config section ensembles)")
            unknown = sorted(set(self.cross_modal) - set(CROSS_MODAL_DEFAULTS))
            if unknown:
                raise UserError(f"cross_modal: unknown setting(s) {unknown}; known: {sorted(CROSS_MODAL_DEFAULTS)}")
            s = self.cross_modal_settings()
            if not isinstance(s["rule_params"], dict):
                raise UserError("cross_modal.rule_params must be a mapping of parameter: value")
            w = s["w_init"]
            if not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0:
                raise UserError(f"cross_modal.w_init must be a number >= 0, got {w!r}")
            cross, own = self.cross_plasticity(), self.plasticity()
            if cross.post_trace and cross.post_trace != own.post_trace:
                raise UserError(f"cross_modal rule {cross.name!r} needs postsynaptic traces that differ from those "
                                f"of the input rule {own.name!r}; use a rule without post traces (power_law) "
                                "or the same rule and time constants as the input synapses")
        if not isinstance(self.audio, dict):
            raise UserError("config section audio must be a mapping of front-end settings")
        if self.audio:
            from ..datasets.audio import AudioSettings

            AudioSettings.from_dict(self.audio, source="config section audio")

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
        ens = data.get("ensembles")
        if isinstance(ens, list) and ens and all(isinstance(e, dict) for e in ens):
            # a multi-ensemble network's sizes are the sums over its ensembles
            data = dict(data)
            for key in ("n_inputs", "n_neurons"):
                if key not in data and all(isinstance(e.get(key), int) for e in ens):
                    data[key] = sum(e[key] for e in ens)
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
