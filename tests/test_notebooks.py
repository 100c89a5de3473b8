"""The core notebooks run top to bottom (at small size)."""
import pytest

from helpers import execute_notebook, images, notebook_outputs


def test_explore_network_notebook():
    nb = execute_notebook("explore_network.ipynb", env={"NB_NEURONS": "30", "NB_SAMPLES": "2", "MPLBACKEND": "module://matplotlib_inline.backend_inline"})
    outputs = notebook_outputs(nb)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert len(images(outputs)) == 3     # rasters, v traces, receptive fields: each shown once


@pytest.mark.slow
def test_custom_models_notebook(tmp_path):
    """The Brian2-docs rule, written verbatim, trains in standalone, shows traces, saves, and is
    evaluated by a fresh CLI process (small sizes; embedded digits when no data is set)."""
    nb = execute_notebook("custom_models.ipynb", timeout=900, env={"NB_NEURONS": "12", "NB_TRAIN": "40", "NB_TEST": "20",
                                                           "NB_OUT": str(tmp_path / "run"),
                                                           "MPLBACKEND": "module://matplotlib_inline.backend_inline"})
    outputs = notebook_outputs(nb)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "accuracy" in text and "differs from this one" in text, text
    assert len(images(outputs)) == 3     # v/θ traces, receptive fields, AdEx traces: each shown once
