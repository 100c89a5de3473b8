import math

import pytest

torch = pytest.importorskip("torch")

from stdp_toolkit.torch_bridge.functional import (heaviside_linear, heaviside_stdb, lif_step, poisson_encode,
                                                  update_time_since_spike)
from stdp_toolkit.torch_bridge.layers import IF, LIF, IntegratorOutput, StepDropout
from stdp_toolkit.torch_bridge.models import MLP
from stdp_toolkit.torch_bridge.snn import SpikingNet


def test_linear_surrogate_matches_formula():
    x = torch.linspace(-2.5, 2.5, 101, dtype=torch.float64, requires_grad=True)
    for gamma in (0.3, 1.0):
        out = heaviside_linear(x, gamma)
        assert torch.equal(out, (x > 0).double())
        (g,) = torch.autograd.grad(out.sum(), x)
        expected = gamma * torch.clamp(1 - x.detach().abs(), min=0)
        assert torch.allclose(g, expected)
    # gamma at x = 0, exactly 0 for |x| >= 1
    z = torch.tensor([0.0, 1.5, -1.0], requires_grad=True)
    (g,) = torch.autograd.grad(heaviside_linear(z, 0.3).sum(), z)
    assert g.tolist() == pytest.approx([0.3, 0.0, 0.0])


def test_linear_surrogate_chain_through_threshold():
    # d s / d u = gamma*max(0, 1-|u/vth-1|) / vth  for s = H(u/vth - 1)
    u = torch.tensor([0.5, 1.2, 1.9, 3.5], dtype=torch.float64, requires_grad=True)
    vth = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    s = heaviside_linear(u / vth - 1, 0.3)
    gu, gv = torch.autograd.grad(s.sum(), [u, vth])
    xs = u.detach() / 1.5 - 1
    surr = 0.3 * torch.clamp(1 - xs.abs(), min=0)
    assert torch.allclose(gu, surr / 1.5)
    assert torch.allclose(gv, (surr * -u.detach() / 1.5 ** 2).sum())


def test_stdb_surrogate_matches_formula():
    x = torch.tensor([-0.4, 0.2, 0.7, -3.0, 5.0], dtype=torch.float64, requires_grad=True)
    dt = torch.tensor([0.0, 1.0, 5.0, 20.0, 100.0], dtype=torch.float64)
    for alpha, beta in ((0.3, 0.01), (0.5, 0.035)):
        out = heaviside_stdb(x, dt, alpha, beta)
        assert torch.equal(out, (x > 0).double())
        (g,) = torch.autograd.grad(out.sum(), x)
        assert torch.allclose(g, alpha * torch.exp(-beta * dt))
        assert math.isclose(float(g[4]), alpha * math.exp(-beta * 100), rel_tol=1e-12)


def test_time_since_spike_counter():
    dt = torch.zeros(3)
    for s in ([0, 1, 0], [0, 0, 0], [1, 0, 0]):
        dt = update_time_since_spike(dt, torch.tensor(s, dtype=torch.float32))
    assert dt.tolist() == [0.0, 2.0, 3.0]


def test_lif_step_dynamics_and_gradients():
    u = torch.tensor([0.2, 0.9], dtype=torch.float64)
    x = torch.tensor([0.5, 0.5], dtype=torch.float64)
    vth = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    leak = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    s, u_new = lif_step(x, u, vth, leak)
    # u = 0.8*[0.2, 0.9] + 0.5 = [0.66, 1.22] -> spikes [0, 1], soft reset 1.22 - 1 = 0.22
    assert s.tolist() == [0.0, 1.0]
    assert torch.allclose(u_new, torch.tensor([0.66, 0.22], dtype=torch.float64))
    # analytic: u' = leak*u + x; s = H(u'/vth - 1) with the linear surrogate; u_new = u' - vth*s
    up = 0.8 * u + x
    surr = 0.3 * torch.clamp(1 - (up / 1.0 - 1).abs(), min=0)
    ds_dvth = surr * (-up / 1.0 ** 2)
    ds_du = surr / 1.0
    # spikes: ds/dvth and ds/dleak through the surrogate
    gv, gl = torch.autograd.grad(s.sum(), [vth, leak], retain_graph=True)
    assert float(gv) == pytest.approx(float(ds_dvth.sum()))
    assert float(gl) == pytest.approx(float((ds_du * u).sum()))
    # membrane, reset detached from the spike (default): du_new/dvth = -s, du_new/dleak = u
    gv, gl = torch.autograd.grad(u_new.sum(), [vth, leak])
    assert float(gv) == pytest.approx(float(-s.detach().sum()))
    assert float(gl) == pytest.approx(float(u.sum()))
    # reset differentiated through the spike as well
    s2, u2 = lif_step(x, u, vth, leak, detach_reset=False)
    assert torch.equal(u2, u_new)
    gv, gl = torch.autograd.grad(u2.sum(), [vth, leak])
    assert float(gv) == pytest.approx(float((-s.detach() - 1.0 * ds_dvth).sum()))
    assert float(gl) == pytest.approx(float(((1 - 1.0 * ds_du) * u).sum()))


def test_poisson_encoding_signs_and_rate():
    g = torch.Generator().manual_seed(0)
    x = torch.tensor([-0.25, 0.0, 0.5, 2.0]).repeat(20000, 1)
    s = poisson_encode(x, g)
    assert set(s.unique().tolist()) <= {-1.0, 0.0, 1.0}
    rate = s.mean(0)
    assert torch.allclose(rate, torch.tensor([-0.25, 0.0, 0.5, 1.0]), atol=0.02)


def test_leak_stays_clamped_under_training():
    torch.manual_seed(0)
    layer = LIF(threshold=1.0, leak=0.99)
    opt = torch.optim.SGD(layer.parameters(), lr=10.0)
    for _ in range(5):
        layer.reset_state()
        out = sum(layer(torch.full((8,), 0.7)).sum() for _ in range(6))
        (-out).backward()   # pushes the leak up
        opt.step()
        opt.zero_grad()
        layer.clamp_()
        assert 0.0 <= float(layer.leak.detach()) <= 1.0
    # forward clamps as well, even if someone sets it out of range
    with torch.no_grad():
        layer.leak.fill_(3.0)
        layer.threshold.fill_(5.0)
    layer.reset_state()
    layer(torch.ones(1) * 0.4)
    layer(torch.ones(1) * 0.4)
    assert float(layer.u.detach()) == pytest.approx(0.8)  # leak 1 (clamped), not 3


def test_if_layer_counts_spikes_and_resets():
    n = IF(threshold=1.0)
    assert not n.leak.requires_grad
    spikes = [float(n(torch.tensor([0.5])).detach()) for _ in range(10)]
    # strict threshold (u/V_th - 1 > 0) and subtractive reset keep the remainder
    assert spikes == [0, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    assert n.spike_rate == pytest.approx(0.4)
    n.reset_state()
    assert n.u is None


def test_integrator_output_and_step_dropout():
    o = IntegratorOutput()
    o(torch.tensor([1.0]))
    assert float(o(torch.tensor([3.0]))) == 2.0
    d = StepDropout(0.5).train()
    a = d(torch.ones(1000))
    b = d(torch.ones(1000))
    assert torch.equal(a, b)  # same mask at every step
    d.reset_state()
    assert not torch.equal(d(torch.ones(1000)), a)


def test_thresholds_and_leaks_receive_gradient():
    torch.manual_seed(0)
    m = MLP(20, [16, 12], 3)
    snn = SpikingNet(m, timesteps=5, encoding="direct", thresholds=[0.5, 0.5], leak=0.9,
                     train_threshold=True, train_leak=True)
    out = snn(torch.randn(8, 20))
    torch.nn.functional.cross_entropy(out, torch.randint(0, 3, (8,))).backward()
    for n in snn.neurons:
        assert n.threshold.grad is not None and n.threshold.grad.abs() > 0
        assert n.leak.grad is not None and n.leak.grad.abs() > 0
    assert m.fcs[0].weight.grad.abs().sum() > 0


def test_stdb_snn_backprop_runs():
    torch.manual_seed(0)
    m = MLP(20, [16], 3)
    snn = SpikingNet(m, timesteps=6, encoding="poisson", thresholds=[0.3], surrogate="stdb")
    out = snn(torch.rand(8, 20))
    torch.nn.functional.cross_entropy(out, torch.randint(0, 3, (8,))).backward()
    assert m.fcs[0].weight.grad.abs().sum() > 0
