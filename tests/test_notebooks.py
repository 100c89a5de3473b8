"""The core notebook runs top to bottom (at small size)."""
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def execute(name: str, timeout: int = 600, env: dict | None = None):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = os.path.join(ROOT, "notebooks", name)
    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def images(outputs) -> list:
    """Figures a notebook showed, by display() or as a cell's value."""
    return [o for o in outputs if o.get("output_type") in ("display_data", "execute_result")
            and "image/png" in o.get("data", {})]


def test_explore_network_notebook():
    nb = execute("explore_network.ipynb", env={"NB_NEURONS": "30", "NB_SAMPLES": "2", "MPLBACKEND": "module://matplotlib_inline.backend_inline"})
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert len(images(outputs)) == 3     # rasters, v traces, receptive fields: each shown once


@pytest.mark.slow
def test_custom_models_notebook(tmp_path):
    """The Brian2-docs rule, written verbatim, trains in standalone, shows traces, saves, and is
    evaluated by a fresh CLI process (small sizes; embedded digits when no data is set)."""
    nb = execute("custom_models.ipynb", timeout=900, env={"NB_NEURONS": "12", "NB_TRAIN": "40", "NB_TEST": "20",
                                                           "NB_OUT": str(tmp_path / "run"),
                                                           "MPLBACKEND": "module://matplotlib_inline.backend_inline"})
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "accuracy" in text and "differs from this one" in text, text
    assert len(images(outputs)) == 3     # v/θ traces, receptive fields, AdEx traces: each shown once
