"""Each STDP rule, driven by hand-placed spikes, changes the weight by the analytic amount."""
import math

import brian2 as b2
import pytest

from stdp_toolkit.errors import UserError
from stdp_toolkit.models import RULES, get_rule

DT = 0.5  # ms


def run_pair(rule, pre_ms, post_ms, w0=0.5, t_end=60.0):
    """One synapse; the pre/post neurons spike exactly at the given times (ms).

    The trace equations and resets are the rule's own; traces are integrated exactly, so the
    expected values are plain exponentials.
    """
    b2.start_scope()
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = DT * b2.ms

    def group(times, eqs, reset, name):
        steps = [int(round(t / DT)) for t in times] or [-1]
        cond = " or ".join(f"timestep(t, dt) == {s}" for s in steps)
        return b2.NeuronGroup(1, eqs + "\nge : 1", threshold=cond, reset=reset or None, method="exact",
                              name=name, namespace=rule.namespace())

    pre = group(pre_ms, rule.pre_trace, rule.pre_trace_reset, "pre")
    post = group(post_ms, rule.post_trace, rule.post_trace_reset, "post")
    syn = b2.Synapses(pre, post, "w : 1\n" + rule.synapse, on_pre="ge_post += w\n" + rule.on_pre, on_post=rule.on_post or None,
                      namespace=rule.namespace())
    syn.connect()
    syn.w = w0
    b2.run(t_end * b2.ms, namespace={})
    return float(syn.w[0]), float(post.ge[0])


def decay(dt_ms, tau_ms):
    return math.exp(-dt_ms / tau_ms)


def test_dc_trace_rule_pairing_and_triplet():
    rule = get_rule("dc_trace")
    p = rule.params
    # pre at 10 ms, posts at 15 and 25 ms: potentiation only at the second post spike, where
    # the slow post trace (value before the spike) is exp(-10/40)
    w, _ = run_pair(rule, [10], [15, 25])
    expected = 0.5 + p["nu_post"] * decay(15, p["tau_pre"]) * decay(10, p["tau_post2"])
    assert w == pytest.approx(expected, rel=1e-9)
    # post at 15 ms then pre at 20 ms: depression by the fast post trace
    w, _ = run_pair(rule, [20], [15])
    assert w == pytest.approx(0.5 - p["nu_pre"] * decay(5, p["tau_post1"]), rel=1e-9)


def test_power_law_rule():
    rule = get_rule("power_law", eta=0.05, x_tar=0.3, mu=0.5)
    w, _ = run_pair(rule, [10], [15], w0=0.36)
    assert w == pytest.approx(0.36 + 0.05 * (decay(5, 20) - 0.3) * (1 - 0.36) ** 0.5, rel=1e-9)
    # a post spike with no recent input depresses by eta * x_tar * (wmax - w)**mu
    w, _ = run_pair(rule, [], [15], w0=0.36)
    assert w == pytest.approx(0.36 - 0.05 * 0.3 * 0.64 ** 0.5, rel=1e-9)
    # the pre trace adds up (x += 1): two close pre spikes count twice
    w, _ = run_pair(rule, [10, 12], [15], w0=0.36)
    x = decay(5, 20) + decay(3, 20)
    assert w == pytest.approx(0.36 + 0.05 * (x - 0.3) * 0.64 ** 0.5, rel=1e-9)


def test_additive_and_multiplicative_rules():
    add = get_rule("additive")
    w, _ = run_pair(add, [10], [15])
    assert w == pytest.approx(0.5 + add.params["a_plus"] * decay(5, 20), rel=1e-9)
    w, _ = run_pair(add, [20], [15])
    assert w == pytest.approx(0.5 - add.params["a_minus"] * decay(5, 20), rel=1e-9)
    mul = get_rule("multiplicative")
    w, _ = run_pair(mul, [10], [15], w0=0.8)
    assert w == pytest.approx(0.8 + mul.params["a_plus"] * decay(5, 20) * 0.2, rel=1e-9)
    w, _ = run_pair(mul, [20], [15], w0=0.8)
    assert w == pytest.approx(0.8 - mul.params["a_minus"] * decay(5, 20) * 0.8, rel=1e-9)


def test_vogels_window_is_symmetric_and_a_lone_pre_spike_depresses_by_alpha():
    """Vogels et al. 2011: a pair 5 ms apart in either order changes w by eta (exp(-5/tau) - alpha),
    alpha = 2 rho0 tau; a presynaptic spike alone by -eta alpha (the target-rate term)."""
    rule = get_rule("vogels")
    p = rule.params
    alpha = 2 * p["rho0"] * p["tau_istdp"] * 1e-3
    for pre, post in (([10], [15]), ([15], [10])):
        w, _ = run_pair(rule, pre, post, w0=5.0)
        assert w == pytest.approx(5.0 + p["eta"] * (decay(5, p["tau_istdp"]) - alpha), rel=1e-9)
    w, _ = run_pair(rule, [10], [], w0=5.0)
    assert w == pytest.approx(5.0 - p["eta"] * alpha, rel=1e-9)


@pytest.mark.parametrize("name", sorted(RULES))
def test_weights_stay_in_bounds_and_conductance_is_delivered(name):
    rule = get_rule(name, **({"eta": 5.0} if name == "power_law" else {}))
    w, ge = run_pair(rule, [10], [10.5, 11, 11.5, 12, 12.5, 13], w0=0.99, t_end=14)
    assert 0.0 <= w <= rule.params["wmax"]
    assert ge > 0  # the pre spike delivered its conductance


def test_unknown_rule_and_parameters():
    with pytest.raises(UserError, match="unknown STDP rule 'hebb'"):
        get_rule("hebb")
    with pytest.raises(UserError, match="unknown parameter"):
        get_rule("dc_trace", eta=1.0)
    with pytest.raises(UserError, match="time constant"):
        get_rule("power_law", tau_pre=-1.0)
