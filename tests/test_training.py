"""Standalone training on real MNIST at small scale: learning, resume, backend agreement."""
import dataclasses
import os

import numpy as np
import pytest

from stdp_toolkit import checkpoint, experiment
from stdp_toolkit.errors import UserError
from stdp_toolkit.network.config import Config
from stdp_toolkit.backends import Simulator
from stdp_toolkit.network.state import initial_state

pytestmark = pytest.mark.slow


def test_trained_network_clearly_beats_chance_and_the_untrained_network(mnist, tmp_path):
    """Bar: >= 50 % on 1,000 test digits and >= 15 points above the same network with its
    initial random weights, labelled the same way. Chance is 10 %, but labelling alone makes a
    random network score well above chance, so the untrained network is the fair baseline;
    100 neurons after 3,000 samples typically reach 65-75 %."""
    x, y, xt, yt = mnist
    cfg = Config(n_neurons=100, chunk_presentations=1000).validate()
    untrained = experiment.RunState(cfg=cfg, seed=0, state=initial_state(cfg, 0))
    untrained = experiment.label(untrained, x[:1000], y[:1000], quiet=True, workers=2)
    base = experiment.evaluate(untrained, xt[:1000], yt[:1000], quiet=True, workers=2)["accuracy"]

    run = experiment.train(cfg, x[:3000], y[:3000], str(tmp_path), seed=0, quiet=True)
    assert run.samples_seen == 3000
    run = experiment.label(run, x[:1000], y[:1000], quiet=True, workers=2)
    res = experiment.evaluate(run, xt[:1000], yt[:1000], quiet=True, workers=2)
    print(f"untrained {base:.3f}, trained {res['accuracy']:.3f} / {res['accuracy_proportion']:.3f}")
    assert res["accuracy"] >= 0.50
    assert res["accuracy"] >= base + 0.15
    # the learned receptive fields are digit-like: weight moves to the centre, where digits are
    def centre_share(weights):
        w = weights.reshape(28, 28, -1)
        return w[6:22, 6:22].sum() / w.sum()

    assert centre_share(run.weights) > centre_share(untrained.weights) + 0.05


def test_resume_after_interruption_reproduces_the_uninterrupted_run(mnist, tmp_path):
    x, y, _, _ = mnist
    cfg = Config(n_neurons=30, chunk_presentations=100).validate()
    full = experiment.train(cfg, x[:300], y[:300], str(tmp_path / "full"), seed=5, quiet=True)
    part = str(tmp_path / "part")
    experiment.train(cfg, x[:300], y[:300], part, seed=5, quiet=True, stop_after_chunks=1)
    first = experiment.RunState.load(part)
    assert 0 < first.samples_seen < 300
    resumed = experiment.train(cfg, x[:300], y[:300], part, seed=5, quiet=True)
    assert resumed.samples_seen == full.samples_seen == 300
    for key in full.state:
        np.testing.assert_array_equal(resumed.state[key], full.state[key], err_msg=key)
    assert resumed.curve == full.curve
    # a different seed gives a different run
    other = experiment.train(cfg, x[:300], y[:300], str(tmp_path / "other"), seed=6, quiet=True)
    assert not np.array_equal(other.state["w"], full.state["w"])


def test_resume_refuses_a_different_config(mnist, tmp_path):
    x, y, _, _ = mnist
    cfg = Config(n_neurons=30, chunk_presentations=100).validate()
    experiment.train(cfg, x[:100], y[:100], str(tmp_path), seed=0, quiet=True, stop_after_chunks=1)
    with pytest.raises(UserError, match="'n_neurons': 30 -> 31"):
        experiment.train(cfg.replace(n_neurons=31), x[:100], y[:100], str(tmp_path), seed=0, quiet=True)
    with pytest.raises(UserError, match="seed: 0 -> 1"):
        experiment.train(cfg, x[:100], y[:100], str(tmp_path), seed=1, quiet=True)
    # other data of the same size (another --data-dir) would silently mix two data sets
    with pytest.raises(UserError, match="same size, other content"):
        experiment.train(cfg, x[100:200], y[100:200], str(tmp_path), seed=0, quiet=True)


def test_checkpoint_that_does_not_fit_its_config_is_refused(tmp_path):
    cfg = Config(n_neurons=30, chunk_presentations=100).validate()
    good = experiment.RunState(cfg=cfg, seed=0, state=initial_state(cfg, 0), assignments=np.zeros(30, np.uint8))
    cases = {
        "no 'theta'": dict(state={k: v for k, v in good.state.items() if k != "theta"}),
        "'w' has shape": dict(state={**good.state, "w": good.state["w"][:-1]}),
        "non-finite": dict(state={**good.state, "theta": np.full(30, np.nan)}),
        "labels outside 0..9": dict(assignments=np.arange(20, 50) % 30),
        "neuron labels have shape": dict(assignments=np.zeros(29, np.uint8)),
    }
    for message, change in cases.items():
        bad = dataclasses.replace(good, **change)
        bad.save(str(tmp_path))
        with pytest.raises(UserError, match=message):
            experiment.RunState.load(str(tmp_path))
    good.save(str(tmp_path))
    arrays, meta = checkpoint.load(str(tmp_path / experiment.CHECKPOINT))
    for layout_change, message in ((dict(layout=experiment.LAYOUT + 1), "newer stdp-toolkit"),
                                   (dict(samples_seen=None), "older stdp-toolkit")):
        changed = {k: v for k, v in {**meta, **layout_change}.items() if v is not None and k != "format"}
        checkpoint.save(str(tmp_path / experiment.CHECKPOINT), arrays, changed)
        with pytest.raises(UserError, match=message):
            experiment.RunState.load(str(tmp_path))


def test_parallel_and_sequential_evaluation_agree(mnist, tmp_path):
    x, y, xt, yt = mnist
    cfg = Config(n_neurons=30, chunk_presentations=100).validate()
    run = experiment.RunState(cfg=cfg, seed=2, state=initial_state(cfg, 2))
    run = experiment.label(run, x[:100], y[:100], quiet=True, workers=1)
    seq = experiment.evaluate(run, xt[:200], yt[:200], quiet=True, workers=1)
    par = experiment.evaluate(run, xt[:200], yt[:200], quiet=True, workers=2)
    np.testing.assert_array_equal(seq["counts"], par["counts"])
    assert seq["accuracy"] == par["accuracy"]


def test_checkpoint_is_atomic_and_verified(tmp_path):
    path = str(tmp_path / "c.npz")
    checkpoint.save(path, {"w": np.arange(10.0)}, {"samples": 3})
    arrays, meta = checkpoint.load(path)
    assert meta["samples"] == 3 and arrays["w"][3] == 3.0
    assert [p for p in os.listdir(tmp_path) if p.startswith(".tmp")] == []
    raw = bytearray(open(path, "rb").read())
    raw[len(raw) // 2] ^= 0xFF
    open(path, "wb").write(bytes(raw))
    with pytest.raises(UserError, match="corrupt"):
        checkpoint.load(path)
    open(path, "wb").write(b"not a zip")
    with pytest.raises(UserError, match="corrupt"):
        checkpoint.load(path)


def test_runtime_and_standalone_backends_learn_the_same_way(mnist):
    """Same network, initial weights and stimuli on both backends (different random streams).

    Compared: mean excitatory spikes per sample, repeat rate, and the learned weight change.
    The tolerance is set from two standalone runs that differ only in their seed.
    """
    x, _, _, _ = mnist
    cfg = Config(n_neurons=25, chunk_presentations=40).validate()
    images = x[:40].reshape(40, -1) / 255.0
    st0 = initial_state(cfg, 11)

    def stats(backend, seed):
        sim = Simulator(cfg, learning=True, backend=backend, codegen_target="numpy" if backend == "runtime" else None)
        r = sim.run(images, st0, seed=seed)
        dw = (r.state["w"] - st0["w"]).reshape(784, -1)
        return r.counts[: r.consumed].sum(1).mean(), dw

    spikes_a, dw_a = stats("standalone", 1)
    spikes_b, dw_b = stats("standalone", 2)
    spikes_rt, dw_rt = stats("runtime", 3)
    noise = abs(spikes_a - spikes_b)
    print(f"spikes/sample: standalone {spikes_a:.2f} / {spikes_b:.2f}, runtime {spikes_rt:.2f}")
    assert abs(spikes_rt - (spikes_a + spikes_b) / 2) <= max(3 * noise, 0.2 * spikes_a)
    # where learning moved the weights (per pixel, averaged over neurons) must agree
    r_ab = np.corrcoef(dw_a.mean(1), dw_b.mean(1))[0, 1]
    r_rt = np.corrcoef(dw_a.mean(1), dw_rt.mean(1))[0, 1]
    print(f"weight-change correlation: seed vs seed {r_ab:.3f}, runtime vs standalone {r_rt:.3f}")
    assert r_rt >= min(0.8, r_ab - 0.1)
    # and by how much
    mag = [np.abs(d).mean() for d in (dw_a, dw_b, dw_rt)]
    assert abs(mag[2] - (mag[0] + mag[1]) / 2) <= max(3 * abs(mag[0] - mag[1]), 0.15 * mag[0])


def test_a_runaway_stops_training_with_one_line_before_the_chunk_is_saved(mnist, tmp_path):
    """A chunk whose mean excitatory spikes per neuron and sample exceed max_spikes_per_neuron stops
    the run (here with a bound far below normal firing, so that any chunk trips it); the default bound
    leaves normal learning alone (every other training test)."""
    x, y, _, _ = mnist
    cfg = Config(n_neurons=30, chunk_presentations=100, max_spikes_per_neuron=0.01, method="euler").validate()
    with pytest.raises(UserError, match=r"runaway after 0 samples .*: a presentation drew over .* per neuron; the bound max_spikes_per_neuron "
                                        r"is 0.01\)\. Likely cause: forward-Euler .* Fix: set method: implicit_euler"):
        experiment.train(cfg, x[:100], y[:100], str(tmp_path), seed=0, quiet=True)
    assert not (tmp_path / experiment.CHECKPOINT).exists()
    assert Config().max_spikes_per_neuron == 20.0
    # the compiled program stops at the first such presentation instead of simulating the chunk
    sim = Simulator(cfg, learning=True)
    r = sim.run(experiment.to_unit(x[:100]), initial_state(cfg, 0), seed=0)
    assert r.runaway and r.consumed <= 2, (r.runaway, r.consumed)
    normal = Simulator(cfg.replace(max_spikes_per_neuron=20.0), learning=True).run(
        experiment.to_unit(x[:100]), initial_state(cfg, 0), seed=0)
    assert not normal.runaway and normal.consumed > 50
    # frozen phases too, from a worker process as from the main one
    run = experiment.RunState(cfg=cfg, seed=0, state=initial_state(cfg, 0))
    for workers in (1, 2):
        with pytest.raises(UserError, match="label: the trained network runs away: .* Fix: set method"):
            experiment.label(run, x[:200], y[:200], workers=workers, quiet=True)
