"""Two runs of one config at the same time (two seeds in two terminals or notebooks) share the
cached C++ build, never each other's results: each equals its sequential result bit for bit."""
import os
import subprocess
import sys

import numpy as np

from stdp_toolkit import experiment
from stdp_toolkit.datasets import load_embedded_digits
from stdp_toolkit.network.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))


def train_and_respond(out: str, seed: int) -> None:
    """Train a small network, then evaluate it with 2 worker processes; save both results."""
    x, y = load_embedded_digits("train")
    cfg = Config(n_neurons=30, chunk_presentations=60).validate()
    run = experiment.train(cfg, x[:240], y[:240], out, seed=seed, quiet=True)
    np.savez(os.path.join(out, "result.npz"), **run.state)
    counts, boosts = experiment.respond(run, x[240:480], "test", quiet=True, workers=2)
    np.savez(os.path.join(out, "result_eval.npz"), counts=counts, boosts=boosts)


def _load(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def test_two_trainings_and_two_evaluations_at_once_equal_their_sequential_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("STDP_BUILD_DIR", str(tmp_path / "builds"))
    seq, par = tmp_path / "sequential", tmp_path / "parallel"
    for seed in (1, 2):  # one after the other, in this process (this also builds both networks)
        train_and_respond(str(seq / f"s{seed}"), seed)
    # the same two at once, in two processes: training overlaps training, evaluation evaluation
    code = f"import sys; sys.path.insert(0, {HERE!r}); import test_concurrency as t; " \
           "t.train_and_respond(sys.argv[1], int(sys.argv[2]))"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(par / f"s{seed}"), str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for seed in (1, 2)]
    for p in procs:
        output, _ = p.communicate(timeout=600)
        assert p.returncode == 0, output
    for seed in (1, 2):
        for name in ("result.npz", "result_eval.npz"):
            a, b = _load(seq / f"s{seed}" / name), _load(par / f"s{seed}" / name)
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"seed {seed}, {name}: {key}")
    # the two seeds really are different runs, and no run left files behind in the shared build
    assert not np.array_equal(_load(seq / "s1" / "result.npz")["w"], _load(seq / "s2" / "result.npz")["w"])
    for build in (tmp_path / "builds").iterdir():
        if build.is_dir():
            assert not [p for p in os.listdir(build) if p.startswith("results_")], build
            assert not [p for p in os.listdir(build / "static_arrays") if p.startswith("init_")], build


def test_a_run_folder_in_use_is_refused_and_freed_when_its_writer_dies(tmp_path):
    import pytest

    from stdp_toolkit import checkpoint
    from stdp_toolkit.errors import UserError

    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom stdp_toolkit import checkpoint\n"
                               "with checkpoint.run_lock(sys.argv[1]):\n    print('locked', flush=True)\n"
                               "    time.sleep(600)", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        x, y = load_embedded_digits("train")
        with pytest.raises(UserError, match="being written by another run"):
            experiment.train(Config(n_neurons=10).validate(), x[:10], y[:10], str(tmp_path))
    finally:
        holder.kill()
        holder.wait()
    with checkpoint.run_lock(str(tmp_path)):  # kill -9 released it
        with checkpoint.run_lock(str(tmp_path)):  # nested use in one process
            pass
