"""Neuron models of the Diehl & Cook (2015) network, as Brian2 equation strings + parameters.

A model is data: the same object builds a runtime network in a notebook and a C++ standalone
network for speed. Parameters are plain floats in the units named by their suffix-free Brian2
unit strings in ``units``, so configs (YAML) can override them without unit parsing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

import brian2 as b2

from ..errors import UserError

# the variables a network needs from its excitatory neuron, by role, and their default names:
# the input and cross-modal synapses add their weights to ``excitatory_input``, the inhibitory
# neurons theirs to ``inhibitory_input`` (both dimensionless: conductance relative to the leak);
# ``threshold`` is the adaptive threshold θ that learning raises (optional: no θ, no adaptation)
DEFAULT_ROLES = {"excitatory_input": "ge", "inhibitory_input": "gi", "threshold": "theta"}


@dataclass(frozen=True)
class NeuronModel:
    """Equations, threshold, reset and refractoriness, with parameter values and their units.

    ``learning_equations`` / ``learning_reset`` hold the parts that only run while learning
    (the adaptive threshold); ``frozen_equations`` replaces them when weights and θ are frozen.
    """

    name: str
    equations: str
    threshold: str
    reset: str
    refractory: str
    params: dict
    units: dict
    method: str = "euler"
    learning_equations: str = ""
    learning_reset: str = ""
    frozen_equations: str = ""
    total_conductance: str = ""   # coefficient of -v in dv/dt * tau (see linearly_implicit)
    doc: dict = field(default_factory=dict)
    initial: dict = field(default_factory=dict)   # variable -> starting value (an expression of the params)
    roles: dict = field(default_factory=dict)     # role -> variable name, where it differs from DEFAULT_ROLES

    @classmethod
    def from_dict(cls, data, where: str = "neuron") -> "NeuronModel":
        """A neuron written as a mapping (a config's ``neuron:`` section); one line for any mistake."""
        from ..validation import MODEL_UNITS, show, unknown_keys

        if not isinstance(data, dict):
            raise UserError(f"{where} must be a built-in neuron name ({', '.join(NEURONS)}) or a mapping of neuron "
                            f"fields, got {show(data)}")
        known = {f.name for f in fields(cls)}
        unknown = unknown_keys(data, known)
        if unknown:
            raise UserError(f"{where}: unknown field(s) {unknown}; a neuron has: {', '.join(sorted(known))}")
        for key in ("name", "threshold"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise UserError(f"{where} needs {key} (text), e.g. see stdp_toolkit.models.ADEX")
        for key in known - {"params", "units", "doc", "initial", "roles"}:
            if not isinstance(data.get(key, ""), str):
                raise UserError(f"{where}.{key} must be text (Brian2 code or equations), got {show(data[key])}")
        for key in ("params", "units", "doc", "initial", "roles"):
            value = data.get(key, {})
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise UserError(f"{where}.{key} must be a mapping of names")
        params = dict(data.get("params", {}))
        units = {k: data.get("units", {}).get(k, "1") for k in params}
        for key, unit in data.get("units", {}).items():
            if key not in params:
                raise UserError(f"{where}.units names {key!r}, which is not in {where}.params")
            if unit not in MODEL_UNITS:
                raise UserError(f"{where}.units.{key}: unknown unit {show(unit)}; use one of {', '.join(MODEL_UNITS)}")
        bad_roles = sorted(set(data.get("roles", {})) - set(DEFAULT_ROLES))
        if bad_roles:
            raise UserError(f"{where}.roles: unknown role(s) {bad_roles}; the roles are {', '.join(DEFAULT_ROLES)}")
        given = {k: v for k, v in data.items() if k not in ("params", "units")}
        model = cls(**{"equations": "", "refractory": "0*ms", "reset": "", **given}, params={k: 0.0 for k in params},
                    units=units)
        return model.with_params_from(where, params)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def refractoriness(self):
        """``refractory`` for a Brian2 group, or False when there is none (Brian2 then adds no
        refractoriness variables, and the generated code stays the same as without)."""
        return False if self.refractory.replace(" ", "") in ("", "0", "0*ms", "0*second") else self.refractory

    def role(self, name: str) -> str:
        """The variable that plays ``name`` (see DEFAULT_ROLES)."""
        return self.roles.get(name, DEFAULT_ROLES[name])

    def state_variables(self, learning: bool) -> dict:
        """Every variable the group's equations define (name -> dimension): what a run carries."""
        from ..validation import equation_variables

        return equation_variables(self.eqs(learning), f"neuron {self.name}: equations")

    def initial_values(self) -> dict:
        """``initial`` evaluated with the parameters: variable -> Brian2 quantity."""
        names = {**{u: getattr(b2, u) for u in ("mV", "ms", "second", "volt", "Hz", "nS", "pA", "nA", "pF", "amp")},
                 **self.namespace()}
        values = {}
        for var, expr in self.initial.items():
            try:
                values[var] = eval(str(expr), {"__builtins__": {}}, names)  # noqa: S307 (the user's own model)
            except Exception as exc:
                raise UserError(f"neuron {self.name}: initial value of {var} ({expr!r}) cannot be computed: "
                                f"{' '.join(str(exc).split())}") from None
        return values

    @property
    def section(self) -> str:
        """The config section that overrides this model's parameters."""
        return CONFIG_SECTIONS.get(self.name, self.name)

    def with_params(self, **overrides) -> "NeuronModel":
        """The model with some parameters replaced; each checked in its unit (see stdp_toolkit.validation)."""
        return self.with_params_from(self.section, overrides)

    def with_params_from(self, section: str, overrides: dict) -> "NeuronModel":
        """:meth:`with_params`, naming the config ``section`` the values come from in messages."""
        from ..validation import model_parameter, unknown_keys

        unknown = unknown_keys(overrides, self.params)
        if unknown:
            raise UserError(
                f"unknown parameter(s) {unknown} for the {self.name} neuron; "
                f"known: {sorted(self.params)}"
            )
        checked = {k: model_parameter(section, k, v, self.units[k], *PARAM_LOWER_BOUNDS.get(k, (None,)))
                   for k, v in overrides.items()}
        return replace(self, params={**self.params, **checked})

    def linearly_implicit(self) -> "NeuronModel":
        """The same model with its membrane equation in linearly implicit (backward) Euler form.

        ``dv/dt = (g_tot (v_inf - v)) / tau`` becomes ``dv/dt = (...) / (tau + dt g_tot)``, where
        ``g_tot`` (``total_conductance``) is the coefficient of -v in the numerator. One forward
        Euler step of the new equation is exactly one backward Euler step of the old one, at the
        cost of one division: stable for any conductance, whereas forward Euler diverges once
        dt g_tot / tau > 2 (a burst of inhibition: at dt 0.5 ms and tau_m 100 ms, gi > 400).
        For small dt g_tot / tau both agree to first order in dt.
        """
        import re

        if not self.total_conductance:
            return self
        pattern = re.compile(r"^(\s*dv/dt\s*=.*)/\s*(\w+)\s*:", re.MULTILINE)
        if not pattern.search(self.equations):
            raise ValueError(f"{self.name}: no 'dv/dt = ... / tau : unit' line to rewrite")
        eq = pattern.sub(lambda m: f"{m.group(1)}/ ({m.group(2)} + dt * ({self.total_conductance})) :",
                         self.equations, count=1)
        return replace(self, equations=eq, method="euler")

    def eqs(self, learning: bool, extra: str = "") -> str:
        parts = [self.equations, self.learning_equations if learning else self.frozen_equations, extra]
        return "\n".join(p for p in parts if p.strip())

    def reset_code(self, learning: bool, extra: str = "") -> str:
        parts = [self.reset, self.learning_reset if learning else "", extra]
        return "\n".join(p for p in parts if p.strip())

    def namespace(self) -> dict:
        """Parameters as Brian2 quantities, for the group's namespace."""
        return {k: v * b2.Unit(1) if self.units.get(k, "1") == "1" else v * getattr(b2, self.units[k])
                for k, v in self.params.items()}


# config section of each model's parameter overrides (Config.excitatory, .inhibitory, .input)
CONFIG_SECTIONS = {"excitatory": "excitatory", "inhibitory": "inhibitory", "poisson_input": "input"}

# lower bounds that differ from their unit's (validation.model_parameter): (low, exclusive)
PARAM_LOWER_BOUNDS = {
    "theta_plus": (0.0,),                 # mV per spike; a negative step lowers the threshold with every spike
    "max_rate": (0.0, True),              # Hz; 0 would never draw an input spike
    "t_on": (0.0, True),                  # ms; the input must be on for some time
}

EXCITATORY = NeuronModel(
    name="excitatory",
    # Conductance-based LIF (D&C 2015): conductances are dimensionless (relative to leak).
    equations="""
dv/dt = ((v_rest - v) + ge * (E_exc - v) + gi * (E_inh - v)) / tau_m : volt (unless refractory)
dge/dt = -ge / tau_ge : 1
dgi/dt = -gi / tau_gi : 1
""",
    threshold="v > theta - theta_offset + v_thresh",
    reset="v = v_reset",
    refractory="refractory_e",
    total_conductance="1 + ge + gi",
    learning_equations="dtheta/dt = -theta / tau_theta : volt",
    learning_reset="theta += theta_plus",
    frozen_equations="theta : volt",
    params=dict(
        v_rest=-65.0, v_reset=-65.0, v_thresh=-52.0, E_exc=0.0, E_inh=-100.0,
        tau_m=100.0, tau_ge=1.0, tau_gi=2.0, refractory_e=5.0,
        theta_plus=0.05, theta_offset=20.0, tau_theta=1e7,
    ),
    units=dict(
        v_rest="mV", v_reset="mV", v_thresh="mV", E_exc="mV", E_inh="mV",
        tau_m="ms", tau_ge="ms", tau_gi="ms", refractory_e="ms",
        theta_plus="mV", theta_offset="mV", tau_theta="ms",
    ),
    initial=dict(v="v_rest - 40*mV"),
    doc=dict(
        theta="adaptive threshold: +theta_plus per spike, decays with tau_theta while learning, frozen at test",
        theta_offset="the firing threshold is v_thresh + theta - theta_offset (theta starts at 20 mV)",
    ),
)

INHIBITORY = NeuronModel(
    name="inhibitory",
    equations="""
dv/dt = ((v_rest_i - v) + ge * (E_exc - v) + gi * (E_inh_i - v)) / tau_m_i : volt (unless refractory)
dge/dt = -ge / tau_ge : 1
dgi/dt = -gi / tau_gi : 1
""",
    threshold="v > v_thresh_i",
    reset="v = v_reset_i",
    refractory="refractory_i",
    total_conductance="1 + ge + gi",
    params=dict(
        v_rest_i=-60.0, v_reset_i=-45.0, v_thresh_i=-40.0, E_exc=0.0, E_inh_i=-85.0,
        tau_m_i=10.0, tau_ge=1.0, tau_gi=2.0, refractory_i=2.0,
    ),
    units=dict(
        v_rest_i="mV", v_reset_i="mV", v_thresh_i="mV", E_exc="mV", E_inh_i="mV",
        tau_m_i="ms", tau_ge="ms", tau_gi="ms", refractory_i="ms",
    ),
    initial=dict(v="v_rest_i - 40*mV"),
)

# Poisson input (Config.encoding "poisson", the default): one neuron per pixel. ``p`` (spike
# probability per time step, i.e. rate * dt) is set by the network at the start of each presentation
# from a TimedArray indexed by the sample counter; input is on for the first ``on_steps`` steps of a
# presentation (``period``: steps per presentation). The threshold draws a random number only where
# p > 0, which skips the ~80 % black pixels of an MNIST digit. A written-out encoding has the same
# contract: it reads p, period and on_steps, and has the parameters of ENCODING_PARAMS.
POISSON_INPUT = NeuronModel(
    name="poisson_input",
    equations="",
    threshold="p > 0 and timestep(t, dt) % period < on_steps and rand() < p",
    reset="",
    refractory="0*ms",
    method="exact",
    params=dict(max_rate=63.75, boost_rate=31.875, t_on=350.0, t_rest=150.0),
    units=dict(max_rate="Hz", boost_rate="Hz", t_on="ms", t_rest="ms"),
    doc=dict(
        max_rate="rate of a white (255) pixel at the first presentation: pixel/4 Hz",
        boost_rate="added to the white-pixel rate each time a sample is shown again for lack of spikes",
        t_on="presentation time of one sample", t_rest="silent time after each presentation",
    ),
)

# What the other built-in excitatory neurons take from D&C's: the conductance inputs' parameters (ge and gi
# are relative to the leak), the refractoriness and the adaptive threshold θ, frozen when evaluating
_DC_SHARED = ("E_exc", "E_inh", "tau_ge", "tau_gi", "refractory_e", "theta_plus", "theta_offset", "tau_theta")
_DC_PARAMS = {k: EXCITATORY.params[k] for k in _DC_SHARED}
_DC_UNITS = {k: EXCITATORY.units[k] for k in _DC_SHARED}
_DC_THRESHOLD = dict(refractory=EXCITATORY.refractory, learning_equations=EXCITATORY.learning_equations,
                     learning_reset=EXCITATORY.learning_reset, frozen_equations=EXCITATORY.frozen_equations)

# AdEx (Brette & Gerstner 2005: gL, EL, VT, DeltaT, a, b, tau_w of their cortical cell) with the
# network's conductance inputs (ge, gi relative to the leak, as in the D&C neuron) and D&C's adaptive
# threshold θ, which shifts the spike initiation (VT) and detection (V_peak) voltages while learning
# (theta_plus 0 turns it off). C = gL x 100 ms gives D&C's membrane time constant, so the network's
# weights keep their meaning; with their C = 281 pF (9.4 ms) the same weights drive ~1,000 spikes
# per sample (measured), a runaway.
ADEX = NeuronModel(
    name="adex",
    equations="""
dv/dt = (gL * (EL - v) + gL * DeltaT * exp((v - VT - theta + theta_offset) / DeltaT) + gL * ge * (E_exc - v)
         + gL * gi * (E_inh - v) - w_ad) / C : volt (unless refractory)
dw_ad/dt = (a * (v - EL) - w_ad) / tau_w : amp
dge/dt = -ge / tau_ge : 1
dgi/dt = -gi / tau_gi : 1
""",
    threshold="v > V_peak + theta - theta_offset",
    reset="v = V_reset\nw_ad += b",
    **_DC_THRESHOLD,
    params=dict(C=3000.0, gL=30.0, EL=-70.6, VT=-50.4, DeltaT=2.0, V_peak=-40.4, V_reset=-70.6, a=4.0, b=0.0805,
                tau_w=144.0, **_DC_PARAMS),
    units=dict(C="pF", gL="nS", EL="mV", VT="mV", DeltaT="mV", V_peak="mV", V_reset="mV", a="nS", b="nA",
               tau_w="ms", **_DC_UNITS),
    initial=dict(v="EL"),
    doc=dict(w_ad="adaptation current: +b per spike, relaxes to a (v - EL) with tau_w",
             theta="as in the D&C neuron; theta_plus 0 turns it off"),
)

# Izhikevich's regular-spiking cell in the form of his 2007 book (ch. 8: C, k, vr, vt, vpeak, a, b, c, d),
# with the network's conductance inputs and D&C's adaptive threshold θ, which shifts the instability
# point vt and the spike cut-off vpeak while learning (theta_plus 0 turns it off). The inputs are scaled
# by gL = k (vt - vr), the membrane's slope conductance at rest, and C = gL x 100 ms: near rest the cell
# is D&C's 100 ms leaky integrator, so the network's weights keep their meaning (the book's C = 100 pF
# gives 7 ms, and the same input drives too little depolarisation to reach vt).
IZHIKEVICH = NeuronModel(
    name="izhikevich",
    equations="""
dv/dt = (k * (v - vr) * (v - vt - theta + theta_offset) / mV - u + gL * ge * (E_exc - v) + gL * gi * (E_inh - v)) / C : volt (unless refractory)
du/dt = a * (b * (v - vr) - u) : amp
dge/dt = -ge / tau_ge : 1
dgi/dt = -gi / tau_gi : 1
""",
    threshold="v > vpeak + theta - theta_offset",
    reset="v = c\nu += d",
    **_DC_THRESHOLD,
    params=dict(C=1400.0, k=0.7, vr=-60.0, vt=-40.0, vpeak=35.0, a=30.0, b=-2.0, c=-50.0, d=100.0, gL=14.0,
                **_DC_PARAMS),
    units=dict(C="pF", k="nS", vr="mV", vt="mV", vpeak="mV", a="Hz", b="nS", c="mV", d="pA", gL="nS",
               **_DC_UNITS),
    initial=dict(v="vr"),
    doc=dict(u="recovery current: +d per spike, relaxes to b (v - vr) at rate a",
             k="slope of the quadratic I-V curve, per mV of (v - vr)",
             theta="as in the D&C neuron; theta_plus 0 turns it off"),
)

# the presentation protocol every encoding takes its timing and rates from (see Config.input_model)
ENCODING_PARAMS = ("max_rate", "boost_rate", "t_on", "t_rest")

# input encodings by name (Config.encoding); a written-out one has the same contract as POISSON_INPUT
ENCODINGS = {"poisson": POISSON_INPUT}

# excitatory neuron models by name (Config.neuron)
NEURONS = {"diehl_cook": EXCITATORY, "adex": ADEX, "izhikevich": IZHIKEVICH}
