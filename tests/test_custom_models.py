"""Models written by the user, as Brian2's documentation writes them (rules and neurons): they build
on both backends, carry every variable from chunk to chunk, are saved with the run, and are checked by their code."""
import os
import subprocess
import sys

import brian2 as b2
import numpy as np
import pytest
import yaml

import stdp_toolkit as st
from stdp_toolkit import experiment
from stdp_toolkit.backends import Simulator
from stdp_toolkit.backends.standalone import StandaloneSimulator
from stdp_toolkit.network.state import fill_state, initial_state

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "networks", "examples", "brian2-docs-stdp.yaml")


def brian2_docs_rule(**params):
    """The rule of Brian2's examples/synapses/STDP.py (per-synapse event-driven traces)."""
    rule = yaml.safe_load(open(EXAMPLE))["rule"]
    rule["params"] = {**rule["params"], **params}
    return rule


def small(rule, **kw):
    return st.Config(name="custom", n_neurons=12, chunk_presentations=20, label_samples=20, rule=rule, **kw).validate()


def split_run_equals_one_run(cfg, x, y, tmp_path, keys):
    """A run stopped after its first chunk and resumed ends bit for bit as one uninterrupted run
    (``keys`` of the state compared; both are trained in the same number of samples). Returns that run."""
    whole = experiment.train(cfg, x, y, str(tmp_path / "whole"), seed=1, quiet=True)
    experiment.train(cfg, x, y, str(tmp_path / "split"), seed=1, quiet=True, stop_after_chunks=1)
    split = experiment.train(cfg, x, y, str(tmp_path / "split"), seed=1, quiet=True)
    assert whole.samples_seen == split.samples_seen
    for key in keys:
        np.testing.assert_array_equal(whole.state[key], split.state[key], err_msg=key)
    return whole


def single_neurons(name: str, n: int):
    """``n`` excitatory neurons of the built-in model ``name`` (θ fixed: theta_plus 0) in runtime mode,
    with the model's own equations, threshold, reset and parameters; returns the group and its namespace."""
    model = st.Config(neuron=name, excitatory={"theta_plus": 0.0}).validate().excitatory_model()
    b2.start_scope()
    b2.set_device("runtime")
    ns = model.namespace()
    group = b2.NeuronGroup(n, model.eqs(learning=True), threshold=model.threshold, reset=model.reset_code(True),
                           refractory=model.refractory, method=model.method, namespace=ns)
    group.theta = ns["theta_offset"]
    return group, ns


def test_event_driven_rule_changes_a_weight_by_the_textbook_amount():
    """One presynaptic spike at 0 ms and one postsynaptic spike at 10 ms: dw = Apre exp(-10/taupre),
    computed by the rule's own Brian2 code through PlasticityRule.namespace (units applied)."""
    rule = st.get_rule(brian2_docs_rule(Apre=0.01, Apost=-0.0105))
    b2.start_scope()
    b2.set_device("runtime")
    pre = b2.SpikeGeneratorGroup(1, [0], [0] * b2.ms)
    post = b2.SpikeGeneratorGroup(1, [0], [10] * b2.ms)
    syn = b2.Synapses(pre, post, "w : 1\n" + rule.synapse, on_pre=rule.on_pre, on_post=rule.on_post,
                      namespace=rule.namespace())
    syn.connect()
    syn.w = 0.5
    b2.run(20 * b2.ms)
    assert syn.w[0] == pytest.approx(0.5 + 0.01 * np.exp(-10 / 20), rel=1e-9)


@pytest.mark.slow
def test_written_out_rule_builds_the_same_network_on_both_backends(mnist):
    """Same stimuli, weights and seed: runtime (cython) and C++ standalone give the same spikes and
    the same per-synapse traces; event-driven update times are carried relative to the chunk end."""
    cfg = small(brian2_docs_rule(Apre=0.01, Apost=-0.0105))
    x = mnist[0][:8].reshape(8, -1) / 255.0
    state = fill_state(cfg, initial_state(cfg, 3), True)
    results = {b: Simulator(cfg, learning=True, backend=b).run(x, state, seed=5) for b in ("runtime", "standalone")}
    rt, sa = results["runtime"], results["standalone"]
    assert rt.consumed == sa.consumed == 8
    assert rt.counts.sum() > 0
    # the two backends draw their own random streams: equal statistics, here equal values too
    assert abs(rt.counts.sum(1).mean() - sa.counts.sum(1).mean()) <= max(1.0, 0.2 * sa.counts.sum(1).mean())
    for key in ("apre", "apost", "lastupdate"):
        assert key in sa.state and sa.state[key].shape == (cfg.n_input_synapses,)
        assert np.all(sa.state["lastupdate"] <= 0)  # relative to where the chunk stopped
    assert np.count_nonzero(sa.state["apre"]) > 0
    assert np.corrcoef((rt.state["w"] - state["w"]), (sa.state["w"] - state["w"]))[0, 1] > 0.8


@pytest.mark.slow
def test_the_triplet_rule_learns_alike_on_both_backends(mnist):
    """Same stimuli, weights and seed: equal spike statistics, and weight changes that agree."""
    cfg = small("triplet", rule_params={"A3_plus": 0.05, "A2_minus": 0.01})
    x = mnist[0][:8].reshape(8, -1) / 255.0
    state = fill_state(cfg, initial_state(cfg, 3), True)
    rt, sa = (Simulator(cfg, learning=True, backend=b).run(x, state, seed=5) for b in ("runtime", "standalone"))
    assert rt.consumed == sa.consumed == 8 and sa.counts.sum() > 0
    assert abs(rt.counts.sum(1).mean() - sa.counts.sum(1).mean()) <= max(1.0, 0.2 * sa.counts.sum(1).mean())
    for key in ("r1", "r2", "o1", "o2"):
        assert np.any(sa.state[key] > 0), key
    assert np.corrcoef(rt.state["w"] - state["w"], sa.state["w"] - state["w"])[0, 1] > 0.8


@pytest.mark.slow
def test_a_run_with_a_written_out_rule_resumes_bit_for_bit(mnist, tmp_path):
    """Interrupted after one chunk and resumed, it ends exactly as one uninterrupted run: every
    variable of the rule (apre, apost and Brian2's lastupdate) crosses the chunk boundary."""
    cfg = small(brian2_docs_rule(Apre=0.001, Apost=-0.00105))
    x, y = mnist[0][:50], mnist[1][:50]
    whole = split_run_equals_one_run(cfg, x, y, tmp_path, ("w", "apre", "apost", "lastupdate", "theta"))
    assert whole.samples_seen == 50
    saved = experiment.load(str(tmp_path / "whole"))
    assert saved.cfg.rule["name"] == "brian2_docs" and saved.models["rule"]["synapse"] == cfg.plasticity().synapse


@pytest.mark.slow
def test_resume_after_a_rule_edit_never_returns_the_old_weights(mnist, tmp_path, monkeypatch):
    """A built-in rule edited in place (same name, same config) is another model: resume stops
    with the change named instead of returning the finished run's weights."""
    cfg = small("dc_trace")
    x, y = mnist[0][:20], mnist[1][:20]
    experiment.train(cfg, x, y, str(tmp_path), seed=0, quiet=True)
    edited = st.RULES["dc_trace"].__class__(**{**st.RULES["dc_trace"].to_dict(),
                                              "on_post": "w = clip(w + 2 * nu_post * x_in_pre * x_out2_post, 0, wmax)"})
    monkeypatch.setitem(st.RULES, "dc_trace", edited)
    with pytest.raises(st.UserError, match="rule model 'dc_trace' on_post changed"):
        experiment.train(cfg, x, y, str(tmp_path), seed=0, quiet=True)
    # a written-out rule that changes is caught the same way
    rule = brian2_docs_rule()
    experiment.train(small(rule), x, y, str(tmp_path / "b"), seed=0, quiet=True)
    rule["on_post"] = rule["on_post"].replace("apost += Apost", "apost += 2 * Apost")
    with pytest.raises(st.UserError, match=r"differs from this one \(config 'rule.on_post'"):
        experiment.train(small(rule), x, y, str(tmp_path / "b"), seed=0, quiet=True)


def test_a_rule_names_its_own_weight_variable(mnist):
    """The weight's role is declared by the rule: Brian2's documentation rule written with ``g`` for
    its weight trains exactly as with ``w`` (the same spikes and weights, under the state key w)."""
    from brian2.utils.stringtools import word_substitute

    rule = brian2_docs_rule(Apre=0.01, Apost=-0.0105)
    renamed = {**rule, "weight": "g", **{f: word_substitute(rule[f], {"w": "g"}) for f in ("on_pre", "on_post")}}
    x = mnist[0][:3].reshape(3, -1) / 255.0
    results = []
    for r in (rule, renamed):
        cfg = small(r)
        results.append(Simulator(cfg, learning=True, backend="runtime").run(
            x, fill_state(cfg, initial_state(cfg, 3), True), seed=5))
    assert results[0].counts.sum() > 0
    np.testing.assert_array_equal(results[0].spike_t, results[1].spike_t)
    np.testing.assert_array_equal(results[0].state["w"], results[1].state["w"])
    with pytest.raises(st.UserError, match="weight must be the name"):
        small({**rule, "weight": "g h"})


@pytest.mark.parametrize("change, words", [
    (lambda r: r.update(on_pre=r["on_pre"] + "\nw = w + zzz"), ['does not build', '"zzz" could not be resolved']),
    (lambda r: r.update(synapse="dapre/dt = -apre / taupre"), ["not valid Brian2 equations"]),
    (lambda r: r["units"].update(taupre="mV"), ["does not build", "units"]),
    (lambda r: r.update(synapse=r["synapse"] + "w : 1\n"), ["'w'", "rename it"]),
    (lambda r: r["units"].update(taupre="hours"), ["unknown unit"]),
    (lambda r: r.update(name=""), ["needs a name"]),
    (lambda r: r.update(on_post=3), ["must be text"]),
    (lambda r: r.update(colour="red"), ["unknown field"]),
])
def test_a_bad_rule_is_one_line_naming_the_problem(change, words):
    rule = brian2_docs_rule()
    change(rule)
    with pytest.raises(st.UserError) as err:
        Simulator(small(rule), learning=True, backend="runtime")
    for w in words:
        assert w in str(err.value), err.value
    assert "\n" not in str(err.value)


def test_parameters_take_brian2_quantities_and_refuse_a_wrong_dimension():
    cfg = st.Config(excitatory={"tau_m": 50 * b2.ms}, rule_params={"tau_pre": 0.02 * b2.second}).validate()
    assert cfg.excitatory == {"tau_m": 50.0} and cfg.plasticity().params["tau_pre"] == 20.0
    with pytest.raises(st.UserError, match=r"excitatory.tau_m = 50. mV has the wrong unit: it is a quantity in ms"):
        st.Config(excitatory={"tau_m": 50 * b2.mV}).validate()


def test_a_retired_simulator_and_raw_pixels_are_refused_with_the_fix():
    cfg = small("dc_trace")
    first = Simulator(cfg, learning=False, backend="runtime", n_presentations=2, codegen_target="numpy")
    Simulator(cfg, learning=False, backend="runtime", n_presentations=2, codegen_target="numpy")
    with pytest.raises(st.UserError, match="retired when another network was built"):
        first.run(np.zeros((1, 784)), initial_state(cfg, 0), seed=0)
    second = Simulator(cfg, learning=False, backend="runtime", n_presentations=2, codegen_target="numpy")
    with pytest.raises(st.UserError, match="divide 0-255 images by 255"):
        second.run(np.full((1, 784), 255.0), initial_state(cfg, 0), seed=0)


def test_the_flat_api_exports_what_a_notebook_needs():
    for name in ("Config", "PlasticityRule", "NeuronModel", "train", "label", "evaluate", "load", "Simulator",
                 "load_digits", "plots", "UserError"):
        assert getattr(st, name) is not None, name
    with pytest.raises(AttributeError):
        st.no_such_thing  # noqa: B018


def _pair_protocol(rule, pre_ms, post_ms, w0=0.5):
    """Weight after presynaptic spikes at ``pre_ms`` and postsynaptic ones at ``post_ms``, with the
    rule's group traces in the two groups exactly as the network places them (zero delay)."""
    b2.start_scope()
    b2.set_device("runtime")
    ns = rule.namespace()
    pre = b2.NeuronGroup(1, rule.pre_trace + "\nfire : 1", threshold="fire > 0", reset=rule.pre_trace_reset,
                         method="exact", namespace=ns)
    post = b2.NeuronGroup(1, rule.post_trace + "\nfire : 1", threshold="fire > 0", reset=rule.post_trace_reset,
                          method="exact", namespace=ns)
    steps = int(max(pre_ms + post_ms) / 0.1) + 10
    drive = lambda times: b2.TimedArray(np.isin(np.arange(steps), np.round(np.asarray(times) / 0.1)).astype(float),
                                        dt=0.1 * b2.ms)
    pre.run_regularly("fire = pre_drive(t)", when="before_thresholds")
    post.run_regularly("fire = post_drive(t)", when="before_thresholds")
    pre.namespace.update(pre_drive=drive(pre_ms))
    post.namespace.update(post_drive=drive(post_ms))
    syn = b2.Synapses(pre, post, "w : 1", on_pre=rule.on_pre, on_post=rule.on_post, namespace=ns)
    syn.connect()
    syn.w = w0
    net = b2.Network(pre, post, syn)
    net.run(steps * 0.1 * b2.ms)
    return float(syn.w[0]) - w0


@pytest.mark.parametrize("name", ["triplet", "triplet_nearest"])
def test_triplet_rule_gives_the_textbook_weight_changes(name):
    """Pfister & Gerstner 2006, eqs. 3-4: a pre-post pair at +10 ms potentiates by A2+ exp(-10/tau+);
    a second post spike 10 ms later adds r1 (A2+ + A3+ o2), where o2 = exp(-10/tau_y) is the slow post
    trace just before it; a post-pre pair depresses by A2- exp(-10/tau-)."""
    rule = st.get_rule(name, A2_plus=1e-3)
    p = rule.params
    one = _pair_protocol(rule, [1.0], [11.0])
    assert one == pytest.approx(p["A2_plus"] * np.exp(-10 / p["tau_plus"]), rel=1e-3)
    two = _pair_protocol(rule, [1.0], [11.0, 21.0])
    second = np.exp(-20 / p["tau_plus"]) * (p["A2_plus"] + p["A3_plus"] * np.exp(-10 / p["tau_y"]))
    assert two == pytest.approx(one + second, rel=1e-3)
    dep = _pair_protocol(rule, [11.0], [1.0])
    assert dep == pytest.approx(-p["A2_minus"] * np.exp(-10 / p["tau_minus"]), rel=1e-3)
    # all-to-all sums two earlier pre spikes in r1; nearest-spike keeps only the last one
    both = _pair_protocol(rule, [1.0, 6.0], [11.0])
    r1 = np.exp(-5 / p["tau_plus"]) + (0 if name == "triplet_nearest" else np.exp(-10 / p["tau_plus"]))
    assert both == pytest.approx(r1 * p["A2_plus"], rel=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["runtime", "standalone"])
def test_train_records_traces_and_calls_back_after_every_chunk(mnist, tmp_path, backend):
    """v and θ of two neurons, recorded inside the compiled program too, reach a per-chunk callback
    with the chunk's spikes; θ only rises at that neuron's spikes while learning."""
    cfg = small("triplet")
    x, y = mnist[0][:30], mnist[1][:30]
    seen = []
    run = st.train(cfg, x, y, str(tmp_path), backend=backend, quiet=True, traces=st.Traces(("v", "theta"), (0, 3)),
                   on_chunk=lambda run, r: seen.append((run.samples_seen, r)))
    assert [s for s, _ in seen][-1] == run.samples_seen == 30 and len(seen) >= 2
    r = seen[0][1]
    steps = len(r.traces["t"])
    assert r.traces["v"].shape == r.traces["theta"].shape == (2, steps) and steps > 1000
    np.testing.assert_allclose(np.diff(r.traces["t"]), cfg.dt * 1e-3, rtol=1e-6)
    assert -0.2 < r.traces["v"].min() and r.traces["v"].max() < 0.0           # volts, below the reset peak
    rises = np.diff(r.traces["theta"][0]) > 1e-9
    assert rises.sum() == np.count_nonzero(r.spike_i == 0)                     # one θ step per spike of neuron 0


ADEX_EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "networks", "examples", "adex.yaml")


def test_adex_adds_b_to_its_adaptation_current_at_every_spike():
    """Brette & Gerstner 2005: each spike resets v to V_reset and adds b to w_ad, which then relaxes
    towards a (v - EL) with tau_w (checked with the model's own equations, driven by a fixed ge)."""
    g, ns = single_neurons("adex", 1)
    g.v, g.ge = ns["EL"], 2.0
    g.run_regularly("ge = 2.0", when="start")                      # a constant drive
    mon = b2.StateMonitor(g, ["w_ad", "v"], record=0)
    spikes = b2.SpikeMonitor(g)
    b2.run(300 * b2.ms)
    steps = np.round(np.asarray(spikes.t / b2.defaultclock.dt)).astype(int)
    assert len(steps) >= 3
    w = np.asarray(mon.w_ad[0])
    jumps = w[steps + 1] - w[steps]                                  # across the reset
    np.testing.assert_allclose(jumps, float(ns["b"]), rtol=0.02)
    # and each reset puts v at V_reset
    np.testing.assert_allclose(np.asarray(mon.v[0])[steps + 1], float(ns["V_reset"]), atol=2e-3)


def test_izhikevich_rests_at_vr_and_resets_to_c_adding_d():
    """Izhikevich 2007 (ch. 8): without input v = vr, u = 0 is a fixed point; under a constant drive
    each spike is cut off at vpeak, and the reset sets v = c and adds d to u."""
    g, ns = single_neurons("izhikevich", 2)
    g.v = ns["vr"]
    g.run_regularly("ge = 3.0 * i", when="start")                 # neuron 0 has no input, neuron 1 a constant one
    mon = b2.StateMonitor(g, ["u", "v"], record=True)                        # at the start of each step
    peak = b2.StateMonitor(g, "v", record=1, when="after_thresholds")      # after the step's update
    spikes = b2.SpikeMonitor(g)
    b2.run(300 * b2.ms)
    assert np.ptp(np.asarray(mon.v[0])) == 0 and np.all(np.asarray(mon.u[0]) == 0)
    steps = np.round(np.asarray(spikes.t[spikes.i == 1] / b2.defaultclock.dt)).astype(int)
    assert len(steps) >= 3 and np.all(np.asarray(peak.v[0])[steps] > float(ns["vpeak"]))
    assert np.all(np.delete(np.asarray(peak.v[0]), steps) <= float(ns["vpeak"]))
    u = np.asarray(mon.u[1])
    np.testing.assert_allclose(u[steps + 1] - u[steps], float(ns["d"]), rtol=0.05)
    np.testing.assert_allclose(np.asarray(mon.v[1])[steps + 1], float(ns["c"]), atol=1e-3)


@pytest.mark.slow
def test_adex_learns_on_both_backends_and_its_adaptation_crosses_chunks(mnist, tmp_path):
    """The same written-out neuron on runtime and standalone: equal statistics (here equal values);
    its adaptation current is carried, so a resumed run ends bit for bit as one uninterrupted run."""
    data = yaml.safe_load(open(ADEX_EXAMPLE))
    cfg = st.Config(name="adex", n_neurons=12, chunk_presentations=20, label_samples=20,
                    neuron=data["neuron"]).validate()
    x = mnist[0][:10].reshape(10, -1) / 255.0
    state = fill_state(cfg, initial_state(cfg, 2), True)
    rt, sa = (Simulator(cfg, learning=True, backend=b).run(x, state, seed=4) for b in ("runtime", "standalone"))
    assert rt.consumed == sa.consumed > 0
    mean_rt, mean_sa = rt.counts.sum(1).mean(), sa.counts.sum(1).mean()
    assert 1 <= mean_sa < 100 and abs(mean_rt - mean_sa) <= max(1.0, 0.2 * mean_sa)
    assert np.any(sa.state["w_ad_exc"] > 0)

    xs, ys = mnist[0][:45], mnist[1][:45]
    split_run_equals_one_run(cfg, xs, ys, tmp_path, ("w", "w_ad_exc", "v_exc", "theta"))
    assert experiment.load(str(tmp_path / "whole")).cfg.excitatory_model().name == "my_adex"


@pytest.mark.parametrize("change, words", [
    (lambda n: n.update(equations=n["equations"].replace("dge/dt = -ge / tau_ge : 1", "")), ["'ge'", "excitatory_input"]),
    (lambda n: n.update(roles={"excitatory_input": "g_e"}), ["'g_e'"]),
    (lambda n: n.update(roles={"dopamine": "d"}), ["unknown role"]),
    (lambda n: n["units"].update(C="mF"), ["unknown unit"]),
    (lambda n: n.update(threshold="v > nowhere"), ["neuron 'my_adex' does not build", "nowhere"]),
    (lambda n: n["units"].update(tau_w="mV"), ["does not build", "units"]),
    (lambda n: n.update(initial={"v": "EL +"}), ["initial value of v"]),
])
def test_a_bad_neuron_is_one_line_naming_the_problem(change, words):
    neuron = yaml.safe_load(open(ADEX_EXAMPLE))["neuron"]
    change(neuron)
    with pytest.raises(st.UserError) as err:
        cfg = st.Config(name="bad", n_neurons=4, chunk_presentations=2, neuron=neuron).validate()
        Simulator(cfg, learning=True, backend="runtime").run(np.zeros((1, 784)), initial_state(cfg, 0), seed=0)
    for w in words:
        assert w in str(err.value), err.value
    assert "\n" not in str(err.value)


def test_only_the_users_own_unused_objects_are_warned_about():
    """Brian2 warns about an object deleted before it ran; a toolkit network dropped unused, or one whose
    build stopped at a mistake in the user's model, stays quiet, while the user's own group still warns."""
    import gc

    from brian2.utils.logger import catch_logs

    neuron = yaml.safe_load(open(ADEX_EXAMPLE))["neuron"]
    bad = st.Config(name="bad", n_neurons=4, chunk_presentations=2, neuron={**neuron, "threshold": "v > nowhere"})
    with catch_logs() as logs:
        with pytest.raises(st.UserError):
            Simulator(bad.validate(), learning=True, backend="runtime").run(np.zeros((1, 784)),
                                                                         initial_state(bad, 0), seed=0)
        sim = Simulator(st.Config(name="ok", n_neurons=4, chunk_presentations=2).validate(), learning=False,
                        backend="runtime")
        del sim
        b2.NeuronGroup(1, "v : 1", name="users_own_group")
        gc.collect()
    unused = [msg for _, name, msg in logs if name.endswith("unused_brian_object")]
    assert len(unused) == 1 and "users_own_group" in unused[0], unused


@pytest.mark.slow
@pytest.mark.parametrize("example", [EXAMPLE, ADEX_EXAMPLE], ids=["brian2-docs-rule", "adex-neuron"])
def test_an_example_config_trains_evaluates_and_reloads_through_the_cli(tmp_path, example):
    """The written-out rule or neuron travels in the checkpoint: a fresh process evaluates the run
    from its folder alone (embedded digits; no registration step)."""
    data = yaml.safe_load(open(example))
    data.update(n_neurons=12, chunk_presentations=20, label_samples=20)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(data))
    env = {k: v for k, v in os.environ.items() if k != "STDP_DATA_DIR"}
    cli = [sys.executable, "-m", "stdp_toolkit.cli"]
    out = str(tmp_path / "run")
    done = subprocess.run(cli + ["train", str(cfg), "--train-samples", "30", "--out", out, "--quiet"], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    ev = subprocess.run(cli + ["evaluate", out, "--test-samples", "20", "--quiet"], env=env, capture_output=True,
                        text=True, timeout=900)
    assert ev.returncode == 0 and "Traceback" not in ev.stderr, ev.stderr
    assert "accuracy" in ev.stdout.lower()


def test_the_build_key_follows_the_generated_code_not_the_names():
    """A frozen network ignores every learning setting (one compiled evaluation network serves
    runs that differ only in their rule); a rule edited under its own name is another build."""
    def key(cfg, learning):
        s = type("S", (), {})()
        s.cfg, s.learning, s.n_presentations, s.traces = cfg.validate(), learning, 100, None
        return StandaloneSimulator._key(s, False, False)

    a, b = st.Config(n_neurons=10), st.Config(n_neurons=10, rule="power_law", rule_params={"eta": 0.02})
    assert key(a, False) == key(b, False) and key(a, True) != key(b, True)
    edited = {**st.RULES["dc_trace"].to_dict(), "on_post": "w = clip(w + nu_post * x_in_pre, 0, wmax)"}
    assert key(st.Config(n_neurons=10, rule=edited), True) != key(a, True)
    assert key(st.Config(n_neurons=10, neuron="adex"), False) != key(a, False)


@pytest.mark.slow
def test_inhibitory_stdp_learns_on_both_backends_and_its_weights_are_carried(mnist, tmp_path):
    """Vogels' rule on the I->E synapses: the weights move on both backends alike, a run split into
    chunks ends bit for bit as one run (weights and per-synapse traces), and evaluation uses them."""
    cfg = st.Config(name="istdp", n_neurons=12, chunk_presentations=20, label_samples=20,
                    inhibitory_rule="vogels", inhibitory_rule_params={"eta": 0.5}).validate()
    x = mnist[0][:10].reshape(10, -1) / 255.0
    state = fill_state(cfg, initial_state(cfg, 2), True)
    rt, sa = (Simulator(cfg, learning=True, backend=b).run(x, state, seed=4) for b in ("runtime", "standalone"))
    assert rt.consumed == sa.consumed > 0
    for r in (rt, sa):
        assert r.state["w_ie"].shape == (12 * 11,) and np.any(r.state["w_ie"] != cfg.w_ie)
    np.testing.assert_allclose(rt.state["w_ie"].mean(), sa.state["w_ie"].mean(), rtol=0.05)

    xs, ys = mnist[0][:45], mnist[1][:45]
    whole = split_run_equals_one_run(cfg, xs, ys, tmp_path,
                                     ("w", "w_ie", "ie_Apre", "ie_Apost", "ie_lastupdate", "theta"))
    frozen = Simulator(cfg, learning=False, backend="runtime")
    r = frozen.run(x[:2], experiment.rest_state(cfg, whole.state), seed=0)
    np.testing.assert_array_equal(np.asarray(frozen.objs.syn_ie.w[:]), whole.state["w_ie"])
    assert r.consumed == 2


def test_a_warm_start_takes_every_shared_variable_and_names_the_rest(tmp_path):
    """A warm start begins with the source run's arrays (here after a rule change: the triplet rule's
    traces start fresh, dc_trace's are left), and refuses another network size with the fix."""
    cfg = st.Config(name="src", n_neurons=6, chunk_presentations=10, label_samples=10).validate()
    source = experiment.RunState(cfg=cfg, seed=0, state=fill_state(cfg, initial_state(cfg, 7), True), samples_seen=50)
    source.state["theta"] = source.state["theta"] + 0.003
    new = cfg.replace(rule="triplet")
    state, record = experiment.warm_state(new, 1, source)
    for key in ("w", "theta", "delay", "v_exc"):
        np.testing.assert_array_equal(state[key], source.state[key], err_msg=key)
    assert {"r1", "r2", "o1", "o2"} <= set(record["fresh"]) and {"x_out1", "x_out2"} <= set(record["left"])
    assert record["source"]["samples_seen"] == 50
    with pytest.raises(st.UserError, match="n_neurons"):
        experiment.warm_state(cfg.replace(n_neurons=8), 0, source)


def test_a_warm_started_run_resumes_only_from_the_same_source(mnist, tmp_path):
    """The source's identity is saved: resuming with another source (here a run trained further) stops."""
    cfg = st.Config(name="warm", n_neurons=6, chunk_presentations=10, label_samples=10).validate()
    x, y = mnist[0][:10], mnist[1][:10]
    src = experiment.train(cfg, x, y, str(tmp_path / "a"), quiet=True, backend="runtime")
    slower = cfg.replace(rule_params={"nu_post": 0.005})
    b = experiment.train(slower, x, y, str(tmp_path / "b"), quiet=True, backend="runtime", init_from=str(tmp_path / "a"))
    assert b.extra["warm_start"]["source"]["samples_seen"] == src.samples_seen and "w" in b.extra["warm_start"]["taken"]
    assert not np.array_equal(b.state["w"], src.state["w"])
    more = cfg.replace(epochs=2)
    experiment.train(more, x, y, str(tmp_path / "a2"), quiet=True, backend="runtime", init_from=src)
    with pytest.raises(st.UserError, match="warm start"):
        experiment.train(slower, x, y, str(tmp_path / "b"), quiet=True, backend="runtime",
                         init_from=str(tmp_path / "a2"))


# a written-out encoding: Poisson spikes with a 3 ms dead time (like a retinal ganglion cell), counting its spikes
REFRACTORY_POISSON = dict(
    name="poisson_dead_time", equations="n_spikes : 1",
    threshold="p > 0 and timestep(t, dt) % period < on_steps and rand() < p", reset="n_spikes += 1",
    refractory="dead_time",
    params=dict(max_rate=63.75, boost_rate=31.875, t_on=350.0, t_rest=150.0, dead_time=3.0),
    units=dict(max_rate="Hz", boost_rate="Hz", t_on="ms", t_rest="ms", dead_time="ms"))


def test_a_written_out_encoding_runs_keeps_its_state_and_is_checked(mnist):
    """The encoding is data like the neurons: its refractoriness holds (no two spikes of one input
    closer than its dead time), its own variable is carried, and a missing protocol parameter or an
    unknown name is one line."""
    cfg = st.Config(name="enc", n_neurons=6, chunk_presentations=10, label_samples=10,
                    encoding=REFRACTORY_POISSON, input={"max_rate": 400.0}).validate()
    x = mnist[0][:3].reshape(3, -1) / 255.0
    state = fill_state(cfg, initial_state(cfg, 0), True)
    assert state["n_spikes_input"].shape == (784,)
    sim = Simulator(cfg, learning=True, backend="runtime", record_input=True)
    r = sim.run(x, state, seed=1)
    i, t = r.input_spikes
    assert len(i) > 1000
    order = np.lexsort((t, i))
    gaps = np.diff(t[order])[np.diff(i[order]) == 0]
    assert gaps.min() >= 3e-3 - 1e-9
    np.testing.assert_array_equal(r.state["n_spikes_input"], np.bincount(i, minlength=784))
    assert cfg.input_model().name == "poisson_dead_time"
    with pytest.raises(st.UserError, match="lacks the parameter.*boost_rate") as err:
        st.Config(encoding={**REFRACTORY_POISSON, "params": {"max_rate": 60.0}, "units": {"max_rate": "Hz"}}).validate()
    assert "\n" not in str(err.value)
    with pytest.raises(st.UserError, match="encoding 'poisson_dead_time' does not build"):
        bad = st.Config(name="bad", n_neurons=4, chunk_presentations=2,
                        encoding={**REFRACTORY_POISSON, "reset": "n_spiks += 1"}).validate()
        Simulator(bad, learning=True, backend="runtime").run(np.zeros((1, 784)), initial_state(bad, 0), seed=0)
