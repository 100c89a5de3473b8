"""Shared by the tests: the real data sets (or a skip), small networks and inputs, notebook execution."""
from stdp_toolkit.network.config import Config


def shared_data(sub: str) -> str:
    """Path of a shared real data set (``sub`` under ``$STDP_DATA_DIR``), or skip the test with the reason."""
    import os

    import pytest

    root = os.environ.get("STDP_DATA_DIR")
    if not root:
        pytest.skip("real data not available: set STDP_DATA_DIR to the shared data folder (make test does)")
    path = os.path.join(root, sub)
    if not os.path.exists(path):
        pytest.skip(f"real data not available: {path} does not exist")
    return path


def small(**kw):
    """A validated 20-neuron config with short chunks and few boosts; ``kw`` overrides any setting."""
    base = dict(n_neurons=20, chunk_presentations=6, min_spikes=5, max_boosts=3)
    base.update(kw)
    return Config(**base).validate()


def network(cfg, backend: str, learning: bool, **kw):
    """``cfg``'s network on ``backend`` with one chunk's presentations (the runtime one with numpy code, so
    that no compiler is needed); the standalone build is cached like any run's."""
    from stdp_toolkit.backends import Simulator

    kw.setdefault("n_presentations", cfg.chunk_presentations)
    return Simulator(cfg, learning=learning, backend=backend, codegen_target="numpy", **kw)


def digits(n):
    """The first ``n`` embedded training digits as flat rows in [0, 1]."""
    from stdp_toolkit.datasets import load_embedded_digits

    x, _ = load_embedded_digits("train")
    return x[:n].reshape(n, -1) / 255.0


def execute_notebook(name: str, *, env: dict | None = None, timeout: int = 600, cwd=None):
    """Run ``notebooks/<name>`` top to bottom in a fresh kernel, with ``env`` set for it (and restored
    after), in ``cwd`` (default: the notebooks folder). Returns the executed notebook."""
    import os

    import pytest

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks", name)
    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(cwd or os.path.dirname(path))}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def notebook_outputs(nb) -> list:
    """Every output of every code cell."""
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def notebook_text(nb) -> str:
    """What the notebook printed."""
    return "".join(o.get("text", "") for o in notebook_outputs(nb))


def images(outputs) -> list:
    """Figures a notebook showed, by display() or as a cell's value."""
    return [o for o in outputs if o.get("output_type") in ("display_data", "execute_result")
            and "image/png" in o.get("data", {})]
