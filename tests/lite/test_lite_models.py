import pytest

torch = pytest.importorskip("torch")

from stdp_toolkit.errors import UserError  # noqa: E402
from stdp_toolkit.torch_bridge.layers import LIF  # noqa: E402
from stdp_toolkit.lite.metrics import count_params, energy_report  # noqa: E402
from stdp_toolkit.lite.models import (LITE, MODEL_KEYWORDS, MODEL_NAMES, CNNBaseline,  # noqa: E402
                                                      RNNBaseline, SeqSpec, TemporalAttention, VanillaSNN,
                                                      build_model, count_ops)
from stdp_toolkit.lite.synthetic import make_recall  # noqa: E402
from stdp_toolkit.lite.train import TrainConfig, early_step_gradient  # noqa: E402


def _small(name):
    """A small size for each model: ``hidden`` for vanilla/LSTM/GRU, ``channels`` for LITE/CNN."""
    return {"channels": 16} if name in ("lite", "cnn") else {"hidden": 16}


def _batch(kind):
    g = torch.Generator().manual_seed(0)
    if kind == "tokens":
        spec = SeqSpec("tokens", 2, vocab_size=40, embed_dim=12, steps_per_item=3)
        x = torch.randint(1, 40, (3, 6), generator=g)
        lengths = torch.tensor([6, 4, 1])
        for i, n in enumerate(lengths):
            x[i, n:] = 0
        return spec, x, lengths
    if kind == "frames":
        return SeqSpec("frames", 10), torch.poisson(torch.full((2, 4, 2, 34, 34), 0.3), generator=g), None
    return SeqSpec("vectors", 4, in_dim=9, readout="last", recall_steps=2), (torch.rand(3, 12, 9, generator=g) < 0.3).float(), None


@pytest.mark.parametrize("kind", ["tokens", "frames", "vectors"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_backward(kind, name):
    torch.manual_seed(0)
    spec, x, lengths = _batch(kind)
    model = build_model(name, spec, **_small(name))
    out = model(x, lengths)
    assert out.shape == (x.shape[0], spec.n_classes) and torch.isfinite(out).all()
    out.logsumexp(1).sum().backward()
    grads = [p.grad for n, p in model.named_parameters() if p.requires_grad and not n.endswith(("leak", "threshold"))]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    if name in ("vanilla", "lite"):
        lifs = [m for m in model.modules() if isinstance(m, LIF)]
        assert lifs and all(m.threshold.requires_grad and m.leak.requires_grad for m in lifs)


def test_padding_does_not_change_output():
    torch.manual_seed(0)
    spec, x, lengths = _batch("tokens")
    for name in MODEL_NAMES:
        model = build_model(name, spec, **_small(name)).eval()
        with torch.no_grad():
            full = model(x, lengths)
            padded = model(torch.cat([x, torch.zeros(3, 5, dtype=x.dtype)], 1), lengths)
            alone = model(x[1:2, :4], lengths[1:2])
        assert torch.allclose(full, padded, atol=1e-5), name
        assert torch.allclose(full[1:2], alone, atol=1e-5), name


@pytest.mark.parametrize("options", [{"pool": "both"}, {"skip": True, "value_dim": 8, "heads": 4, "key_dim": 8}])
def test_lite_options(options):
    spec, x, lengths = _batch("tokens")
    model = build_model("lite", spec, channels=16, **options)
    out = model(x, lengths)
    assert out.shape == (3, 2)
    out.sum().backward()
    assert model.embedding.weight.grad.abs().sum() > 0
    with pytest.raises(UserError):
        build_model("lite", spec, pool="max")


def test_attention_shapes_and_mask():
    att = TemporalAttention(dim=8, key_dim=6, value_dim=10, heads=2, query_from_last=True)
    s = (torch.rand(4, 7, 8) < 0.5).float()
    mask = torch.arange(7)[None, :] < torch.tensor([7, 5, 3, 1])[:, None]
    pooled, w = att(s, mask)
    assert pooled.shape == (4, 10) and w.shape == (4, 2, 7)
    assert torch.allclose(w.sum(-1), torch.ones(4, 2))
    assert float(w.detach()[~mask[:, None, :].expand_as(w)].abs().sum()) == 0.0
    with pytest.raises(UserError):
        TemporalAttention(dim=8, key_dim=5, heads=2)


def test_gradients_reach_early_steps():
    """The cue sits in the first 5 of 200 steps and the answer is read at the end: LITE's attention gives the cue a
    direct gradient path; the vanilla LIF stack's only path is through 190 leaky membrane steps."""
    x, y = (torch.from_numpy(a) for a in make_recall(64, 200, seed=1))
    spec = SeqSpec("vectors", 4, in_dim=17, readout="last", recall_steps=5)
    torch.manual_seed(0)
    lite_ratio, lite_abs = early_step_gradient(build_model("lite", spec), x, y)
    torch.manual_seed(0)
    van_ratio, van_abs = early_step_gradient(build_model("vanilla", spec), x, y)
    assert lite_abs > 0 and lite_ratio > 0.1
    assert lite_ratio > 100 * van_ratio


def test_leak_clamped_after_step():
    spec, x, lengths = _batch("vectors")
    model = build_model("lite", spec, channels=16)
    lif = next(m for m in model.modules() if isinstance(m, LIF))
    with torch.no_grad():
        lif.leak.fill_(1.7)
    model.clamp_()
    assert float(lif.leak.detach()) == 1.0


def test_op_counts():
    spec = SeqSpec("tokens", 2, vocab_size=30, embed_dim=10, steps_per_item=1)
    x = torch.randint(1, 30, (2, 5))
    lstm = build_model("lstm", spec, hidden=8)
    with count_ops(lstm) as ops:
        lstm(x, torch.tensor([5, 5]))
    head = 8 * 32 + 32 * 2
    assert ops.macs / ops.samples == 5 * 4 * 8 * (10 + 8) + head
    snn = build_model("vanilla", SeqSpec("vectors", 2, in_dim=6), hidden=8)
    with count_ops(snn) as ops:
        snn(torch.zeros(3, 10, 6))
    assert ops.per_layer["fc1"]["acs"] == 0  # no input spikes -> no input accumulates
    assert energy_report(ops)["time_steps_per_sample"] == 10
    snn.lif1.lif.reset_counters()
    with count_ops(snn) as ops:
        snn(torch.ones(3, 10, 6))
    assert ops.per_layer["fc1"]["acs"] == 3 * 10 * 6 * 8  # every input spike costs fan-out (8) accumulates
    assert ops.per_layer["fc2"]["acs"] == snn.lif1.lif.spike_count * 8
    rep = energy_report(ops)
    assert rep["energy_synaptic_J"] == pytest.approx(rep["macs_per_sample"] * 4.6e-12 + rep["acs_per_sample"] * 0.9e-12)
    assert count_params(build_model("lite", spec))["params_embedding"] == 300


def test_bad_names():
    with pytest.raises(UserError):
        build_model("transformer", SeqSpec("vectors", 2, in_dim=3))
    spec = SeqSpec("vectors", 2, in_dim=3)
    # a misspelt or foreign option is one line naming it and the model's options, never a default-sized model
    with pytest.raises(UserError) as err:
        build_model("vanilla", spec, hiden=128)
    message = str(err.value)
    assert "\n" not in message and "'hiden'" in message and "hidden, head_hidden" in message
    with pytest.raises(UserError, match="the lite model has no option 'hidden'; its options are channels, kernel"):
        build_model("lite", spec, hidden=128)
    with pytest.raises(UserError, match="the cnn model has no option 'chanels'"):  # checked before any work
        TrainConfig(task="recall", model="cnn", extra={"chanels": 8})
    with pytest.raises(UserError):
        SeqSpec("audio", 2)


def test_model_keywords_are_the_constructor_options():
    import inspect

    classes = {"vanilla": VanillaSNN, "lite": LITE, "lstm": RNNBaseline, "gru": RNNBaseline, "cnn": CNNBaseline}
    assert set(classes) == set(MODEL_KEYWORDS) == set(MODEL_NAMES)
    for name, cls in classes.items():
        options = [k for k in inspect.signature(cls.__init__).parameters if k not in ("self", "spec", "cell")]
        assert list(MODEL_KEYWORDS[name]) == options, name
