import pytest

torch = pytest.importorskip("torch")

from stdp_toolkit.torch_bridge.metrics import E_AC_FP32_PJ, E_MAC_FP32_PJ, _sparse_ops, ann_macs, snn_metrics
from stdp_toolkit.torch_bridge.models import MLP, VGG
from stdp_toolkit.torch_bridge.snn import SpikingNet


def test_sparse_conv_ops_match_brute_force():
    g = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(3, 5, 3, padding=1, bias=False)
    x = (torch.rand(2, 3, 6, 6, generator=g) < 0.2).float()
    # brute force: each non-zero input reaches every output whose receptive field contains it
    count = 0
    for b in range(2):
        for oc in range(5):
            for oy in range(6):
                for ox in range(6):
                    for ic in range(3):
                        for ky in range(3):
                            for kx in range(3):
                                iy, ix = oy + ky - 1, ox + kx - 1
                                if 0 <= iy < 6 and 0 <= ix < 6 and x[b, ic, iy, ix] != 0:
                                    count += 1
    assert _sparse_ops(conv, x) == count
    lin = torch.nn.Linear(10, 7, bias=False)
    assert _sparse_ops(lin, torch.tensor([[0, 1.0, 0, 0, 1, 0, 0, 0, 0, 1]])) == 3 * 7


def test_ann_macs_vgg5():
    m = VGG("vgg5", 1, 28, width=0.25, fc=[32])
    macs = ann_macs(m, torch.zeros(1, 1, 28, 28))
    assert macs[0] == 16 * 28 * 28 * 1 * 9
    assert macs[1] == 32 * 14 * 14 * 16 * 9
    assert macs[-1] == 32 * 10


def test_snn_metrics_counts_and_energy():
    m = MLP(4, [3], 2)
    with torch.no_grad():
        m.fcs[0].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]))
        m.fcs[1].weight.fill_(1.0)
    snn = SpikingNet(m, timesteps=4, encoding="direct", thresholds=[0.9])
    x = torch.tensor([[1.0, 0.5, 0.0, 0.0]])
    r = snn_metrics(snn, x, torch.tensor([0]))
    # neuron 0 gets 1.0 > 0.9 each step -> 4 spikes; neuron 1: 0.5/step -> u 0.5,1.0(s),0.6,1.1(s) -> 2 spikes
    assert r["spike_rate"][0] == pytest.approx(6 / 12)
    # first layer: direct input -> dense MACs every step; second: 6 spikes x 2 outputs accumulates
    assert r["snn_macs"] == [4 * 12, 0]
    assert r["snn_acs"] == [0, 6 * 2]
    assert r["ann_macs"] == [12, 6]
    assert r["snn_energy_uJ"] == pytest.approx((48 * E_MAC_FP32_PJ + 12 * E_AC_FP32_PJ) * 1e-6)
    assert r["ann_energy_uJ"] == pytest.approx(18 * E_MAC_FP32_PJ * 1e-6)
    assert r["latency_steps"] == 4
