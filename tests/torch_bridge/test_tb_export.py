import numpy as np
import pytest

torch = pytest.importorskip("torch")
nir = pytest.importorskip("nir")

from stdp_toolkit.torch_bridge.convert import ann_activation_thresholds, balance_thresholds
from stdp_toolkit.torch_bridge.export_nir import from_nir, read_nir, to_nir, write_nir
from stdp_toolkit.torch_bridge.models import MLP, VGG, ResNet
from stdp_toolkit.torch_bridge.snn import SpikingNet


@pytest.mark.parametrize("make", [
    lambda: MLP(784, [40, 20], 10),
    lambda: VGG("vgg5", 1, 28, width=0.125, fc=[32]),
    lambda: ResNet("resnet8", 3, 32, width=0.25),
], ids=["mlp", "vgg5", "resnet8"])
def test_nir_round_trip_preserves_graph_weights_and_outputs(make, tmp_path):
    torch.manual_seed(0)
    ann = make().eval()
    c, s = ann.config["in_channels"], ann.config["image_size"]
    x = torch.randn(6, c, s, s)
    th = ann_activation_thresholds(ann, x, 99.0, 0.5)
    snn = SpikingNet(ann, timesteps=6, encoding="direct", thresholds=th,
                     leak=[0.9 if i % 2 else 1.0 for i in range(ann.n_act)]).eval()
    graph = to_nir(snn)
    path = str(tmp_path / "net.nir")
    write_nir(graph, path)
    back = read_nir(path)
    # graph: same nodes, same node types, same edges
    assert set(back.nodes) == set(graph.nodes)
    assert {k: type(v).__name__ for k, v in back.nodes.items()} == {k: type(v).__name__ for k, v in graph.nodes.items()}
    assert sorted(map(tuple, back.edges)) == sorted(map(tuple, graph.edges))
    # weights and neuron parameters
    weights = [m.weight.detach().numpy() for m in ann.weighted_layers()]
    exported = [n.weight for k, n in back.nodes.items() if isinstance(n, (nir.Conv2d, nir.Linear))]
    assert len(exported) == len(weights)
    for w in weights:
        assert any(e.shape == w.shape and np.array_equal(e, w) for e in exported)
    thr = sorted(float(np.unique(n.v_threshold)[0]) for n in back.nodes.values() if isinstance(n, (nir.IF, nir.LIF)))
    assert thr == pytest.approx(sorted(snn.thresholds()), rel=1e-6)
    assert sum(isinstance(n, nir.LIF) for n in back.nodes.values()) == ann.n_act // 2
    # running the read-back graph gives the SNN's outputs exactly
    with torch.no_grad():
        ref = snn(x)
        out = from_nir(back)(x)
    assert torch.allclose(out, ref, atol=1e-5)
    assert back.metadata["reset_mode"] == "subtract"


@pytest.mark.slow
def test_brian2_export_agrees_with_pytorch_on_real_mnist(trained_mlp, mnist_small):
    pytest.importorskip("brian2")
    from stdp_toolkit.torch_bridge.export_brian2 import compare_with_brian2
    xtr, ytr, xte, yte = mnist_small
    # converted network (Poisson input, IF neurons)
    snn = SpikingNet(trained_mlp, timesteps=20, encoding="poisson", input_scale=float(xtr.abs().max()))
    balance_thresholds(snn, xtr[:200], timesteps=20, mode="max", scale=0.7)
    r = compare_with_brian2(snn, xte[:100], yte[:100], chunk=50)
    assert r["agreement"] >= 0.99, r
    assert r["brian2_acc"] > 0.7
    # DIET-style network (direct input, leaky neurons)
    th = ann_activation_thresholds(trained_mlp, xtr[:256], 99.7, 0.3)
    snn = SpikingNet(trained_mlp, timesteps=5, encoding="direct", thresholds=th, leak=0.9)
    r = compare_with_brian2(snn, xte[:200], yte[:200], chunk=100)
    assert r["agreement"] >= 0.99, r
    assert r["brian2_acc"] > 0.7


@pytest.mark.slow
def test_brian2_export_small_conv_net_agrees(mnist_small):
    pytest.importorskip("brian2")
    xtr, ytr, xte, yte = mnist_small
    torch.manual_seed(0)
    ann = VGG("vgg5", 1, 28, width=0.125, fc=[16]).eval()
    th = ann_activation_thresholds(ann, xtr[:64], 99.7, 0.3)
    snn = SpikingNet(ann, timesteps=4, encoding="direct", thresholds=th, leak=[1.0, 0.9, 0.8, 1.0]).eval()
    from stdp_toolkit.torch_bridge.export_brian2 import _sparse_maps, run_brian2
    maps = _sparse_maps(snn)
    # the Brian2 logits themselves match, not only the argmax
    v, groups = run_brian2(snn, xte[:6], maps=maps)
    with torch.no_grad():
        ref = snn(xte[:6]).double().numpy()
    assert np.allclose(v, ref, atol=1e-4)
    assert (v.argmax(1) == ref.argmax(1)).all()
    # one Synapses object per convolution / linear layer, with the kernel's non-zeros
    assert len(np.asarray(groups["syn0"].i[:])) == len(maps[0][1][2]) * 6


def test_brian2_export_rejects_resnets():
    pytest.importorskip("brian2")
    from stdp_toolkit.errors import UserError
    from stdp_toolkit.torch_bridge.export_brian2 import to_brian2
    snn = SpikingNet(ResNet("resnet8", 1, 28, width=0.25), timesteps=2)
    with pytest.raises(UserError, match="not 'resnet'"):
        to_brian2(snn, torch.zeros(1, 1, 28, 28))
