"""Seed studies on Dask: every (config, seed) run trained and tested, one table, errors before any work."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from stdp_toolkit.errors import UserError

pytest.importorskip("distributed")


def _config(tmp_path, name, w_init):
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nn_neurons: 10\nchunk_presentations: 50\nlabel_samples: 20\nw_init: {w_init}\n")
    return str(path)


def test_a_study_trains_every_config_and_seed_and_summarises_them(tmp_path):
    from stdp_toolkit import plots
    from stdp_toolkit.study import markdown, run_study

    configs = [_config(tmp_path, "tiny-a", 0.3), _config(tmp_path, "tiny-b", 0.2)]
    out = tmp_path / "study"
    res = run_study(configs, [0, 1], str(out), train_samples=30, test_samples=20, workers=2)
    runs = res["runs"]
    assert [(r["config"], r["seed"]) for r in runs] == [("tiny-a", 0), ("tiny-a", 1), ("tiny-b", 0), ("tiny-b", 1)]
    for r in runs:   # every number in the table is the run's own evaluation, saved in its folder
        metrics = json.loads((out / f"{r['config']}-s{r['seed']}" / "metrics.json").read_text())
        assert metrics["evaluation"]["accuracy"] == r["accuracy"] and metrics["seed"] == r["seed"]
        assert r["samples_seen"] == 30 and r["test_samples"] == 20
    assert runs[0]["accuracy"] != runs[1]["accuracy"] or runs[0]["spikes_per_sample"] != runs[1]["spikes_per_sample"]
    for row, name in zip(res["summary"], ("tiny-a", "tiny-b")):
        acc = [r["accuracy"] for r in runs if r["config"] == name]
        assert row["config"] == name and row["seeds"] == [0, 1]
        assert row["accuracy_mean"] == pytest.approx(np.mean(acc))
        assert row["accuracy_sd"] == pytest.approx(np.std(acc, ddof=1))
        p = row["accuracy_mean"]
        assert row["test_standard_error"] == pytest.approx(math.sqrt(p * (1 - p) / 20))
    assert json.loads((out / "study.json").read_text())["summary"] == res["summary"]
    table = (out / "study.md").read_text()
    assert table == markdown(res["summary"]) + "\n" and "| tiny-a | 2 |" in table and "| tiny-b | 2 |" in table
    assert plots.study(res["summary"]).axes


def test_study_mistakes_stop_before_any_work(tmp_path):
    from stdp_toolkit.study import run_study

    a = _config(tmp_path, "tiny-a", 0.3)
    with pytest.raises(UserError, match="distinct seeds"):
        run_study([a], [0, 0], str(tmp_path / "s"))
    with pytest.raises(UserError, match="share the name 'tiny-a'"):
        run_study([a, a], [0], str(tmp_path / "s"))
    p = subprocess.run([sys.executable, "-m", "stdp_toolkit.cli", "study", a, "--seeds", "0,x", "--out",
                        str(tmp_path / "s")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == "stdp-toolkit study: error: --seeds must be comma-separated numbers, got '0,x'"
    assert not os.path.exists(tmp_path / "s" / "study.json")


def test_slices_run_in_process_inside_a_daemonic_worker(monkeypatch):
    """A Dask (or pool) worker is daemonic and may not start processes: labelling or testing there
    runs its slices itself instead of failing with "daemonic processes are not allowed to have children"."""
    import multiprocessing
    from types import SimpleNamespace

    from stdp_toolkit import experiment
    from stdp_toolkit.network.config import Config

    cfg = Config(name="tiny", n_neurons=4).validate()

    class Sim:
        backend = "standalone"

        def __init__(self):
            self.cfg, self.pids = cfg, []

        def run(self, images, state, seed):
            self.pids.append(os.getpid())
            return SimpleNamespace(consumed=len(images), counts=np.zeros((len(images), 4)),
                                   boosts=np.zeros(len(images)), runaway=False)

        def cleanup_run_args(self):
            pass

    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True, raising=False)
    monkeypatch.setattr(experiment, "rest_state", lambda cfg, state: state)
    sim = Sim()
    x = np.zeros((6, cfg.n_inputs))
    out = experiment._run_slices(sim, x, {}, 0, "label", [(0, np.arange(3)), (1, np.arange(3, 6))], workers=2)
    assert sorted(out) == [0, 1] and sim.pids == [os.getpid()] * 2
