import numpy as np
import pytest

torch = pytest.importorskip("torch")

from stdp_toolkit.torch_bridge.convert import (accuracy_vs_timesteps, ann_activation_thresholds, balance_thresholds,
                                               robust_max)
from stdp_toolkit.torch_bridge.data import batches
from stdp_toolkit.torch_bridge.models import MLP
from stdp_toolkit.torch_bridge.snn import SpikingNet
from stdp_toolkit.torch_bridge.train import evaluate


def _constructed():
    """4 inputs -> 3 hidden -> 2 hidden -> 2 outputs with hand-set weights."""
    m = MLP(4, [3, 2], 2)
    with torch.no_grad():
        m.fcs[0].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 0.5, 0.5]]))
        m.fcs[1].weight.copy_(torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 3.0]]))
        m.fcs[2].weight.copy_(torch.eye(2))
    return m.eval()


def test_balancing_gives_known_maximum_layer_by_layer():
    m = _constructed()
    x = torch.tensor([[1.0, 0.5, 0.2, 0.2], [0.3, 0.1, 1.0, 1.0]])
    snn = SpikingNet(m, encoding="direct")
    th = balance_thresholds(snn, x, timesteps=4, mode="max", scale=1.0)
    # layer 0 input is W1 x = [1, 1, .2] / [.3, .2, 1], constant over steps: max = 1.0
    assert th[0] == pytest.approx(1.0)
    # with V_th(0) = 1 the IF neurons integrate (reset by subtraction): a current of 1 reaches u = 2 > 1 at
    # step 2 and spikes at every step from then on, .3 spikes once (step 4, u = 1.2), .2 never. Layer 1's input
    # W2 s is then [2, 0] for the first sample and [0, 3] (steps 2-3) / [1, 3] (step 4) for the second: max 3.
    # Check by hand-simulation:
    h1 = m.fcs[0](x).detach()
    u = torch.zeros_like(h1)
    mx = 0.0
    for _ in range(4):
        u = u + h1
        s = (u / th[0] - 1 > 0).float()
        u = u - th[0] * s
        mx = max(mx, float(m.fcs[1](s).detach().max()))
    assert mx == pytest.approx(3.0)
    assert th[1] == pytest.approx(mx)
    # scaling multiplies every balanced threshold
    th_scaled = balance_thresholds(SpikingNet(m, encoding="direct"), x, timesteps=4, mode="max", scale=0.7)
    assert th_scaled == pytest.approx([0.7 * v for v in th])


def test_balancing_percentile_and_spiking_earlier_layer():
    m = _constructed()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(200, 4, generator=g)
    snn = SpikingNet(m, encoding="direct")
    th = balance_thresholds(snn, x, timesteps=3, mode="percentile", percentile=90.0, scale=1.0)
    pre0 = m.fcs[0](x).detach().numpy()
    # same values at each of the 3 steps -> the percentile of the constant input current
    assert th[0] == pytest.approx(float(np.percentile(np.concatenate([pre0.ravel()] * 3), 90.0)), rel=1e-6)
    # layer 1 input follows from layer 0 spiking at V_th = th[0]
    h1 = m.fcs[0](x).detach()
    u = torch.zeros_like(h1)
    vals = []
    for _ in range(3):
        u = u + h1
        s = (u / th[0] - 1 > 0).float()
        u = u - th[0] * s
        vals.append(m.fcs[1](s).detach().numpy().ravel())
    assert th[1] == pytest.approx(float(np.percentile(np.concatenate(vals), 90.0)), rel=1e-6)
    assert 0 < th[1]


def test_robust_max_exact_and_ann_percentile():
    vals = torch.arange(1, 1001, dtype=torch.float32)
    assert robust_max([vals], "max") == 1000.0
    assert robust_max([vals[:500], vals[500:]], "percentile", 99.7) == pytest.approx(np.percentile(vals.numpy(), 99.7))
    m = _constructed()
    x = torch.tensor([[1.0, 0.5, 0.2, 0.2]])
    th = ann_activation_thresholds(m, x, percentile=100.0, scale=0.5)
    assert th[0] == pytest.approx(0.5 * 1.0)
    assert th[1] == pytest.approx(0.5 * 2.0)  # relu([1, 1, .2]) @ W2 -> [2, .6]


@pytest.mark.slow
def test_converted_snn_approaches_ann_on_real_mnist(trained_mlp, mnist_small):
    xtr, ytr, xte, yte = mnist_small
    torch.manual_seed(0)
    ann_acc = evaluate(trained_mlp, xte, yte)
    assert ann_acc > 0.85, "the small ANN should learn MNIST"
    snn = SpikingNet(trained_mlp, encoding="poisson", input_scale=float(xtr.abs().max()))
    snn.generator = torch.Generator().manual_seed(0)
    balance_thresholds(snn, xtr[:256], timesteps=50, mode="max", scale=1.0)
    curve = accuracy_vs_timesteps(snn, list(batches(xte, yte, 250)), [4, 16, 64])
    # the gap to the ANN shrinks as T grows and ends small
    gaps = {t: ann_acc - a for t, a in curve.items()}
    assert gaps[4] > gaps[16] - 0.005 and gaps[4] > gaps[64] + 0.02
    assert gaps[64] < 0.02
