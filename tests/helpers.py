"""Small networks and inputs shared by the simulator tests (test_network.py, test_cuda.py)."""
from stdp_toolkit.network.config import Config


def small(**kw):
    """A validated 20-neuron config with short chunks and few boosts; ``kw`` overrides any setting."""
    base = dict(n_neurons=20, chunk_presentations=6, min_spikes=5, max_boosts=3)
    base.update(kw)
    return Config(**base).validate()


def digits(n):
    """The first ``n`` embedded training digits as flat rows in [0, 1]."""
    from stdp_toolkit.datasets import load_embedded_digits

    x, _ = load_embedded_digits("train")
    return x[:n].reshape(n, -1) / 255.0
