"""Plot functions: a new figure stays out of pyplot, ``ax=``/``axes=`` draw into the caller's, save() writes both.

Why it matters: a pyplot-managed figure returned as a notebook cell's value is shown twice (by the
inline backend at the end of the cell and as the value), and scripts pile up open pyplot figures.
"""
import os
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from stdp_toolkit import plots  # noqa: E402
from stdp_toolkit.errors import UserError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rng = np.random.default_rng(0)

# name -> (function, args, kwargs): small synthetic inputs
ONE_AXES = {
    "receptive_fields": (plots.receptive_fields, (rng.random((16, 5)),), dict(shape=(4, 4))),
    "theta_histogram": (plots.theta_histogram, (rng.random(30) * 0.02,), {}),
    "confusion": (plots.confusion, (rng.integers(0, 9, (4, 4)),), {}),
    "learning_curve": (plots.learning_curve, ([(10, 0.2), (20, 0.5), (30, 0.7)],), {}),
    "assignments_histogram": (plots.assignments_histogram, (rng.integers(0, 10, 25),), {}),
    "pruning_masks": (plots.pruning_masks, ((rng.random((9, 4)) > 0.5).astype(float),), dict(shape=(3, 3))),
    "weight_histograms": (plots.weight_histograms, (rng.random(50), np.round(rng.random(50) * 4) / 4),
                          dict(mask=rng.random(50) > 0.3, bins=10)),
    "pareto": (plots.pareto, ([dict(bits_per_synapse=b, accuracy=a, sparsity=s, levels=lv)
                               for b, a, s, lv in ((32, 0.9, 0.0, None), (4, 0.88, 0.5, 16), (2, 0.8, 0.7, 4))],), {}),
}
# functions that draw on several Axes: name -> (function, args, kwargs, how many Axes they need)
ENSEMBLES = (SimpleNamespace(name="image", neurons=slice(0, 4)), SimpleNamespace(name="audio", neurons=slice(4, 10)))
MANY_AXES = {
    "rasters": (plots.rasters, ({"input": (rng.integers(0, 8, 40), rng.random(40) * 0.5),
                                 "excitatory": (rng.integers(0, 4, 10), rng.random(10) * 0.5),
                                 "inhibitory": (np.array([], int), np.array([]))},),
                dict(t_max=0.5, boundaries=0.25), 3),
    "cross_weights": (plots.cross_weights, (rng.random((10, 10)), rng.integers(0, 3, 10), ENSEMBLES), {}, 2),
    "noise_curves": (plots.noise_curves, ({"image pixel | image": [(0, 0.9), (0.3, 0.6)],
                                           "image pixel | both": [(0, 0.95), (0.3, 0.8)],
                                           "audio snr | both": [(20, 0.9), (0, 0.4)]},), {}, 2),
}


def drawn(ax) -> int:
    """How many data artists an Axes holds (lines, images, bars, collections, text)."""
    return len(ax.lines) + len(ax.images) + len(ax.patches) + len(ax.collections) + len(ax.texts)


@pytest.fixture(autouse=True)
def no_pyplot_figures_left():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "a plot function left a figure in pyplot"


@pytest.mark.parametrize("name", list(ONE_AXES) + list(MANY_AXES))
def test_without_ax_returns_a_figure_pyplot_does_not_hold(name, tmp_path):
    fn, args, kw = (ONE_AXES.get(name) or MANY_AXES[name])[:3]
    before = plt.get_fignums()
    fig = fn(*args, **kw)
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before  # pyplot never saw it, so it is not shown a second time
    assert fig.axes and sum(drawn(a) for a in fig.axes) > 0
    path = plots.save(fig, str(tmp_path / f"{name}.png"))
    assert path == str(tmp_path / f"{name}.png")
    with open(path, "rb") as fh:
        head = fh.read(8)
    assert head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 1000
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


@pytest.mark.parametrize("name", list(ONE_AXES))
def test_with_ax_draws_into_it_and_returns_it(name, tmp_path):
    fn, args, kw = ONE_AXES[name]
    fig = Figure()
    ax, other = fig.subplots(1, 2)
    n_axes = len(fig.axes)
    out = fn(*args, ax=ax, **kw)
    assert out is ax
    assert drawn(ax) > 0 and drawn(other) == 0
    # a colorbar, where there is one, goes to the Axes' own figure
    has_colorbar = name in ("receptive_fields", "confusion", "pareto")
    assert len(fig.axes) == n_axes + has_colorbar
    plots.save(out, str(tmp_path / "via_ax.png"))  # an Axes: its whole figure is written
    assert os.path.getsize(tmp_path / "via_ax.png") > 1000


@pytest.mark.parametrize("name", list(MANY_AXES))
def test_with_axes_draws_into_each_and_returns_them(name, tmp_path):
    fn, args, kw, n = MANY_AXES[name]
    fig = Figure()
    axes = fig.subplots(1, n + 1)
    mine, spare = axes[:n], axes[n]
    out = fn(*args, axes=mine, **kw)
    assert out is mine
    assert sum(drawn(a) > 0 for a in mine) >= n - (name == "rasters")  # rasters: one population is empty
    assert drawn(mine[0]) > 0 and drawn(spare) == 0
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    assert not {"Cross-modal weights", "Accuracy under noise"} & set(texts)  # no title put on the caller's figure
    plots.save(out, str(tmp_path / "via_axes.png"))
    assert os.path.getsize(tmp_path / "via_axes.png") > 1000


@pytest.mark.parametrize("name", list(MANY_AXES))
def test_wrong_number_of_axes_is_one_clear_line(name):
    fn, args, kw, n = MANY_AXES[name]
    axes = Figure().subplots(1, n + 1)
    with pytest.raises(UserError, match=rf"^{name}\(axes=...\) needs {n} Axes .*got {n + 1}") as exc:
        fn(*args, axes=axes, **kw)
    assert "\n" not in str(exc.value)


def test_ax_must_be_an_axes():
    with pytest.raises(UserError, match="ax= must be a matplotlib Axes"):
        plots.theta_histogram(np.zeros(3), ax=Figure())
    with pytest.raises(UserError, match="save.. needs a matplotlib Figure or Axes"):
        plots.save("not a figure", "x.png")


def test_save_leaves_a_pyplot_figure_open(tmp_path):
    """save() closes nothing: a user's pyplot figure must still be shown at the end of the cell."""
    fig, ax = plt.subplots()
    try:
        plots.confusion(np.eye(3, dtype=int), ax=ax)
        plots.save(fig, str(tmp_path / "mine.png"))
        assert fig.number in plt.get_fignums()
        assert os.path.getsize(tmp_path / "mine.png") > 1000
    finally:
        plt.close(fig)


def test_save_writes_other_formats_and_subfigures(tmp_path):
    root = Figure()
    sub = root.subfigures(1, 2)[1]
    ax = sub.add_subplot()
    plots.learning_curve([(1, 0.5), (2, 0.6)], ax=ax)
    with open(plots.save(ax, str(tmp_path / "curve.svg")), "rb") as fh:
        assert b"<svg" in fh.read(2000)


def test_notebook_shows_each_figure_once(monkeypatch):
    """In a fresh kernel: a returned Figure as the cell's value is one image; so is a pyplot figure
    drawn into with ax= (shown by pyplot; the returned Axes is text). Even before pyplot is used."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib_inline")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    cells = [
        "import numpy as np\nfrom stdp_toolkit import plots\nplots.theta_histogram(np.ones(5) * 0.01)",
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nplots.theta_histogram(np.ones(5) * 0.01, ax=ax)",
        "plots.confusion(np.eye(3, dtype=int))",
        "fig = plots.learning_curve([(1, 0.5)])",  # assigned, not the value: shown nowhere
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": ROOT}}).execute()
    outs = [c.outputs for c in nb.cells]
    assert not [o for cell in outs for o in cell if o.output_type == "error"], outs
    images = [sum("image/png" in o.get("data", {}) for o in cell) for cell in outs]
    assert images == [1, 1, 1, 0], (images, outs)
    assert "Axes" in "".join(o.get("data", {}).get("text/plain", "") for o in outs[1])
