"""Build the Diehl & Cook network as Brian2 objects from a :class:`Config`.

One function builds the network for both backends. All control flow of a training run lives
inside the simulation, so a long sequence of samples is one ``run()``:

* the stimuli sit in a 2-D ``TimedArray`` indexed by a sample counter (not by time);
* a one-neuron controller group counts excitatory spikes per presentation and, at the end of
  each presentation, either advances the sample counter or shows the sample again with a
  higher input rate (fewer than ``min_spikes`` spikes);
* a presentation with more than ``spike_limit`` excitatory spikes (a runaway) sets the
  controller's ``runaway`` flag; the compiled program then stops at once instead of simulating
  the rest of the chunk near the refractory limit (hours of a chunk of 1,000). It also stops
  once every sample is shown: a chunk of 20 samples simulates 20 presentations, not
  ``chunk_presentations`` (idle presentations would also let θ and the traces decay further);
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
    syn_cross: b2.Synapses | None
    spikes_exc: b2.SpikeMonitor
    presentations: b2.StateMonitor
    spikes_input: b2.SpikeMonitor | None
    spikes_inh: b2.SpikeMonitor | None
    learning: bool
    n_presentations: int
    traces: b2.StateMonitor | None = None


@dataclass(frozen=True)
class Traces:
    """State variables of some excitatory neurons to record every ``every_ms`` (default: every step),
    e.g. ``Traces(("v", "theta"), (0, 1, 2))``. Recorded in the compiled program too, unlike a
    Brian2 monitor added by hand."""

    variables: tuple
    neurons: tuple
    every_ms: float | None = None

    def check(self, n_neurons: int) -> "Traces":
        from ..errors import UserError

        variables, neurons = tuple(self.variables), tuple(self.neurons)
        if not variables or not all(isinstance(v, str) for v in variables):
            raise UserError(f"traces: variables must be names of excitatory-neuron variables, e.g. ('v', 'theta'); "
                            f"got {variables!r}")
        if not neurons or not all(isinstance(i, (int, np.integer)) and 0 <= i < n_neurons for i in neurons):
            raise UserError(f"traces: neurons must be indices in 0..{n_neurons - 1}, got {neurons!r}")
        if self.every_ms is not None and not (isinstance(self.every_ms, (int, float)) and self.every_ms > 0):
            raise UserError(f"traces: every_ms must be a positive time step in ms, got {self.every_ms!r}")
        return Traces(variables, tuple(int(i) for i in neurons), self.every_ms)


# built-in rules whose ``on_pre`` only lowers a weight and clips it at 0 (see plasticity.py)
_PRE_DEPRESSION_ONLY = {"dc_trace", "additive", "multiplicative", "power_law"}


def _pre_update_only_depresses(rule) -> bool:
    """The rule is one of those, with its code unchanged (a rule is known by its code, not its name)."""
    from ..models import RULES

    return rule.name in _PRE_DEPRESSION_ONLY and rule.same_code(RULES[rule.name])


def input_connectivity(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """Synapse order of the input projection: each ensemble's inputs all-to-all onto its neurons,
    ensemble after ensemble, pre-major within one (one ensemble: index = pre * N + post)."""
    parts = [(np.repeat(np.arange(e.inputs.start, e.inputs.stop), e.n_neurons),
              np.tile(np.arange(e.neurons.start, e.neurons.stop), e.n_inputs)) for e in cfg.ensemble_list()]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def input_weight_matrix(cfg: Config, w: np.ndarray) -> np.ndarray:
    """Input weights as [n_inputs, n_neurons] (zero between an ensemble's neurons and other inputs)."""
    w = np.asarray(w)
    if len(cfg.ensemble_list()) == 1:
        return w.reshape(cfg.n_inputs, cfg.n_neurons)
    full = np.zeros((cfg.n_inputs, cfg.n_neurons), dtype=w.dtype)
    full[input_connectivity(cfg)] = w
    return full


def cross_connectivity(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """Cross-modal synapses: every excitatory neuron to every excitatory neuron of the other
    ensembles (both directions), pre-major."""
    block = ensemble_index(cfg)
    i, j = np.nonzero(block[:, None] != block[None, :])
    return i, j


def ensemble_index(cfg: Config) -> np.ndarray:
    """Ensemble number of every excitatory (and inhibitory) neuron."""
    return np.concatenate([np.full(e.n_neurons, k) for k, e in enumerate(cfg.ensemble_list())])


def cross_weight_matrix(cfg: Config, w: np.ndarray) -> np.ndarray:
    """Cross-modal weights as [n_neurons (pre), n_neurons (post)], zero within an ensemble."""
    full = np.zeros((cfg.n_neurons, cfg.n_neurons))
    full[cross_connectivity(cfg)] = w
    return full


def zero_subnormals(group: b2.NeuronGroup, clock: b2.Clock) -> None:
    """Set every differential-equation variable of ``group`` that is subnormal to exactly 0, once
    per tick of ``clock``.

    A decaying trace of a silent neuron otherwise sticks at a subnormal value forever, and all its
    later updates run ~100x slower on Intel cores (see fpenv.py). Values below the smallest normal
    float (2.2e-308) affect no result; with flush-to-zero on, this changes nothing at all.
    """
    tiny = float(np.finfo(b2.prefs.core.default_float_dtype).tiny)
    lines = []
    for name in sorted(group.equations.diff_eq_names):
        const = f"smallest_normal_{name}"
        group.namespace[const] = b2.Quantity(tiny, dim=group.variables[name].dim)
        lines.append(f"{name} = {name} * int(abs({name}) >= {const})")
    if lines:
        group.run_regularly("\n".join(lines), clock=clock, when="start", name=f"{group.name}_zero_subnormals")


@b2.implementation("cpp", """
double stop_run(double flag) {
    if (flag > 0) Network::_globally_stopped = true;  // the run loop ends after this time step
    return flag;
}
""")
@b2.check_units(flag=1, result=1)
def stop_run(flag):
    return flag


def _stops_compiled_run() -> bool:
    """C++ standalone can end its run loop from generated code; the runtime backend stops from
    Python once per presentation (Simulator), CUDA checks the runaway flag after the chunk."""
    return type(b2.get_device()).__name__ == "CPPStandaloneDevice"


def build_network(cfg: Config, learning: bool, n_presentations: int,
                  record_input: bool = False, record_inhibitory: bool = False,
                  traces: Traces | None = None) -> NetworkObjects:
    """Create the groups, synapses and monitors for ``n_presentations`` presentations.

    Weights, delays and state are placeholders here: the simulator sets them before each run
    (``run_args`` in standalone mode), so one compiled binary serves every chunk of a run.

    The objects are marked as the network's at once. Brian2 warns about an object deleted before it
    ran in a network (a user's forgotten monitor); for the toolkit's own objects (a simulator dropped
    unused, a build stopped by an error in the user's model) that warning would only point at
    toolkit internals.
    """
    before = {id(ref()) for ref in b2.BrianObject.__instances__()}
    try:
        objs = _build_network(cfg, learning, n_presentations, record_input, record_inhibitory, traces)
    except BaseException:
        for ref in b2.BrianObject.__instances__():
            obj = ref()
            if obj is not None and id(obj) not in before and getattr(obj, "_network", 0) is None:
                obj._network = "build failed"
        raise
    for obj in objs.net.objects:
        obj._network = objs.net.id      # what Network.before_run sets
    return objs


def _build_network(cfg, learning, n_presentations, record_input, record_inhibitory, traces) -> NetworkObjects:
    """The network, part by part (the order of creation is kept: it fixes the generated code)."""
    n_e, n_in = cfg.n_neurons, cfg.n_inputs
    exc_m, inh_m, inp_m, rule = cfg.excitatory_model(), cfg.inhibitory_model(), cfg.input_model(), cfg.plasticity()
    period = cfg.steps_per_presentation
    pres_clock = b2.Clock(dt=period * cfg.dt * b2.ms, name="presentation_clock")
    stimulus = b2.TimedArray(np.zeros((n_presentations, n_in)), dt=1 * b2.second, name="stimulus")
    ctrl = _controller(cfg, period)
    inputs = _input_group(cfg, learning, inp_m, rule, ctrl, stimulus, pres_clock)
    cross = cfg.cross_plasticity() if cfg.has_cross_modal else None
    exc, inh = _neuron_groups(cfg, learning, exc_m, inh_m, rule, cross)
    for group in (inputs, exc, inh):
        zero_subnormals(group, pres_clock)
    syn_input = _input_synapses(cfg, learning, rule, inputs, exc, exc_m.role("excitatory_input"), pres_clock)
    syn_ei, syn_ie = _inhibition(cfg, learning, exc_m, exc, inh)
    syn_cross = _cross_modal_synapses(cfg, learning, cross, exc, exc_m.role("excitatory_input"))
    syn_count = b2.Synapses(exc, ctrl, on_pre="count_post += 1", name="exc_counter")
    syn_count.connect(i=np.arange(n_e), j=np.zeros(n_e, dtype=int))

    spikes_exc = b2.SpikeMonitor(exc, record=True, name="spikes_exc")
    presentations = b2.StateMonitor(ctrl, ["sample", "boosts"], record=0, clock=pres_clock, when="start",
                                    name="presentations")
    spikes_input = b2.SpikeMonitor(inputs, name="spikes_input") if record_input else None
    spikes_inh = b2.SpikeMonitor(inh, name="spikes_inh") if record_inhibitory else None
    objects = [ctrl, inputs, exc, inh, syn_input, syn_ei, syn_ie, syn_count, spikes_exc, presentations]
    objects += [syn_cross] if syn_cross is not None else []
    objects += [m for m in (spikes_input, spikes_inh) if m is not None]
    trace_mon = None
    if traces is not None:
        trace_mon = b2.StateMonitor(exc, list(traces.variables), record=list(traces.neurons), name="traces",
                                    dt=(traces.every_ms or cfg.dt) * b2.ms)
        objects.append(trace_mon)
    net = b2.Network(*objects, name="diehl_cook")
    return NetworkObjects(net, inputs, exc, inh, ctrl, syn_input, syn_ei, syn_ie, stimulus, syn_cross, spikes_exc,
                          presentations, spikes_input, spikes_inh, learning, n_presentations, trace_mon)


def _controller(cfg, period: int) -> b2.NeuronGroup:
    """Sample counter, repeat ("boost") counter, spike count of this presentation, the runaway flag
    (spike_limit: run-time data, 0 = off) and the simulated time (``elapsed``: where the run stopped,
    so that Brian2's event-driven update times can be carried to the next chunk)."""
    ctrl = b2.NeuronGroup(1, "sample : 1\nboosts : 1\ncount : 1\nn_valid : 1\nspike_limit : 1\nrunaway : 1\n"
                          "done : 1\nelapsed : second", name="controller")
    # (done: after the first step of the presentation after the last sample, where the runtime backend stops)
    stop = ("\ndone = stop_run(runaway + int(sample >= n_valid) * int(timestep(t, dt) % period == 0))"
            if _stops_compiled_run() else "")
    ctrl.run_regularly(
        """
        last = int(timestep(t, dt) % period == period - 1)
        runaway = runaway + last * int(spike_limit > 0) * int(count > spike_limit)
        adv = last * int(count >= min_spikes or boosts >= max_boosts or sample >= n_valid)
        boosts = (boosts + last - adv) * (1 - adv)
        sample += adv
        count = count * (1 - last)
        elapsed = t + dt
        """ + stop,
        when="end", name="controller_step",
    )
    ctrl.namespace.update(period=period, min_spikes=cfg.min_spikes, max_boosts=cfg.max_boosts)
    if stop:
        ctrl.namespace["stop_run"] = stop_run
    return ctrl


def _input_group(cfg, learning, inp_m, rule, ctrl, stimulus, pres_clock) -> b2.NeuronGroup:
    """The input neurons: the encoding, the rule's presynaptic trace, the pruning trace integral."""
    n_in, period = cfg.n_inputs, cfg.steps_per_presentation
    on_steps = int(round(inp_m.params["t_on"] / cfg.dt))
    zeros_in = np.zeros(n_in, dtype=int)
    # pruning (compression section): a 0/1 ``mask`` per input synapse and a correlation trace
    # ``c`` (sum of the presynaptic trace at postsynaptic spikes); ``x_int`` integrates the
    # presynaptic trace over time (its chance level). See stdp_toolkit/compression/pruning.py.
    prune = learning and cfg.prunes
    # ``p`` = spike probability per step, set once per presentation (not recomputed every step
    # from the TimedArray): the threshold then only reads p, and skips black pixels at once.
    inp_eqs = "\n".join(x for x in ("p : 1\nsample : 1 (linked)\nboosts : 1 (linked)\nn_valid : 1 (linked)",
                                     inp_m.equations, rule.pre_trace if learning else "", "x_int : 1" if prune else "")
                        if x.strip())
    inputs = b2.NeuronGroup(
        n_in, inp_eqs, threshold=inp_m.threshold,
        reset=inp_m.reset_code(False, rule.pre_trace_reset if learning else "") or None,
        refractory=inp_m.refractoriness,
        # the built-in encoding has no equations of its own: the rule's traces are integrated exactly
        method=inp_m.method if inp_m.equations.strip() else "exact", name="inputs",
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
    return inputs


def _neuron_groups(cfg, learning, exc_m, inh_m, rule, cross) -> tuple[b2.NeuronGroup, b2.NeuronGroup]:
    """The excitatory neurons (with the rules' postsynaptic traces) and their inhibitory partners."""
    n_e = cfg.n_neurons
    exc_extra = (rule.post_trace + "\nwsum : 1") if learning else ""
    exc_reset = rule.post_trace_reset if learning else ""
    exc_ns = {**exc_m.namespace(), **(rule.namespace() if learning else {})}
    if learning and cross is not None:
        # the cross-modal rule's presynaptic trace lives in the excitatory group (its pre side);
        # its post traces, if any, are the input rule's own (config validation checks that)
        exc_extra += "\n" + cross.pre_trace
        exc_reset = "\n".join(x for x in (exc_reset, cross.pre_trace_reset) if x)
        exc_ns["tau_cross"] = cross.namespace()["tau_cross"]
    multi = len(cfg.ensemble_list()) > 1
    if multi:
        exc_extra += "\nensemble : integer (constant)"
    exc = b2.NeuronGroup(
        n_e, exc_m.eqs(learning, exc_extra), threshold=exc_m.threshold,
        reset=exc_m.reset_code(learning, exc_reset),
        refractory=exc_m.refractory, method=exc_m.method, name="excitatory", namespace=exc_ns,
    )
    inh = b2.NeuronGroup(
        n_e, inh_m.eqs(False, "ensemble : integer (constant)" if multi else ""), threshold=inh_m.threshold,
        reset=inh_m.reset_code(False), refractory=inh_m.refractory, method=inh_m.method, name="inhibitory",
        namespace=inh_m.namespace(),
    )
    if multi:
        exc.ensemble = inh.ensemble = ensemble_index(cfg)
    return exc, inh


def _input_synapses(cfg, learning, rule, inputs, exc, g_exc: str, pres_clock) -> b2.Synapses:
    """Input -> E: the plastic projection (rule, pruning mask, normalisation, delays)."""
    prune = learning and cfg.prunes
    # ``d`` holds the conduction delays as an ordinary variable so it can be set per run;
    # the simulator copies it into the pathway's delay (see Simulator)
    delay_var = "\nd : second (constant)" if cfg.delay_max > 0 else ""
    if learning:
        w = rule.weight
        syn_model = f"{w} : 1\nwsum_post = {w} : 1 (summed)" + (f"\n{rule.synapse}" if rule.synapse.strip() else "")
        on_pre = f"{g_exc}_post += {w}\n" + rule.on_pre
        on_post = rule.on_post or None
        if prune:
            # Invariant: w == 0 wherever mask == 0 (w: the rule's weight) (the simulator zeroes pruned weights before a run).
            # A zero weight transmits nothing, so ``ge_post += w`` needs no mask. Every update that
            # can raise a weight is followed by ``w *= mask``: the built-in rules' pre-spike updates
            # are depressions clipped at 0 (a zero weight stays zero), so only theirs is skipped.
            syn_model += "\nmask : 1\nc : 1"
            if rule.on_pre and not _pre_update_only_depresses(rule):
                on_pre += f"\n{w} = {w} * mask"
            on_post = (rule.on_post + "\n" if rule.on_post else "") + f"{w} = {w} * mask\nc += x_in_pre"
    else:
        syn_model, on_pre, on_post = "w : 1", f"{g_exc}_post += w", None
    syn_model += delay_var
    syn_input = b2.Synapses(inputs, exc, syn_model, on_pre=on_pre, on_post=on_post,
                            name="input_exc", namespace=rule.namespace() if learning else {})
    pre_idx, post_idx = input_connectivity(cfg)
    syn_input.connect(i=pre_idx, j=post_idx)
    if learning and cfg.norm_total > 0:
        # compute the sum once per presentation, then normalise before the thresholds
        syn_input.summed_updaters["wsum_post"]._clock = pres_clock
        syn_input.run_regularly(f"{rule.weight} = clip({rule.weight} * norm_total / (wsum_post + 1e-12), 0, wmax)",
                                clock=pres_clock,
                                when="before_thresholds", name="normalise_weights")
        syn_input.namespace["norm_total"] = cfg.norm_total
    return syn_input


def _inhibition(cfg, learning, exc_m, exc, inh) -> tuple[b2.Synapses, b2.Synapses]:
    """E -> I one to one, and I -> E to every other neuron of the ensemble (fixed or plastic)."""
    syn_ei = b2.Synapses(exc, inh, on_pre="ge_post += w_ei", name="exc_inh", namespace={"w_ei": cfg.w_ei})
    syn_ei.connect(j="i")
    g_inh = exc_m.role("inhibitory_input")
    inh_rule = cfg.inhibitory_plasticity()
    if inh_rule is None:     # fixed weights: one constant, no per-synapse variable
        syn_ie = b2.Synapses(inh, exc, on_pre=f"{g_inh}_post += w_ie", name="inh_exc", namespace={"w_ie": cfg.w_ie})
    elif learning:
        w = inh_rule.weight
        syn_ie = b2.Synapses(inh, exc, f"{w} : 1\n" + inh_rule.synapse, on_pre=f"{g_inh}_post += {w}\n" + inh_rule.on_pre,
                             on_post=inh_rule.on_post or None, name="inh_exc", namespace=inh_rule.namespace())
    else:
        syn_ie = b2.Synapses(inh, exc, "w : 1", on_pre=f"{g_inh}_post += w", name="inh_exc")
    # lateral inhibition stays inside an ensemble: ensembles compete only within themselves
    syn_ie.connect(condition="i != j and ensemble_pre == ensemble_post" if len(cfg.ensemble_list()) > 1 else "i != j")
    return syn_ei, syn_ie


def _cross_modal_synapses(cfg, learning, cross, exc, g_exc: str) -> b2.Synapses | None:
    """E -> E between ensembles. They only excite (like the input synapses; weights clipped to
    [0, wmax]) and are not normalised; they learn with their own rule and parameters."""
    if cross is None:
        return None
    if learning:
        w = cross.weight
        c_model, c_pre, c_post = f"{w} : 1", f"{g_exc}_post += {w}\n" + cross.on_pre, cross.on_post or None
    else:
        c_model, c_pre, c_post = "w : 1", f"{g_exc}_post += w", None
    syn_cross = b2.Synapses(exc, exc, c_model, on_pre=c_pre, on_post=c_post, name="cross_modal",
                            namespace=cross.namespace() if learning else {})
    ci, cj = cross_connectivity(cfg)
    syn_cross.connect(i=ci, j=cj)
    return syn_cross
