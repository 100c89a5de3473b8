import pytest

from helpers import execute_notebook, notebook_text

pytest.importorskip("torch")


@pytest.mark.slow
def test_notebook_runs(tmp_path):
    nb = execute_notebook("lite_snn.ipynb", env={"MPLBACKEND": "Agg"}, timeout=240, cwd=tmp_path)
    outputs = notebook_text(nb)
    assert "gradient on cue / mean" in outputs
    assert "lite     test acc" in outputs and "vanilla  test acc" in outputs
