"""GPU backend: brian2cuda generates CUDA code for the network and nvcc compiles it.

No GPU is needed to build; running a build without one must be a clear UserError. The build
test skips (with the reason) where brian2cuda or nvcc are missing, e.g. on Python 3.11.
"""
import os
import time
from types import SimpleNamespace

import brian2 as b2
import numpy as np
import pytest

from helpers import digits, small
from stdp_toolkit.errors import UserError
from stdp_toolkit.backends import cuda
from stdp_toolkit.backends import Simulator
from stdp_toolkit.network.state import initial_state

REASON = cuda.unavailable_reason()
needs_cuda = pytest.mark.skipif(REASON is not None, reason=f"cuda backend not available here: {REASON}")


@pytest.mark.skipif(REASON is None, reason="brian2cuda and nvcc are installed")
def test_missing_brian2cuda_or_nvcc_is_a_user_error():
    with pytest.raises(UserError, match="cuda backend|brian2cuda|nvcc"):
        Simulator(small(), learning=False, backend="cuda")


@pytest.mark.cuda
@needs_cuda
def test_learning_network_compiles_with_nvcc_and_is_cached(record_property):
    # no learning, so the normalisation alone sets each neuron's input weights (checked on a GPU)
    cfg = small(rule_params={"nu_pre": 0.0, "nu_post": 0.0})
    t0 = time.perf_counter()
    sim = Simulator(cfg, learning=True, backend="cuda", n_presentations=2)
    first = time.perf_counter() - t0
    binary = os.path.join(sim.build_dir, "main")
    assert os.access(binary, os.X_OK), "nvcc produced no binary"
    with open(os.path.join(sim.build_dir, "main.cu")) as fh:
        main = fh.read()
    assert "random_number_buffer.set_seed" in main and "set_from_command_line(args)" in main
    with open(os.path.join(sim.build_dir, "makefile")) as fh:
        cc = cuda.settings(os.path.dirname(sim.build_dir)).compute_capability
        assert f"-arch=sm_{str(cc).replace('.', '')}" in fh.read()
    stamp = os.stat(binary).st_mtime_ns

    # the same network again: generated afresh, but nothing is recompiled
    t0 = time.perf_counter()
    sim = Simulator(cfg, learning=True, backend="cuda", n_presentations=2)
    again = time.perf_counter() - t0
    assert os.stat(binary).st_mtime_ns == stamp
    record_property("cuda_build_seconds", round(first, 1))
    record_property("cuda_cached_build_seconds", round(again, 1))
    print(f"cuda build {first:.1f} s, cached {again:.1f} s, in {sim.build_dir}")

    state = initial_state(cfg, 3)
    if not cuda.visible_gpus():
        with pytest.raises(UserError, match="no NVIDIA GPU"):
            sim.run(digits(2), state, seed=1)
        assert not [f for f in os.listdir(os.path.join(sim.build_dir, "static_arrays")) if f.startswith("init_")]
        return
    r = sim.run(digits(2), state, seed=1)
    sums = r.state["w"].reshape(784, cfg.n_neurons).sum(axis=0)
    np.testing.assert_allclose(sums, 78.0, rtol=1e-9)
    assert r.consumed == 2 and np.all(np.diff(r.spike_t) >= 0)


@needs_cuda
def test_compute_capability_setting(monkeypatch, tmp_path):
    monkeypatch.setenv(cuda.CC_ENV, "8.6")
    assert cuda.settings(str(tmp_path)).compute_capability == 8.6
    monkeypatch.setenv(cuda.CC_ENV, "sm_86")
    with pytest.raises(UserError, match="compute capability like"):
        cuda.settings(str(tmp_path))
    monkeypatch.setenv(cuda.CC_ENV, "3.0")
    with pytest.raises(UserError, match="not supported"):
        cuda.settings(str(tmp_path))


def _network(synapses_dt=0.5e-3, source_dt=0.5e-3):
    """Just what check_network reads of a network with one synaptic pathway."""
    src = SimpleNamespace(name="src", clock=SimpleNamespace(dt_=source_dt))
    syn = SimpleNamespace(name="syn", clock=SimpleNamespace(dt_=synapses_dt),
                          _pathways=[SimpleNamespace(prepost="pre", source=src)])
    return SimpleNamespace(net=SimpleNamespace(objects=[src, syn]))


def test_refuses_what_brian2cuda_simulates_wrongly():
    cuda.check_network(_network())
    with pytest.raises(UserError, match="another dt"):  # brian2cuda issue #222
        cuda.check_network(_network(source_dt=1e-3))
    old = b2.prefs["core.default_float_dtype"]
    b2.prefs["core.default_float_dtype"] = np.float32
    try:
        with pytest.raises(UserError, match="double precision"):  # brian2cuda issue #254
            cuda.check_network(_network())
    finally:
        b2.prefs["core.default_float_dtype"] = old


def test_spikes_are_sorted_by_time_then_neuron():
    i, t = cuda.sort_spikes(np.array([3, 1, 2, 0]), np.array([0.002, 0.001, 0.001, 0.002]))
    assert list(i) == [1, 2, 0, 3] and list(t) == [0.001, 0.001, 0.002, 0.002]
