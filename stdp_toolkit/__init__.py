"""stdp-toolkit: spiking networks that learn with STDP, built on Brian2, with a PyTorch bridge.

The flat API for notebooks (names are imported when first used, so ``import stdp_toolkit`` is quick)::

    import stdp_toolkit as st

    cfg = st.Config(n_neurons=100, rule=my_rule)          # a built-in rule name or a rule written out
    x, y, _ = st.load_digits(None, "train", limit=1000)   # MNIST from STDP_DATA_DIR, else embedded digits
    run, _ = st.fit(cfg, x, y, "runs/mine")               # train (compiled, chunked, resumable), label, save
    print(st.evaluate(run, *st.load_digits(None, "test", limit=1000)[:2])["accuracy"])
    st.plots.receptive_fields(run.weights)

See docs/python-api.md for the model contract (equations, roles, units) and notebooks/ for tours.
"""
from __future__ import annotations

import importlib

# public name -> module that defines it
_EXPORTS = {
    # configuration and models (models are data: equations as text, parameters with units)
    "Config": "stdp_toolkit.network.config",
    "NeuronModel": "stdp_toolkit.models",
    "NEURONS": "stdp_toolkit.models",
    "ADEX": "stdp_toolkit.models",
    "IZHIKEVICH": "stdp_toolkit.models",
    "PlasticityRule": "stdp_toolkit.models",
    "RULES": "stdp_toolkit.models",
    "EXCITATORY": "stdp_toolkit.models",
    "INHIBITORY": "stdp_toolkit.models",
    "POISSON_INPUT": "stdp_toolkit.models",
    "get_rule": "stdp_toolkit.models",
    # the training pipeline
    "train": "stdp_toolkit.experiment",
    "label": "stdp_toolkit.experiment",
    "evaluate": "stdp_toolkit.experiment",
    "respond": "stdp_toolkit.experiment",
    "load": "stdp_toolkit.experiment",
    "RunState": "stdp_toolkit.experiment",
    # the recipes: train + label + save, evaluate a saved run, its figures
    "fit": "stdp_toolkit.pipeline",
    "evaluate_run": "stdp_toolkit.pipeline",
    "figures": "stdp_toolkit.pipeline",
    # one network, driven by hand (spikes, traces)
    "Simulator": "stdp_toolkit.backends",
    "ChunkResult": "stdp_toolkit.backends",
    "Traces": "stdp_toolkit.network.builder",
    "initial_state": "stdp_toolkit.network.state",
    # data
    "load_digits": "stdp_toolkit.datasets.mnist",
    "load_mnist": "stdp_toolkit.datasets.mnist",
    "load_embedded_digits": "stdp_toolkit.datasets.mnist",
    # errors meant for the user (one line: the problem and the fix)
    "UserError": "stdp_toolkit.errors",
}
_MODULES = ("plots", "readout", "datasets", "models", "compression", "multimodal", "checkpoint", "pipeline", "experiment", "study")

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"stdp_toolkit.{name}")
    else:
        raise AttributeError(f"module 'stdp_toolkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return __all__
