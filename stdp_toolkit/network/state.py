"""The state a network carries from chunk to chunk, as plain numpy arrays in SI units.

Derived from the models' equations, so a user's neuron or rule is carried (and checkpointed) with
no code of its own: the backends set these arrays before a run and read them back after it.
"""
from __future__ import annotations

import brian2 as b2
import numpy as np

from ..errors import UserError
from .builder import cross_connectivity
from .config import Config


def state_variables(cfg: Config, learning: bool) -> dict[str, tuple[str, str, object]]:
    """Carried state: key -> (group attribute, variable, unit).

    Derived from the models' equations: every variable of the excitatory and inhibitory neurons
    and of the encoding (keys ``<var>_exc``, ``<var>_inh``, ``<var>_input``; the adaptive threshold
    is ``theta``), the input weights and delays, and every variable the rules add.
    """
    # the weights by their role: each plastic synapse names its weight variable (its rule's ``weight``)
    variables = {"w": ("syn_input", cfg.plasticity().weight if learning else "w", 1)}
    exc = cfg.excitatory_model()
    for group, model, suffix in (("exc", exc, "_exc"), ("inh", cfg.inhibitory_model(), "_inh"),
                                 ("inputs", cfg.input_model(), "_input")):
        for name, dim in model.state_variables(learning and group == "exc").items():
            key = "theta" if group == "exc" and name == exc.role("threshold") else name + suffix
            variables[key] = (group, name, _unit(dim))
    if cfg.delay_max > 0:
        variables["delay"] = ("syn_input", "d", b2.second)
    if cfg.has_cross_modal:
        variables["w_cross"] = ("syn_cross", cfg.cross_plasticity().weight if learning else "w", 1)
        if learning:
            variables["x_cross"] = ("exc", "x_cross", 1)
    if cfg.plastic_inhibition:
        variables["w_ie"] = ("syn_ie", cfg.inhibitory_plasticity().weight if learning else "w", 1)
        if learning:   # the I->E rule's per-synapse variables, as ie_<name>
            for name, dim in cfg.inhibitory_plasticity().state_variables()["synapse"].items():
                variables[f"ie_{name}"] = ("syn_ie", name, _unit(dim))
    if learning:
        # every variable the rule adds, wherever it lives (see PlasticityRule.state_variables)
        owners = {"pre": "inputs", "post": "exc", "synapse": "syn_input"}
        for where, names in cfg.plasticity().state_variables().items():
            for name, dim in names.items():
                if name in variables:
                    raise UserError(f"rule {cfg.plasticity().name!r}: its variable {name!r} ({where}) has the name of "
                                    "another variable the network carries; rename it")
                variables[name] = (owners[where], name, _unit(dim))
        if cfg.prunes:
            for name, owner in (("mask", "syn_input"), ("c", "syn_input"), ("x_int", "inputs")):
                if name in variables:
                    raise UserError(f"rule {cfg.plasticity().name!r}: pruning needs the variable name {name!r}; "
                                    "rename the rule's variable")
                variables[name] = (owner, name, 1)
    return variables


def _unit(dim):
    return 1 if dim.is_dimensionless else b2.Quantity(1, dim=dim)


def initial_state(cfg: Config, seed: int) -> dict[str, np.ndarray]:
    """Fresh network: random input weights and delays (seeded), θ = theta_init, every neuron
    variable at its model's ``initial`` value (D&C: v at rest - 40 mV) or 0."""
    rng = np.random.default_rng(seed)
    n_syn, n = cfg.n_input_synapses, cfg.n_neurons
    state = {
        "w": (rng.random(n_syn) + 0.01) * cfg.w_init,
        "delay": rng.random(n_syn) * cfg.delay_max * 1e-3,
    }
    exc = cfg.excitatory_model()
    for model, suffix, size in ((exc, "_exc", n), (cfg.inhibitory_model(), "_inh", n),
                                (cfg.input_model(), "_input", cfg.n_inputs)):
        start = model.initial_values()
        for name in model.state_variables(learning=True):
            if model is exc and name == exc.role("threshold"):
                state["theta"] = np.full(n, cfg.theta_init * 1e-3)
            else:
                state[name + suffix] = np.full(size, float(start[name]) if name in start else 0.0)
    if cfg.has_cross_modal:
        # drawn after the input weights, so adding cross-modal synapses leaves those unchanged
        n_cross = len(cross_connectivity(cfg)[0])
        state["w_cross"] = rng.random(n_cross) * cfg.cross_modal_settings().w_init
    if cfg.plastic_inhibition:
        state["w_ie"] = np.full(cfg.n_lateral_synapses, float(cfg.w_ie))
    return state


def fill_state(cfg: Config, state: dict, learning: bool) -> dict[str, np.ndarray]:
    """State with every carried variable present (missing traces start at 0)."""
    full = dict(state)
    for key, (group, _, _) in state_variables(cfg, learning).items():
        if key not in full:
            size = {"inputs": cfg.n_inputs, "syn_input": cfg.n_input_synapses,
                    "syn_ie": cfg.n_lateral_synapses}.get(group, cfg.n_neurons)
            if group == "syn_cross":
                size = len(cross_connectivity(cfg)[0])
            full[key] = np.ones(size) if key == "mask" else np.zeros(size)
    if "mask" in full:
        # pruned synapses hold weight 0 (the builder relies on it: they neither transmit nor learn)
        full["w"] = np.where(np.asarray(full["mask"]) > 0, full["w"], 0.0)
    return full


def rest_state(cfg: Config, state: dict) -> dict[str, np.ndarray]:
    """Frozen evaluation starts every chunk from rest with the trained weights and θ.

    That makes each chunk independent of the others, so evaluation can be split over processes
    and give exactly the sequential result.
    """
    fresh = initial_state(cfg, 0)
    keep = {k: state[k] for k in ("w", "theta", "delay", "w_cross", "w_ie") if k in state}
    return {**{k: v for k, v in fresh.items() if k not in ("w", "delay")}, **keep}
