"""Experiment configuration: one validated, serialisable object (read from YAML in ``networks/``).

Everything a run needs to be reproduced is here; a checkpoint stores it in full.

Why one module of ~400 lines of code: most of it is :meth:`Config.validate`, whose checks relate
settings to each other (stable time steps for the models' time constants, weights for the
conductances, sizes for the compiled code); the typed sub-configs keep their own parsers
(:mod:`stdp_toolkit.compression.settings`, :mod:`stdp_toolkit.datasets.audio`).
"""
from __future__ import annotations

import copy
import os
import re
from dataclasses import asdict, dataclass, field, replace

from .. import validation as V
from ..errors import UserError
from ..models import ENCODINGS, INHIBITORY, NEURONS, NeuronModel, PlasticityRule, get_rule
from ..models.neurons import ENCODING_PARAMS


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


@dataclass(frozen=True)
class CrossModalSettings:
    """The ``cross_modal`` section, typed: the rule of the plastic excitatory synapses between the
    ensembles (a name or a rule written out), its parameters and the initial weights' scale."""
    rule: object = "power_law"
    rule_params: dict = field(default_factory=dict)
    w_init: float = 0.0


def _code_fields(model: dict) -> dict:
    """A model's definition without its prose (``doc``, ``description``): what the code depends on."""
    return {k: v for k, v in model.items() if k not in ("doc", "description")}


# integer settings: True for > 0, False for >= 0 (the largest is validation.MAX_INT32)
INTEGER_FIELDS = dict(n_neurons=True, n_inputs=True, min_spikes=False, max_boosts=False, epochs=True,
                      label_samples=True, chunk_presentations=True)

# ensemble names become parts of file names (figures)
_ENSEMBLE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")

# lower bound of the memory one simulated synapse or value takes (bytes): a plastic synapse holds at
# least its weight and delay (float64) and two int32 indices in Brian2 plus the initial arrays here;
# a lateral (I->E) synapse at least its two indices; a stimulus value a float64 in the padded chunk and
# one in the TimedArray
_BYTES_PER_SYNAPSE, _BYTES_PER_LATERAL, _BYTES_PER_STIMULUS = 32, 8, 16


@dataclass
class Config:
    name: str = "dc100"
    n_neurons: int = 100
    n_inputs: int = 784
    dt: float = 0.5                      # ms
    # the excitatory neuron: a built-in name (models.NEURONS: diehl_cook, adex) or the model itself,
    # written out as a mapping of NeuronModel fields (equations as text); it is saved with the run
    neuron: str | dict = "diehl_cook"
    excitatory: dict = field(default_factory=dict)   # overrides of the excitatory neuron's params
    inhibitory: dict = field(default_factory=dict)   # overrides of INHIBITORY.params
    input: dict = field(default_factory=dict)        # overrides of the encoding's params
    # how the input neurons spike: "poisson" (models.ENCODINGS) or an encoding written out as a mapping
    # of NeuronModel fields (its threshold reads p, the spike probability per step the network sets)
    encoding: str | dict = "poisson"
    # STDP rule of the input synapses: a built-in name (models.RULES) or the rule itself, written
    # out as a mapping of PlasticityRule fields (equations and code as text): it is saved with the run
    rule: str | dict = "dc_trace"
    rule_params: dict = field(default_factory=dict)
    w_init: float = 0.3                  # initial input weights: (U[0,1) + 0.01) * w_init
    delay_max: float = 10.0              # ms; input->E delays drawn from U[0, delay_max]
    w_ei: float = 10.4                   # E->I one-to-one
    w_ie: float = 17.0                   # I->E all but the partner (the initial weight when they learn)
    # plasticity of the I->E synapses: "" (fixed weights w_ie), a built-in rule name (vogels) or a rule
    # written out; its traces are per-synapse equations (see Config.inhibitory_plasticity)
    inhibitory_rule: str | dict = ""
    inhibitory_rule_params: dict = field(default_factory=dict)
    norm_total: float = 78.0             # each neuron's input weights sum to this before a sample (0: off)
    theta_init: float = 20.0             # mV
    min_spikes: int = 5                  # fewer excitatory spikes -> show again, brighter
    max_boosts: int = 10                 # give up raising the intensity after this many repeats
    epochs: int = 1
    label_samples: int = 10000
    chunk_presentations: int = 1000      # presentations per compiled run (standalone)
    # integration of the E and I neurons (METHODS). implicit_euler: one backward-Euler step of the
    # membrane, stable for any conductance; forward euler (7 % faster) runs away under strong input
    method: str = "implicit_euler"
    # runaway bound: a presentation in which the excitatory neurons fire more spikes each than this stops
    # training, labelling and evaluation (0: off). A learning D&C network fires < 1; a neuron can fire at most t_on / refractory (~70) times.
    max_spikes_per_neuron: float = 20.0
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
        base = _named_or_written(self.neuron, NEURONS, "neuron",
                                 "a neuron written out as a mapping (equations, threshold, reset, params, units)")
        return self._integrated(base.with_params_from("excitatory", self.excitatory))

    def inhibitory_model(self):
        return self._integrated(INHIBITORY.with_params(**self.inhibitory))

    def _integrated(self, model):
        if self.method == "implicit_euler":
            return model.linearly_implicit()
        return replace(model, method=self.method)

    def input_model(self):
        base = _named_or_written(self.encoding, ENCODINGS, "encoding",
                                 "an encoding written out as a mapping (threshold, params, units, ...)")
        missing = [k for k in ENCODING_PARAMS if k not in base.params]
        if missing:
            raise UserError(f"encoding {base.name!r} lacks the parameter(s) {', '.join(missing)}: every encoding "
                            "takes the presentation protocol (max_rate, boost_rate in Hz; t_on, t_rest in ms) from "
                            "its params; copy them from stdp_toolkit.models.POISSON_INPUT")
        return base.with_params_from("input", self.input)

    def plasticity(self):
        return get_rule(self.rule, **self.rule_params)

    @property
    def plastic_inhibition(self) -> bool:
        return self.inhibitory_rule not in ("", None)

    def inhibitory_plasticity(self):
        """The I->E rule (None: fixed weights). Its traces are per-synapse (``synapse`` equations):
        the neuron groups' traces belong to the input rule, and inhibitory spikes are few."""
        if not self.plastic_inhibition:
            if self.inhibitory_rule_params:
                raise UserError("config section inhibitory_rule_params is set but inhibitory_rule is empty (fixed I->E "
                                "weights); set inhibitory_rule (e.g. vogels) or remove inhibitory_rule_params")
            return None
        if not isinstance(self.inhibitory_rule, (str, dict, PlasticityRule)):
            raise UserError(f"config value inhibitory_rule must be a rule name (vogels), a rule written out, or empty "
                            f"(fixed I->E weights); got {V.show(self.inhibitory_rule)}")
        rule = get_rule(self.inhibitory_rule, "inhibitory_rule_params", **self.inhibitory_rule_params)
        if rule.pre_trace or rule.post_trace or rule.pre_trace_reset or rule.post_trace_reset:
            raise UserError(f"inhibitory_rule {rule.name!r}: the I->E rule keeps its traces in each synapse; move "
                            "pre_trace/post_trace into its synapse equations, e.g. "
                            "'dApre/dt = -Apre / tau : 1 (event-driven)', updated in on_pre/on_post (see rule vogels)")
        return rule

    def _section(self, name: str, parse, *depends):
        """A sub-config parsed into its typed settings once (by :meth:`validate`), and again only when the
        section (or what it ``depends`` on) was changed since: a later edit is never answered from a stale copy."""
        key = repr((getattr(self, name), depends))
        cache = self.__dict__.setdefault("_sections", {})
        if name not in cache or cache[name][0] != key:
            cache[name] = (key, parse(getattr(self, name)))
        return cache[name][1]

    def compression_settings(self):
        """The ``compression`` section as :class:`~stdp_toolkit.compression.settings.CompressionSettings`,
        or None when it is empty."""
        from ..compression.settings import parse

        return self._section("compression", lambda raw: parse(raw, self.chunk_presentations), self.chunk_presentations)

    def audio_settings(self):
        """The ``audio`` section as :class:`~stdp_toolkit.datasets.audio.AudioSettings` (defaults when empty)."""
        from ..datasets.audio import AudioSettings

        return self._section("audio", lambda raw: AudioSettings.from_dict(raw, source="config section audio"))

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

    def cross_modal_settings(self) -> CrossModalSettings:
        """The ``cross_modal`` section with its defaults, typed."""
        return self._section("cross_modal", lambda raw: CrossModalSettings(**{**CROSS_MODAL_DEFAULTS, **raw}))

    def cross_plasticity(self):
        """The cross-modal rule, its presynaptic trace renamed so it can sit beside the input rule's."""
        s = self.cross_modal_settings()
        rule = get_rule(s.rule, "cross_modal.rule_params", **s.rule_params)
        if rule.synapse or "tau_pre" not in rule.params or "x_in" not in rule.state_variables()["pre"]:
            raise UserError(f"cross_modal rule {rule.name!r}: a cross-modal rule reads its presynaptic trace as "
                            "x_in (time constant tau_pre) and has no per-synapse equations; write it that way "
                            "or use a built-in rule (power_law)")
        return rule.with_pre_trace("x_cross", "tau_cross")

    def model_definitions(self, learning: bool = True) -> dict:
        """Everything the network's code is generated from, as plain data: the neuron, input and
        plasticity models in full (not their names). A run stores it; resume and the build cache
        compare it, so an edited model never meets weights or a binary of the old one."""
        models = {"excitatory": self.excitatory_model(), "inhibitory": self.inhibitory_model(),
                  "input": self.input_model()}
        if learning:
            models["rule"] = self.plasticity()
            if self.has_cross_modal:
                models["cross_rule"] = self.cross_plasticity()
            if self.plastic_inhibition:
                models["inhibitory_rule"] = self.inhibitory_plasticity()
        return {k: _code_fields(asdict(m)) for k, m in models.items()}

    @property
    def n_input_synapses(self) -> int:
        return sum(e.n_inputs * e.n_neurons for e in self.ensemble_list())

    @property
    def n_lateral_synapses(self) -> int:
        """Inhibitory -> excitatory synapses: all but the partner, inside each ensemble."""
        return sum(e.n_neurons * (e.n_neurons - 1) for e in self.ensemble_list())

    @property
    def n_cross_synapses(self) -> int:
        """Cross-modal synapses: every excitatory neuron to those of the other ensembles (0 without)."""
        if not self.has_cross_modal:
            return 0
        return self.n_neurons ** 2 - sum(e.n_neurons ** 2 for e in self.ensemble_list())

    def min_memory_bytes(self) -> int:
        """A lower bound of the memory one simulation of this network needs (bytes)."""
        return (_BYTES_PER_SYNAPSE * (self.n_input_synapses + self.n_cross_synapses)
                + _BYTES_PER_LATERAL * self.n_lateral_synapses
                + _BYTES_PER_STIMULUS * self.chunk_presentations * self.n_inputs)

    def check_memory(self, available: int | None = None) -> "Config":
        """UserError, before anything is allocated, when this machine cannot hold the network."""
        V.check_memory(self.min_memory_bytes(),
                       f"config {self.name} ({self.n_neurons:,} neurons, {self.n_input_synapses:,} input synapses, "
                       f"chunks of {self.chunk_presentations:,} presentations)",
                       "use fewer n_neurons or a smaller chunk_presentations", available)
        return self

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
        """Check every setting: types, finite numbers, physical bounds (units as in models/), sizes.

        The bounds and their reasons are documented in :mod:`stdp_toolkit.validation`. Integer
        settings given as whole floats (``n_neurons: 100.0``) are stored as ints. Machine memory is
        checked separately, just before a simulation allocates (:meth:`check_memory`).
        """
        if not isinstance(self.name, str) or not self.name.strip():
            raise UserError(f"config value name must be a text such as dc100, got {V.show(self.name)}; quote it if it "
                            "looks like a number")
        for key, positive in INTEGER_FIELDS.items():
            if key in ("n_neurons", "n_inputs") and self.ensembles and isinstance(self.ensembles, list):
                continue   # the sums over the ensembles (checked there)
            setattr(self, key, V.integer(key, getattr(self, key), low=0, low_open=positive))
        for section in ("excitatory", "inhibitory", "input", "rule_params", "inhibitory_rule_params", "compression"):
            V.string_keys(section, getattr(self, section))
        self._written_out_models()
        self._validate_ensembles()    # the network's sizes are derived from them
        self.method = V.choice("method", self.method, METHODS)
        self._keep_number("dt", V.number("dt", self.dt, low=0.0, low_open=True, unit="ms"))
        self._keep_number("max_spikes_per_neuron", V.number("max_spikes_per_neuron", self.max_spikes_per_neuron,
                                                            low=0.0, unit="spikes per neuron and sample",
                                                            fix="0 turns the runaway check off"))
        # building the models checks parameter names, units and the rule name; the checked numbers
        # replace what was given (a Brian2 quantity such as 50*ms becomes 50.0, in the model's unit)
        exc, inh = self.excitatory_model(), self.inhibitory_model()
        rule = self.plasticity()
        inh_rule = self.inhibitory_plasticity()
        for section, model in (("excitatory", exc), ("inhibitory", inh), ("input", self.input_model()),
                               ("rule_params", rule), ("inhibitory_rule_params", inh_rule)):
            setattr(self, section, {k: model.params[k] for k in getattr(self, section)})
        self.compression_settings()
        self._validate_timing()
        self._validate_stability(exc, inh, rule)
        self._validate_weights(exc, inh, rule)
        self._validate_sizes()
        return self

    def _written_out_models(self) -> None:
        """A neuron or rule given as an object is stored as its fields (plain data, like YAML), its
        quantities as numbers; the roles and traces the network needs from it are checked."""
        self.neuron = _as_data(self.neuron, NeuronModel.from_dict)
        exc = self.excitatory_model()
        have = exc.state_variables(learning=True)
        for role in ("excitatory_input", "inhibitory_input"):
            name = exc.role(role)
            if name not in have or not have[name].is_dimensionless:
                raise UserError(f"neuron {exc.name!r} needs a dimensionless variable {name!r} for its role {role} "
                                f"(the {'input' if role == 'excitatory_input' else 'inhibitory'} synapses add their "
                                f"weights to it, a conductance relative to the leak): declare it, e.g. "
                                f"d{name}/dt = -{name} / tau_{name} : 1, or name another one in roles: {{{role}: ...}}")
        self.encoding = _as_data(self.encoding, lambda d: NeuronModel.from_dict(d, "encoding"))
        self.rule = _as_data(self.rule, get_rule)
        self.inhibitory_rule = _as_data(self.inhibitory_rule, lambda d: get_rule(d, "inhibitory_rule_params"))
        if isinstance(self.cross_modal, dict) and "rule" in self.cross_modal:
            self.cross_modal["rule"] = _as_data(self.cross_modal["rule"],
                                                lambda d: get_rule(d, "cross_modal.rule_params"))
        if self.compression:
            rule = self.plasticity()
            if "x_in" not in rule.state_variables()["pre"]:
                raise UserError(f"compression (correlation pruning) reads the presynaptic trace x_in, which rule "
                                f"{rule.name!r} does not have; add pre_trace 'dx_in/dt = -x_in / tau_pre : 1' "
                                "or remove the compression section")

    def _keep_number(self, key: str, checked: float) -> None:
        """Keep a checked number as written (int or float: the build cache keys on it); plain float otherwise."""
        if type(getattr(self, key)) not in (int, float):
            setattr(self, key, checked)

    def _validate_timing(self) -> None:
        inp = self.input_model().params
        dt = self.dt
        steps = (inp["t_on"] + inp["t_rest"]) / dt
        if not steps <= V.MAX_STEPS_PER_PRESENTATION:   # also inf for a tiny dt
            raise UserError(f"a presentation (input.t_on + input.t_rest = {inp['t_on'] + inp['t_rest']:g} ms) is "
                            f"{steps:,.0f} steps of dt = {dt:g} ms; at most {V.MAX_STEPS_PER_PRESENTATION:,} are "
                            "allowed: use a larger dt or a shorter presentation (values are in ms)")
        for key in ("t_on", "t_rest"):
            n = inp[key] / dt
            if abs(n - round(n)) > 1e-6:
                raise UserError(f"input.{key} = {inp[key]:g} ms must be a whole number of time steps dt = {dt:g} ms")
        if inp["t_on"] < dt:
            raise UserError(f"input.t_on = {inp['t_on']:g} ms is shorter than one time step dt = {dt:g} ms: the input "
                            "would never be on; raise t_on or lower dt")
        # a Poisson input draws at most one spike per step: rate * dt is a probability
        fastest = inp["max_rate"] + self.max_boosts * inp["boost_rate"]
        limit = 1e3 / dt
        if fastest > limit:
            raise UserError(f"input.max_rate + max_boosts x input.boost_rate = {fastest:g} Hz exceeds 1/dt = "
                            f"{limit:g} Hz (a Poisson input draws at most one spike per time step); lower max_rate, "
                            "boost_rate or max_boosts, or dt")
        # inputs are silent for t_rest after each sample: a longer delay carries one sample's input spikes into
        # the next (and into the next chunk, which starts without them: a resumed run would differ)
        self._keep_number("delay_max", V.number(
            "delay_max", self.delay_max, low=0.0, high=inp["t_rest"], unit="ms",
            fix="a delay longer than the rest between samples (input.t_rest) carries input spikes into the next "
                "sample; lower delay_max or raise t_rest"))
        self._keep_number("theta_init", V.number("theta_init", self.theta_init, low=0.0, high=V.MAX_VOLTAGE_MV,
                                                 unit="mV"))

    def _validate_stability(self, exc, inh, rule) -> None:
        """Time constants integrated by forward Euler must exceed dt / 2 (else the decay diverges)."""
        if self.method == "exponential_euler":
            return
        taus = {}
        for model, section, membrane in ((exc, "excitatory", "tau_m"), (inh, "inhibitory", "tau_m_i")):
            for key, unit in model.units.items():
                if unit == "ms" and key.startswith("tau") and not (key == membrane and self.method == "implicit_euler"):
                    taus[f"{section}.{key}"] = model.params[key]
        # the rule's post traces live in the excitatory group (its pre traces in the exactly integrated inputs)
        for key, value in rule.params.items():
            if key.startswith("tau") and rule.units.get(key) == "ms" and re.search(rf"\b{key}\b", rule.post_trace):
                taus[f"rule_params.{key}"] = value
        if self.has_cross_modal:
            cross = self.cross_plasticity()
            taus["cross_modal.rule_params.tau_pre"] = cross.params["tau_cross"]
        floor = V.euler_tau_floor(self.dt)
        for name, tau in taus.items():
            if tau <= floor:
                raise UserError(f"config value {name} = {tau:g} ms is too short for dt = {self.dt:g} ms: forward Euler "
                                f"(method {self.method}) is unstable unless it is > dt/2 = {floor:g} ms; use a larger "
                                "time constant, a smaller dt or method exponential_euler")

    def _validate_weights(self, exc, inh, rule) -> None:
        """Weights are conductance steps relative to the leak: >= 0, and one spike's step stable."""
        # (a neuron without tau_m is not a D&C membrane: only the arithmetic bound applies)
        g_exc = V.max_conductance_step(exc.params["tau_m"], self.dt, self.method) if "tau_m" in exc.params \
            else V.MAX_CONDUCTANCE
        g_inh = V.max_conductance_step(inh.params["tau_m_i"], self.dt, self.method)
        if self.method == "euler":
            fix = ("weights are conductance steps relative to the leak, and with method euler one spike's step w "
                   "must keep dt (1 + w) / tau_m < 2: lower it or use method implicit_euler")
        else:
            fix = f"weights are conductance steps relative to the leak; {V.MAX_CONDUCTANCE:g} is far beyond any synapse"

        def weight(name, value, high, low_open=False):
            return V.number(name, value, low=0.0, low_open=low_open, high=high, high_open=True, fix=fix)

        # initial input weights are (U[0,1) + 0.01) * w_init
        self._keep_number("w_init", weight("w_init", self.w_init, g_exc / 1.01, low_open=True))
        self._keep_number("w_ei", weight("w_ei", self.w_ei, g_inh))
        self._keep_number("w_ie", weight("w_ie", self.w_ie, g_exc))
        inh_rule = self.inhibitory_plasticity()
        if inh_rule is not None and "wmax" in inh_rule.params:
            weight("inhibitory_rule_params.wmax", inh_rule.params["wmax"], g_exc)
        if "wmax" in rule.params:
            weight("rule_params.wmax", rule.params["wmax"], g_exc)
        # normalisation sets each neuron's input weights to sum to norm_total: their mean must be a stable step
        n_in = min(e.n_inputs for e in self.ensemble_list())
        self._keep_number("norm_total", V.number(
            "norm_total", self.norm_total, low=0.0, high=g_exc * n_in, high_open=True,
            fix=f"it is the sum of a neuron's {n_in} input weights; " + fix))
        if self.has_cross_modal:
            s = self.cross_modal_settings()
            weight("cross_modal.w_init", s.w_init, g_exc)
            weight("cross_modal.rule_params.wmax", self.cross_plasticity().params["wmax"], g_exc)

    def _validate_sizes(self) -> None:
        """Counts the compiled code indexes with 32-bit integers."""
        for what, n, fix in (
                ("input synapses (n_inputs x n_neurons)", self.n_input_synapses, "use fewer n_neurons"),
                ("inhibitory->excitatory synapses (n_neurons x (n_neurons - 1))", self.n_lateral_synapses,
                 "use fewer n_neurons"),
                ("cross-modal synapses", self.n_cross_synapses, "use fewer n_neurons per ensemble"),
                ("stimulus values per chunk (chunk_presentations x n_inputs)",
                 self.chunk_presentations * self.n_inputs, "use a smaller chunk_presentations")):
            if n > V.MAX_INT32:
                raise UserError(f"config {self.name}: {n:,} {what} exceed {V.MAX_INT32:,}, the most Brian2 indexes "
                                f"with 32-bit integers; {fix}")

    def _validate_ensembles(self) -> None:
        if not isinstance(self.ensembles, list):
            raise UserError("config section ensembles must be a list of {name, n_inputs, n_neurons}")
        names = []
        for k, e in enumerate(self.ensembles):
            if not isinstance(e, dict) or set(e) != {"name", "n_inputs", "n_neurons"}:
                raise UserError(f"ensembles[{k}] must have exactly the keys name, n_inputs, n_neurons; got {V.show(e)}")
            for key in ("n_inputs", "n_neurons"):
                e[key] = V.integer(f"ensembles[{k}].{key}", e[key], low=0, low_open=True)
            if not isinstance(e["name"], str) or not _ENSEMBLE_NAME.match(e["name"]):
                raise UserError(f"ensembles[{k}].name must be a word of letters, digits, _ or - (it names figure "
                                f"files), e.g. image; got {V.show(e['name'])}")
            names.append(e["name"])
        if len(set(names)) != len(names):
            raise UserError(f"ensemble names must be unique, got {names}")
        if self.ensembles:
            n_in = sum(e["n_inputs"] for e in self.ensembles)
            n_e = sum(e["n_neurons"] for e in self.ensembles)
            if not (V.is_number(self.n_inputs) and V.is_number(self.n_neurons)) \
                    or (self.n_inputs, self.n_neurons) != (n_in, n_e):
                raise UserError(f"n_inputs/n_neurons ({V.show(self.n_inputs)}/{V.show(self.n_neurons)}) must be the "
                                f"sums over the ensembles ({n_in}/{n_e}); leave them out of a multi-ensemble config")
            self.n_inputs, self.n_neurons = n_in, n_e
            if self.compression:
                raise UserError("compression is not supported for multi-ensemble networks yet; "
                                "remove the compression section")
        if not isinstance(self.cross_modal, dict):
            raise UserError("config section cross_modal must be a mapping (rule, rule_params, w_init)")
        if self.cross_modal:
            if len(self.ensembles) < 2:
                raise UserError("cross_modal synapses need at least two ensembles (config section ensembles)")
            unknown = V.unknown_keys(self.cross_modal, CROSS_MODAL_DEFAULTS)
            if unknown:
                raise UserError(f"cross_modal: unknown setting(s) {unknown}; known: {sorted(CROSS_MODAL_DEFAULTS)}")
            s = self.cross_modal_settings()
            V.string_keys("cross_modal.rule_params", s.rule_params)
            # its upper bound (a stable conductance step) is checked with the other weights
            V.number("cross_modal.w_init", s.w_init, low=0.0)
            cross, own = self.cross_plasticity(), self.plasticity()
            if cross.post_trace and cross.post_trace != own.post_trace:
                raise UserError(f"cross_modal rule {cross.name!r} needs postsynaptic traces that differ from those "
                                f"of the input rule {own.name!r}; use a rule without post traces (power_law) "
                                "or the same rule and time constants as the input synapses")
        if not isinstance(self.audio, dict):
            raise UserError("config section audio must be a mapping of front-end settings")
        if self.audio:
            self.audio_settings()

    def to_dict(self) -> dict:
        return copy.deepcopy(asdict(self))

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "Config":
        if not isinstance(data, dict):
            raise UserError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = V.unknown_keys(data, known)
        if unknown:
            raise UserError(f"{source}: unknown setting(s) {unknown}; known settings: {sorted(known)}")
        data = copy.deepcopy(data)
        ens = data.get("ensembles")
        if isinstance(ens, list) and ens and all(isinstance(e, dict) for e in ens):
            # a multi-ensemble network's sizes are the sums over its ensembles
            for key in ("n_inputs", "n_neurons"):
                sizes = [e.get(key) for e in ens]
                if key not in data and all(V.is_whole(v) for v in sizes):
                    data[key] = sum(int(v) for v in sizes)
        return cls(**data).validate()

    @classmethod
    def load(cls, path: str) -> "Config":
        """The validated config in a YAML file (UserError with line and column for bad YAML)."""
        if not os.path.isfile(path):
            raise UserError(f"config file not found: {path} (see networks/ for examples)")
        data = V.load_yaml(path, what="config file")
        if data is None:  # an empty (or comments-only) file is a mistake, not "all defaults"
            raise UserError(f"config file {path} is empty; write at least its settings that differ from the "
                            "defaults (see networks/dc100.yaml for every setting)")
        return cls.from_dict(data, source=path)

    def replace(self, **changes) -> "Config":
        data = self.to_dict()
        data.update(changes)
        return Config.from_dict(data)


def _named_or_written(value, table: dict, setting: str, written: str) -> NeuronModel:
    """A config's model setting: a built-in name in ``table``, a model, or one written out as a mapping."""
    if isinstance(value, NeuronModel):
        return value
    if isinstance(value, dict):
        return NeuronModel.from_dict(value, setting)
    if isinstance(value, str) and value in table:
        return table[value]
    raise UserError(f"config value {setting} must be one of {', '.join(table)} or {written}; got {V.show(value)}")


def _as_data(value, parse):
    """A model given as an object or a mapping, as plain data (like YAML) with its parameters as the
    checked numbers ``parse`` gives (a Brian2 quantity becomes a number in its unit); a name as it is."""
    if isinstance(value, (NeuronModel, PlasticityRule)):
        value = value.to_dict()
    if isinstance(value, dict):
        value = {**value, "params": parse(value).params}
    return value
