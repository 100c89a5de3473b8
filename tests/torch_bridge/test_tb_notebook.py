import pytest

from helpers import execute_notebook, notebook_text

pytest.importorskip("torch")


@pytest.mark.slow
def test_notebook_executes(data_dir):
    nb = execute_notebook("torch_bridge.ipynb", env={"STDP_DATA_DIR": data_dir})
    outputs = notebook_text(nb)
    assert "ANN test accuracy" in outputs and "DIET T=5" in outputs and "'agreement': 1.0" in outputs
