"""STDP rules as reusable data: synapse model, pre/post code and the traces they need.

Traces live in the neuron groups (``x_in`` in the presynaptic group, ``x_out1``/``x_out2`` in the
postsynaptic group) rather than in each synapse. An input spike then costs one read per
synapse instead of an exponential per synapse, which is what makes the 313,600-synapse
input projection fast; the learning rule itself is unchanged. The pre trace is updated when
the spike is emitted (the conduction delay only delays the conductance and the pre-side
weight update).

Every rule's ``on_pre`` first delivers the conductance (``g_post += w``) and every weight
update is clipped to [0, wmax].
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from ..errors import UserError


@dataclass(frozen=True)
class PlasticityRule:
    """A learning rule: Brian2 code for the input synapses plus the traces it reads.

    Every field is data (strings and numbers), so a rule can be written inline in a config or a
    notebook and is saved with the run. The contract with the network:

    * the weight is ``weight`` (default ``w``; a dimensionless conductance step), a variable the
      network declares; it delivers it (``ge_post += w``) before ``on_pre`` runs and clips nothing
      itself (the normalisation keeps it in [0, wmax]);
    * ``synapse`` holds per-synapse equations, Brian2's own way of writing STDP
      (``dapre/dt = -apre / taupre : 1 (event-driven)``); every variable there is carried from chunk
      to chunk and saved in the checkpoint;
    * ``pre_trace``/``post_trace`` are equations added to the presynaptic (input) and postsynaptic
      (excitatory) groups: one trace per neuron instead of one per synapse, which is what keeps the
      313,600-synapse input projection fast. Read them as ``x_in_pre`` / ``x_out1_post``.
    """

    name: str
    description: str = ""
    on_pre: str = ""            # run when a presynaptic spike arrives (after the conductance update)
    on_post: str = ""           # run at a postsynaptic spike, before the post traces are reset
    pre_trace: str = ""         # equations added to the presynaptic group
    pre_trace_reset: str = ""   # code added to the presynaptic group's reset
    post_trace: str = ""        # equations added to the postsynaptic group
    post_trace_reset: str = ""  # code added to the postsynaptic group's reset
    params: dict = field(default_factory=dict)   # numbers, in ``units`` (default: dimensionless)
    units: dict = field(default_factory=dict)    # Brian2 unit names, e.g. {"tau_pre": "ms"}
    synapse: str = ""           # per-synapse equations besides the weight (e.g. event-driven traces)
    weight: str = "w"           # the name of the weight in this rule's code (its role in the network)

    @classmethod
    def from_dict(cls, data, where: str = "rule") -> "PlasticityRule":
        """A rule written as a mapping (a config's ``rule:`` section); one line for any mistake."""
        from ..validation import MODEL_UNITS, show, unknown_keys

        if not isinstance(data, dict):
            raise UserError(f"{where} must be a rule name or a mapping of rule fields, got {show(data)}")
        known = {f.name for f in fields(cls)}
        unknown = unknown_keys(data, known)
        if unknown:
            raise UserError(f"{where}: unknown field(s) {unknown}; a rule has: {', '.join(sorted(known))}")
        if not isinstance(data.get("name"), str) or not data["name"].strip():
            raise UserError(f"{where} needs a name (text), e.g. name: my_stdp")
        for key in known - {"params", "units"}:
            if not isinstance(data.get(key, ""), str):
                raise UserError(f"{where}.{key} must be text (Brian2 code or equations), got {show(data[key])}")
        for key in ("params", "units"):
            if not isinstance(data.get(key, {}), dict) or not all(isinstance(k, str) for k in data.get(key, {})):
                raise UserError(f"{where}.{key} must be a mapping of parameter names to "
                                f"{'numbers' if key == 'params' else 'unit names (ms, mV, Hz, 1)'}")
        units = dict(data.get("units", {}))
        for key, unit in units.items():
            if key not in data.get("params", {}):
                raise UserError(f"{where}.units names {key!r}, which is not in {where}.params")
            if unit not in MODEL_UNITS:
                raise UserError(f"{where}.units.{key}: unknown unit {show(unit)}; use one of {', '.join(MODEL_UNITS)}")
        if not data.get("weight", "w").isidentifier():
            raise UserError(f"{where}.weight must be the name of the weight variable in the rule's code (e.g. w), "
                            f"got {show(data['weight'])}")
        rule = cls(**{k: v for k, v in data.items() if k not in ("params", "units")}, units=units)
        return rule.with_params_from(f"{where}.params", dict(data.get("params", {})), new=True)

    def to_dict(self) -> dict:
        return asdict(self)

    def state_variables(self) -> dict[str, dict]:
        """Variables the rule adds, with their dimensions, by where they live: the ``pre`` group,
        the ``post`` group, the input ``synapse`` (plus ``lastupdate`` when an equation there is
        event-driven: Brian2 decays those lazily from the time of the last update)."""
        from ..validation import equation_variables

        syn = equation_variables(self.synapse, f"rule {self.name}: synapse")
        if syn:
            import brian2 as b2

            if any("event-driven" in eq.flags for eq in b2.Equations(self.synapse).values()):
                syn["lastupdate"] = b2.second.dim
        return {"pre": equation_variables(self.pre_trace, f"rule {self.name}: pre_trace"),
                "post": equation_variables(self.post_trace, f"rule {self.name}: post_trace"),
                "synapse": syn}

    def with_params(self, **overrides) -> "PlasticityRule":
        return self.with_params_from("rule_params", overrides)

    def with_params_from(self, section: str, overrides: dict, new: bool = False) -> "PlasticityRule":
        """The rule with some parameters replaced; each checked in its unit (see stdp_toolkit.validation).

        ``section`` names where the values come from in messages (``rule_params``,
        ``cross_modal.rule_params``); ``new``: the rule's own parameters (any names).

        Time constants must be > 0 ms, ``wmax`` > 0, ``mu`` >= 0 (``(wmax - w)**mu`` is infinite at
        ``w = wmax`` otherwise); learning rates and targets only need to be finite.
        """
        from ..validation import model_parameter, unknown_keys

        unknown = [] if new else unknown_keys(overrides, self.params)
        if unknown:
            raise UserError(
                f"unknown parameter(s) {unknown} for STDP rule {self.name!r}; known: {sorted(self.params)}"
            )
        checked = {k: model_parameter(section, k, v, self.units.get(k, "1"), *RULE_LOWER_BOUNDS.get(k, (None,)))
                   for k, v in overrides.items()}
        return replace(self, params={**self.params, **checked})

    def namespace(self) -> dict:
        import brian2 as b2

        return {k: v * (getattr(b2, self.units[k]) if self.units.get(k, "1") != "1" else 1) for k, v in self.params.items()}

    def same_code(self, other: "PlasticityRule") -> bool:
        """Equal equations and code (parameters may differ)."""
        code = ("on_pre", "on_post", "pre_trace", "pre_trace_reset", "post_trace", "post_trace_reset", "synapse",
                "weight")
        return all(getattr(self, f) == getattr(other, f) for f in code)

    def with_pre_trace(self, trace: str, tau: str) -> "PlasticityRule":
        """The same rule reading its presynaptic trace from ``trace`` with time constant ``tau``.

        A second plastic projection from a group that already has the trace ``x_in`` (the
        cross-modal synapses start at excitatory neurons, whose group may carry another rule's
        traces) needs its own trace name; the rule's equations are renamed, not rewritten.
        """
        from brian2.utils.stringtools import word_substitute

        subs = {"x_in_pre": f"{trace}_pre", "x_in": trace, "dx_in": f"d{trace}", "tau_pre": tau}
        params = {(tau if k == "tau_pre" else k): v for k, v in self.params.items()}
        units = {(tau if k == "tau_pre" else k): v for k, v in self.units.items()}
        code = {f: word_substitute(getattr(self, f), subs)
                for f in ("on_pre", "on_post", "pre_trace", "pre_trace_reset")}
        return replace(self, params=params, units=units, **code)



# lower bounds of rule parameters beyond finiteness (validation.model_parameter): (low, exclusive)
RULE_LOWER_BOUNDS = {"wmax": (0.0, True), "mu": (0.0,)}

_PRE_TRACE = "dx_in/dt = -x_in / tau_pre : 1"
_CLIP = "clip({expr}, 0, wmax)"

DC_TRACE = PlasticityRule(
    name="dc_trace",
    description=(
        "Diehl & Cook's trace rule: depression by the post trace at each pre spike, potentiation "
        "by pre trace x the slow post trace (value before this spike) at each post spike."
    ),
    on_pre="w = " + _CLIP.format(expr="w - nu_pre * x_out1_post"),
    on_post="w = " + _CLIP.format(expr="w + nu_post * x_in_pre * x_out2_post"),
    pre_trace=_PRE_TRACE,
    pre_trace_reset="x_in = 1",
    post_trace="dx_out1/dt = -x_out1 / tau_post1 : 1\ndx_out2/dt = -x_out2 / tau_post2 : 1",
    post_trace_reset="x_out1 = 1\nx_out2 = 1",
    params=dict(nu_pre=1e-4, nu_post=1e-2, wmax=1.0, tau_pre=20.0, tau_post1=20.0, tau_post2=40.0),
    units=dict(tau_pre="ms", tau_post1="ms", tau_post2="ms"),
)

POWER_LAW = PlasticityRule(
    name="power_law",
    description=(
        "Power-law weight-dependent rule (D&C 2015): at each post spike "
        "dw = eta * (x_pre - x_tar) * (wmax - w)**mu. Inputs active just before the spike "
        "(x_pre > x_tar) potentiate, silent ones depress; the (wmax - w)**mu factor slows "
        "growth near wmax. No update at pre spikes."
    ),
    on_pre="",
    on_post="w = " + _CLIP.format(expr="w + eta * (x_in_pre - x_tar) * (wmax - w)**mu"),
    pre_trace=_PRE_TRACE,
    pre_trace_reset="x_in += 1",
    post_trace="",
    post_trace_reset="",
    params=dict(eta=0.01, x_tar=0.4, mu=0.2, wmax=1.0, tau_pre=20.0),
    units=dict(tau_pre="ms"),
)

ADDITIVE = PlasticityRule(
    name="additive",
    description="Pair-based additive STDP with nearest-spike traces: +a_plus*x_pre at post, -a_minus*x_post at pre.",
    on_pre="w = " + _CLIP.format(expr="w - a_minus * x_out1_post"),
    on_post="w = " + _CLIP.format(expr="w + a_plus * x_in_pre"),
    pre_trace=_PRE_TRACE,
    pre_trace_reset="x_in = 1",
    post_trace="dx_out1/dt = -x_out1 / tau_post : 1",
    post_trace_reset="x_out1 = 1",
    params=dict(a_plus=1e-2, a_minus=1.05e-3, wmax=1.0, tau_pre=20.0, tau_post=20.0),
    units=dict(tau_pre="ms", tau_post="ms"),
)

MULTIPLICATIVE = PlasticityRule(
    name="multiplicative",
    description=(
        "Pair-based multiplicative (soft-bound) STDP: potentiation scaled by (wmax - w), "
        "depression scaled by w."
    ),
    on_pre="w = " + _CLIP.format(expr="w - a_minus * x_out1_post * w"),
    on_post="w = " + _CLIP.format(expr="w + a_plus * x_in_pre * (wmax - w)"),
    pre_trace=_PRE_TRACE,
    pre_trace_reset="x_in = 1",
    post_trace="dx_out1/dt = -x_out1 / tau_post : 1",
    post_trace_reset="x_out1 = 1",
    params=dict(a_plus=1e-2, a_minus=1e-3, wmax=1.0, tau_pre=20.0, tau_post=20.0),
    units=dict(tau_pre="ms", tau_post="ms"),
)

def _triplet(name: str, reset: str, description: str) -> PlasticityRule:
    """Pfister & Gerstner's (2006) triplet rule with its four traces in the neuron groups; ``reset``:
    ``+= 1`` (all-to-all spike interactions) or ``= 1`` (nearest spike)."""
    return PlasticityRule(
        name=name,
        description=description,
        # depression at a pre spike: post trace o1 x (pair term + triplet term of the slow pre trace r2,
        # its value before this spike); potentiation at a post spike likewise with r1 and o2
        on_pre="w = " + _CLIP.format(expr="w - o1_post * (A2_minus + A3_minus * r2_pre)"),
        on_post="w = " + _CLIP.format(expr="w + r1_pre * (A2_plus + A3_plus * o2_post)"),
        pre_trace="dr1/dt = -r1 / tau_plus : 1\ndr2/dt = -r2 / tau_x : 1",
        pre_trace_reset=f"r1 {reset}\nr2 {reset}",
        post_trace="do1/dt = -o1 / tau_minus : 1\ndo2/dt = -o2 / tau_y : 1",
        post_trace_reset=f"o1 {reset}\no2 {reset}",
        # the visual-cortex fit of Pfister & Gerstner 2006 (NEST's defaults); weights in [0, wmax]
        params=dict(A2_plus=7.5e-10, A3_plus=9.3e-3, A2_minus=7e-3, A3_minus=2.3e-4, wmax=1.0,
                    tau_plus=16.8, tau_x=101.0, tau_minus=33.7, tau_y=125.0),
        units=dict(tau_plus="ms", tau_x="ms", tau_minus="ms", tau_y="ms"),
    )


TRIPLET = _triplet("triplet", "+= 1", "Triplet STDP (Pfister & Gerstner 2006), all-to-all spike interactions: "
                   "potentiation grows with the postsynaptic rate (o2), depression with the presynaptic one (r2).")
TRIPLET_NEAREST = _triplet("triplet_nearest", "= 1", "Triplet STDP (Pfister & Gerstner 2006), nearest-spike "
                           "interactions: every trace is set to 1 at a spike instead of incremented.")

# Inhibitory STDP (Vogels et al. 2011, as in Brian2's examples/frompapers/Vogels_et_al_2011.py) for the
# I->E synapses (Config.inhibitory_rule): near-coincident pre and post spikes strengthen inhibition,
# each presynaptic spike alone weakens it by alpha = 2 rho0 tau_istdp, so a neuron's inhibition settles
# where it fires at the target rate rho0. The traces are per synapse (inhibitory spikes are few).
VOGELS = PlasticityRule(
    name="vogels",
    description="Inhibitory STDP (Vogels et al. 2011) for I->E synapses: dw = eta (x_post - 2 rho0 tau_istdp) at a "
                "pre spike, eta x_pre at a post spike; inhibition settles where the neuron fires at rho0.",
    synapse="dApre/dt = -Apre / tau_istdp : 1 (event-driven)\ndApost/dt = -Apost / tau_istdp : 1 (event-driven)",
    on_pre="Apre += 1\nw = " + _CLIP.format(expr="w + eta * (Apost - 2 * rho0 * tau_istdp)"),
    on_post="Apost += 1\nw = " + _CLIP.format(expr="w + eta * Apre"),
    # Vogels' tau and target rate; eta and wmax in the network's units (w_ie = 17, relative to the leak)
    params=dict(eta=0.1, rho0=3.0, tau_istdp=20.0, wmax=100.0),
    units=dict(rho0="Hz", tau_istdp="ms"),
)

RULES = {r.name: r for r in (DC_TRACE, POWER_LAW, ADDITIVE, MULTIPLICATIVE, TRIPLET, TRIPLET_NEAREST, VOGELS)}


def get_rule(name, section: str = "rule_params", /, **params) -> PlasticityRule:
    """The rule called ``name`` (or written out as a mapping or a :class:`PlasticityRule`) with
    ``params`` overriding its defaults (``section``: their config section)."""
    if isinstance(name, PlasticityRule):
        name = name.to_dict()
    if isinstance(name, dict):
        return PlasticityRule.from_dict(name, section.replace("rule_params", "rule")).with_params_from(section, params)
    if not isinstance(name, str) or name not in RULES:
        from ..validation import show

        raise UserError(f"unknown STDP rule {show(name)}; choose one of: {', '.join(sorted(RULES))}")
    return RULES[name].with_params_from(section, params)
