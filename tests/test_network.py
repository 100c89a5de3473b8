"""Network mechanics on small networks: θ, normalisation, repeats of silent samples, state carry-over."""
import platform

import brian2 as b2
import numpy as np
import pytest

from helpers import digits, network, small
from stdp_toolkit.errors import UserError
from stdp_toolkit.models import EXCITATORY
from stdp_toolkit.network.config import Config
from stdp_toolkit.backends import Simulator
from stdp_toolkit.network.state import initial_state


def excitatory_neuron(learning, drive=5.0, t_ms=200):
    b2.start_scope()
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.5 * b2.ms
    m = EXCITATORY
    g = b2.NeuronGroup(1, m.eqs(learning), threshold=m.threshold, reset=m.reset_code(learning),
                       refractory=m.refractory, method=m.method, namespace=m.namespace())
    g.v = -65 * b2.mV
    g.theta = 20 * b2.mV
    g.run_regularly(f"ge = {drive}", dt=b2.defaultclock.dt)  # strong constant excitation
    mon = b2.SpikeMonitor(g)
    b2.run(t_ms * b2.ms, namespace={})
    return mon.num_spikes, float(g.theta[0] / b2.mV)


def test_theta_grows_per_spike_while_learning_and_is_frozen_otherwise():
    n, theta = excitatory_neuron(learning=True)
    assert n > 5
    # +0.05 mV per spike; the decay (tau 1e7 ms) is < 1e-5 relative over 200 ms
    assert theta == pytest.approx(20 + 0.05 * n, abs=1e-3)
    n_frozen, theta_frozen = excitatory_neuron(learning=False)
    assert n_frozen >= n and theta_frozen == 20.0


def test_normalisation_sums_each_neuron_to_78(backend):
    cfg = small(rule_params={"nu_pre": 0.0, "nu_post": 0.0})
    r = network(cfg, backend, learning=True).run(digits(2), initial_state(cfg, 3), seed=1)
    sums = r.state["w"].reshape(784, cfg.n_neurons).sum(axis=0)
    np.testing.assert_allclose(sums, 78.0, rtol=1e-9)


def test_silent_sample_is_shown_again_brighter_then_skipped(backend):
    cfg = small()
    x = digits(3)
    x[0] = 0.0  # a blank image never makes 5 spikes
    r = network(cfg, backend, learning=False).run(x, initial_state(cfg, 3), seed=1)
    # blank sample: the first presentation + max_boosts repeats, then the counter moves on
    assert list(r.presentation_sample[:4]) == [0, 0, 0, 0]
    assert r.boosts[0] == cfg.max_boosts and r.counts[0].sum() == 0
    assert r.consumed >= 2 and r.counts[1].sum() >= 1
    assert r.presentation_sample[4] == 1


def test_frozen_network_keeps_weights_and_theta(backend):
    cfg = small()
    st = initial_state(cfg, 0)
    r = network(cfg, backend, learning=False).run(digits(2), st, seed=0)
    np.testing.assert_array_equal(r.state["w"], st["w"])
    np.testing.assert_array_equal(r.state["theta"], st["theta"])


def test_simulator_returns_the_backends_class_behind_one_interface():
    from stdp_toolkit.backends import backend_class
    from stdp_toolkit.backends.runtime import RuntimeSimulator
    from stdp_toolkit.backends.standalone import StandaloneSimulator

    sim = Simulator(small(), learning=False, backend="runtime", codegen_target="numpy")
    assert type(sim) is RuntimeSimulator and sim.backend == "runtime" and not sim.compiled
    assert backend_class("standalone") is StandaloneSimulator and StandaloneSimulator.compiled
    with pytest.raises(UserError, match="RuntimeSimulator runs the 'runtime' backend, not 'standalone'"):
        RuntimeSimulator(small(), learning=False, backend="standalone")


def test_bad_inputs():
    with pytest.raises(UserError, match="backend"):
        Simulator(small(), learning=False, backend="gpu")
    with pytest.raises(UserError, match="n_neurons must be an integer > 0 and"):
        Config(n_neurons=-3).validate()
    with pytest.raises(UserError, match="unknown setting"):
        Config.from_dict({"neurons": 3})
    with pytest.raises(UserError, match="unknown parameter"):
        Config(excitatory={"tau": 3}).validate()


def _one_step(model, v0, ge, gi):
    """v after one 0.5 ms step from v0 (mV) with conductances ge, gi at the start of the step."""
    b2.start_scope()
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.5 * b2.ms
    g = b2.NeuronGroup(1, model.eqs(False), threshold="v > 1*volt", reset="", refractory=model.refractory,
                       method=model.method, namespace=model.namespace())
    g.v, g.ge, g.gi, g.theta = v0 * b2.mV, ge, gi, 20 * b2.mV
    b2.run(0.5 * b2.ms, namespace={})
    return float(g.v[0] / b2.mV)


@pytest.mark.parametrize("ge, gi", [(0.0, 0.0), (2.0, 0.5), (0.0, 1000.0), (300.0, 300.0)])
def test_implicit_euler_is_one_backward_euler_step(ge, gi):
    p = EXCITATORY.params
    k = 0.5 / p["tau_m"]
    v0 = -60.0
    expected = (v0 + k * (p["v_rest"] + ge * p["E_exc"] + gi * p["E_inh"])) / (1 + k * (1 + ge + gi))
    v = _one_step(Config(method="implicit_euler").excitatory_model(), v0, ge, gi)
    assert v == pytest.approx(expected, abs=1e-9)
    assert p["E_inh"] <= v <= p["E_exc"]          # never leaves the reversal potentials
    forward = _one_step(EXCITATORY, v0, ge, gi)
    forward_expected = v0 + k * ((p["v_rest"] - v0) + ge * (p["E_exc"] - v0) + gi * (p["E_inh"] - v0))
    assert forward == pytest.approx(forward_expected, abs=1e-9)
    if gi == 1000.0:
        assert forward < p["E_inh"] - 100        # forward Euler overshoots: the runaway


# ---- subnormal floats (backends/fpenv.py) ------------------------------------------------------------
SUBNORMAL = 5e-324
TINY = np.finfo(float).tiny


def _subnormals(state):
    return {k: int(np.sum((v != 0) & (np.abs(v) < TINY))) for k, v in state.items() if np.sum((v != 0) & (np.abs(v) < TINY))}


def test_flush_denormals_is_on_inside_the_block_and_restored_after():
    from stdp_toolkit.backends import fpenv

    small_value = np.array([1e-300])
    with fpenv.flush_denormals() as active:
        inside = small_value * 1e-20
    after = small_value * 1e-20
    assert after[0] != 0.0                      # the process's own arithmetic is untouched afterwards
    if platform.system() == "Linux" and platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64"):
        assert active and inside[0] == 0.0
    else:
        assert not active


def test_network_zeroes_subnormal_state_once_per_presentation():
    """Without FTZ (numpy, outside flush_denormals) a decaying trace sticks at a subnormal value."""
    from stdp_toolkit.network.builder import zero_subnormals

    b2.start_scope()
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.5 * b2.ms
    eqs = "dx/dt = -x / (20*ms) : 1\ndv/dt = -v / (20*ms) : volt\nc : 1"
    stuck, g = (b2.NeuronGroup(3, eqs, method="euler") for _ in range(2))
    for group in (stuck, g):
        group.x = [SUBNORMAL, 0.5, 0.0]
        group.v = [SUBNORMAL, -0.065, 0.0] * b2.volt
        group.c = SUBNORMAL  # not a differential equation: left alone
    zero_subnormals(g, b2.Clock(dt=5 * b2.ms))
    b2.Network(stuck, g).run(10 * b2.ms, namespace={})
    assert stuck.x[0] == SUBNORMAL             # forward Euler: (dt/tau) x rounds to 0, x never decays
    assert g.x[0] == 0.0 and g.v[0] == 0.0 and g.c[0] == SUBNORMAL
    assert g.x[1] == stuck.x[1] and float(g.v[1]) == float(stuck.v[1]) and g.x[2] == 0.0


def test_every_backend_runs_with_subnormals_flushed(backend):
    """Fails if a build runs without flush-to-zero / denormals-are-zero (153.7 instead of 14.9 ms per
    training sample on Intel Xeon): the program reports its floating-point mode, and no subnormal
    value survives a chunk, even one fed in as state."""
    cfg = small()
    state = initial_state(cfg, 1)
    for key in ("ge_exc", "gi_exc", "gi_inh"):
        state[key] = np.full(cfg.n_neurons, SUBNORMAL)
    sim = network(cfg, backend, learning=True)
    r = sim.run(digits(2), state, seed=1)
    assert r.consumed == 2
    if platform.system() == "Linux" and platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64"):
        assert sim.flushes_subnormals is True
    assert _subnormals(r.state) == {}
