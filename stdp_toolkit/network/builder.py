"""Build the Diehl & Cook network as Brian2 objects from a :class:`Config`.

One function builds the network for both backends. All control flow of a training run lives
inside the simulation, so a long sequence of samples is one ``run()``:

* the stimuli sit in a 2-D ``TimedArray`` indexed by a sample counter (not by time);
* a one-neuron controller group counts excitatory spikes per presentation and, at the end of
  each presentation, either advances the sample counter or shows the sample again with a
  higher input rate (fewer than ``min_spikes`` spikes);
* each neuron's input weights are normalised at the start of every presentation by a
  ``run_regularly`` operation that reads a summed variable computed only once per presentation
  (a summed variable over 313,600 synapses updated every step would cost ten times the rest).
"""
from __future__ import annotations

from dataclasses import dataclass

import brian2 as b2
import numpy as np

from .config import Config


@dataclass
class NetworkObjects:
    """The Brian2 objects of one network, by role."""

    net: b2.Network
    inputs: b2.NeuronGroup
    exc: b2.NeuronGroup
    inh: b2.NeuronGroup
    ctrl: b2.NeuronGroup
    syn_input: b2.Synapses
    syn_ei: b2.Synapses
    syn_ie: b2.Synapses
    stimulus: b2.TimedArray
    spikes_exc: b2.SpikeMonitor
    presentations: b2.StateMonitor
    spikes_input: b2.SpikeMonitor | None
    spikes_inh: b2.SpikeMonitor | None
    learning: bool
    n_presentations: int


# rules whose ``on_pre`` only lowers a weight and clips it at 0 (see plasticity.py)
_PRE_DEPRESSION_ONLY = {"dc_trace", "additive", "multiplicative", "power_law"}


def input_connectivity(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """Synapse order of the all-to-all input projection: pre-major (index = pre * N + post)."""
    i = np.repeat(np.arange(cfg.n_inputs), cfg.n_neurons)
    j = np.tile(np.arange(cfg.n_neurons), cfg.n_inputs)
    return i, j


def build_network(cfg: Config, learning: bool, n_presentations: int,
                  record_input: bool = False, record_inhibitory: bool = False) -> NetworkObjects:
    """Create the groups, synapses and monitors for ``n_presentations`` presentations.

    Weights, delays and state are placeholders here: the simulator sets them before each run
    (``run_args`` in standalone mode), so one compiled binary serves every chunk of a run.
    """
    n_e, n_in = cfg.n_neurons, cfg.n_inputs
    exc_m, inh_m, inp_m, rule = cfg.excitatory_model(), cfg.inhibitory_model(), cfg.input_model(), cfg.plasticity()
    period = cfg.steps_per_presentation
    on_steps = int(round(inp_m.params["t_on"] / cfg.dt))
    pres_clock = b2.Clock(dt=period * cfg.dt * b2.ms, name="presentation_clock")

    stimulus = b2.TimedArray(np.zeros((n_presentations, n_in)), dt=1 * b2.second, name="stimulus")

    # controller: sample counter, repeat ("boost") counter, spike count of this presentation
    ctrl = b2.NeuronGroup(1, "sample : 1\nboosts : 1\ncount : 1\nn_valid : 1", name="controller")
    ctrl.run_regularly(
        """
        last = int(timestep(t, dt) % period == period - 1)
        adv = last * int(count >= min_spikes or boosts >= max_boosts or sample >= n_valid)
        boosts = (boosts + last - adv) * (1 - adv)
        sample += adv
        count = count * (1 - last)
        """,
        when="end", name="controller_step",
    )
    ctrl.namespace.update(period=period, min_spikes=cfg.min_spikes, max_boosts=cfg.max_boosts)

    zeros_in = np.zeros(n_in, dtype=int)
    # pruning (compression section): a 0/1 ``mask`` per input synapse and a correlation trace
    # ``c`` (sum of the presynaptic trace at postsynaptic spikes); ``x_int`` integrates the
    # presynaptic trace over time (its chance level). See stdp_toolkit/compression/pruning.py.
    prune = learning and cfg.prunes
    # ``p`` = spike probability per step, set once per presentation (not recomputed every step
    # from the TimedArray): the threshold then only reads p, and skips black pixels at once.
    inp_eqs = f"""
    p : 1
    sample : 1 (linked)
    boosts : 1 (linked)
    n_valid : 1 (linked)
    {rule.pre_trace if learning else ''}
    {"x_int : 1" if prune else ''}
    """
    inputs = b2.NeuronGroup(
        n_in, inp_eqs, threshold=inp_m.threshold,
        reset=(rule.pre_trace_reset if learning else None) or None,
        method="exact", name="inputs",
        namespace={**inp_m.namespace(), **(rule.namespace() if learning else {}), "period": period,
                   "on_steps": on_steps, "stimulus": stimulus},
    )
    inputs.run_regularly(
        "p = int(sample < n_valid) * stimulus(sample * second, i) * (max_rate + boosts * boost_rate) * dt",
        clock=pres_clock, when="start", name="inputs_set_rate",
    )
    if prune:
        # time integral of the pre trace (in ms) while the input is on, summed each step: the
        # chance level of the correlation score (as an ODE the group's exact integrator fails)
        inputs.run_regularly("x_int += x_in * dt / ms * int(timestep(t, dt) % period < on_steps)",
                             when="end", name="inputs_integrate_trace")
    inputs.sample = b2.linked_var(ctrl, "sample", index=zeros_in)
    inputs.boosts = b2.linked_var(ctrl, "boosts", index=zeros_in)
    inputs.n_valid = b2.linked_var(ctrl, "n_valid", index=zeros_in)

    exc_extra = (rule.post_trace + "\nwsum : 1") if learning else ""
    exc = b2.NeuronGroup(
        n_e, exc_m.eqs(learning, exc_extra), threshold=exc_m.threshold,
        reset=exc_m.reset_code(learning, rule.post_trace_reset if learning else ""),
        refractory=exc_m.refractory, method=exc_m.method, name="excitatory",
        namespace={**exc_m.namespace(), **(rule.namespace() if learning else {})},
    )
    inh = b2.NeuronGroup(
        n_e, inh_m.eqs(False), threshold=inh_m.threshold, reset=inh_m.reset_code(False),
        refractory=inh_m.refractory, method=inh_m.method, name="inhibitory", namespace=inh_m.namespace(),
    )

    # ``d`` holds the conduction delays as an ordinary variable so it can be set per run;
    # the simulator copies it into the pathway's delay (see Simulator)
    delay_var = "\nd : second (constant)" if cfg.delay_max > 0 else ""
    if learning:
        syn_model = "w : 1\nwsum_post = w : 1 (summed)"
        on_pre = "ge_post += w\n" + rule.on_pre
        on_post = rule.on_post or None
        if prune:
            # Invariant: w == 0 wherever mask == 0 (the simulator zeroes pruned weights before a run).
            # A zero weight transmits nothing, so ``ge_post += w`` needs no mask. Every update that
            # can raise a weight is followed by ``w *= mask``: the built-in rules' pre-spike updates
            # are depressions clipped at 0 (a zero weight stays zero), so only theirs is skipped.
            syn_model += "\nmask : 1\nc : 1"
            if rule.on_pre and rule.name not in _PRE_DEPRESSION_ONLY:
                on_pre += "\nw = w * mask"
            on_post = (rule.on_post + "\n" if rule.on_post else "") + "w = w * mask\nc += x_in_pre"
    else:
        syn_model, on_pre, on_post = "w : 1", "ge_post += w", None
    syn_model += delay_var
    syn_input = b2.Synapses(inputs, exc, syn_model, on_pre=on_pre, on_post=on_post,
                            name="input_exc", namespace=rule.namespace() if learning else {})
    pre_idx, post_idx = input_connectivity(cfg)
    syn_input.connect(i=pre_idx, j=post_idx)
    objects = [ctrl, inputs, exc, inh, syn_input]
    if learning and cfg.norm_total > 0:
        # compute the sum once per presentation, then normalise before the thresholds
        syn_input.summed_updaters["wsum_post"]._clock = pres_clock
        syn_input.run_regularly("w = clip(w * norm_total / (wsum_post + 1e-12), 0, wmax)", clock=pres_clock,
                                when="before_thresholds", name="normalise_weights")
        syn_input.namespace["norm_total"] = cfg.norm_total

    syn_ei = b2.Synapses(exc, inh, on_pre="ge_post += w_ei", name="exc_inh", namespace={"w_ei": cfg.w_ei})
    syn_ei.connect(j="i")
    syn_ie = b2.Synapses(inh, exc, on_pre="gi_post += w_ie", name="inh_exc", namespace={"w_ie": cfg.w_ie})
    syn_ie.connect(condition="i != j")
    syn_count = b2.Synapses(exc, ctrl, on_pre="count_post += 1", name="exc_counter")
    syn_count.connect(i=np.arange(n_e), j=np.zeros(n_e, dtype=int))

    spikes_exc = b2.SpikeMonitor(exc, record=True, name="spikes_exc")
    presentations = b2.StateMonitor(ctrl, ["sample", "boosts"], record=0, clock=pres_clock, when="start",
                                    name="presentations")
    spikes_input = b2.SpikeMonitor(inputs, name="spikes_input") if record_input else None
    spikes_inh = b2.SpikeMonitor(inh, name="spikes_inh") if record_inhibitory else None
    objects += [syn_ei, syn_ie, syn_count, spikes_exc, presentations]
    objects += [m for m in (spikes_input, spikes_inh) if m is not None]
    net = b2.Network(*objects, name="diehl_cook")
    return NetworkObjects(net, inputs, exc, inh, ctrl, syn_input, syn_ei, syn_ie, stimulus, spikes_exc,
                          presentations, spikes_input, spikes_inh, learning, n_presentations)
