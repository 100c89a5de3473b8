import os

import pytest

pytest.importorskip("torch")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "..", "notebooks", "torch_bridge.ipynb")


@pytest.mark.slow
def test_notebook_executes(data_dir):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env_before = os.environ.get("STDP_DATA_DIR")
    os.environ["STDP_DATA_DIR"] = data_dir
    try:
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
        client.execute()
    finally:
        if env_before is None:
            os.environ.pop("STDP_DATA_DIR", None)
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "ANN test accuracy" in outputs and "DIET T=5" in outputs and "'agreement': 1.0" in outputs
