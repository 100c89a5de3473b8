"""The CLI: user mistakes give one line on stderr and a non-zero exit, never a traceback."""
import json
import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "stdp_toolkit.cli"]


def run_cli(*args, env=None, cwd=None):
    e = {**os.environ, **(env or {})}
    return subprocess.run(CLI + list(args), capture_output=True, text=True, env=e, cwd=cwd, timeout=900)


def assert_user_error(proc, *words):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("name: tiny\nn_neurons: 10\nchunk_presentations: 50\nlabel_samples: 20\n")
    return str(path)


def test_missing_data_directory(config, tmp_path):
    p = run_cli("train", config, "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"))
    assert_user_error(p, "data directory not found", "nowhere")


def test_corrupt_idx(config, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x05" * 3 + b"\x01" * 10)
    (d / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05" + b"\x01" * 5)
    p = run_cli("train", config, "--data-dir", str(d), "--out", str(tmp_path / "run"))
    assert_user_error(p, "train-images-idx3-ubyte", "truncated or corrupt")


def test_unknown_rule(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("n_neurons: 10\nrule: hebbian\n")
    p = run_cli("train", str(cfg), "--out", str(tmp_path / "run"))
    assert_user_error(p, "unknown STDP rule 'hebbian'", "dc_trace")


@pytest.mark.parametrize("args, words", [
    (["--train-samples", "-5"], ["--train-samples", "integer >= 1"]),
    (["--train-samples", "many"], ["--train-samples", "whole number"]),
])
def test_bad_sizes_on_the_command_line(config, tmp_path, args, words):
    p = run_cli("train", config, "--out", str(tmp_path / "run"), *args)
    assert_user_error(p, *words)


def test_negative_size_in_config(tmp_path):
    cfg = tmp_path / "neg.yaml"
    cfg.write_text("n_neurons: -100\n")
    p = run_cli("train", str(cfg), "--out", str(tmp_path / "run"))
    assert_user_error(p, "n_neurons must be an integer > 0")


def test_missing_config_and_run(tmp_path):
    assert_user_error(run_cli("train", str(tmp_path / "none.yaml"), "--out", str(tmp_path)), "config file not found")
    assert_user_error(run_cli("evaluate", str(tmp_path / "norun")), "no checkpoint")


def test_no_resume_never_deletes_files_of_a_folder_that_holds_no_run(config, tmp_path):
    out = tmp_path / "mine"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "my_plot.png").write_bytes(b"not the toolkit's")
    (out / "metrics.json").write_text('{"mine": 1}')
    p = run_cli("train", config, "--out", str(out), "--no-resume", "--train-samples", "10")
    assert_user_error(p, "no run", "not this toolkit's to delete")
    assert (out / "figures" / "my_plot.png").exists() and (out / "metrics.json").read_text() == '{"mine": 1}'


def test_a_damaged_metrics_file_is_reported_not_replaced(config, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text('{"train_seconds": 3600, ')
    p = run_cli("train", config, "--out", str(out), "--train-samples", "10")
    assert_user_error(p, "metrics.json is not valid JSON", "move it away")
    assert (out / "metrics.json").read_text() == '{"train_seconds": 3600, '
    assert not (out / "checkpoint.npz").exists()  # refused before any work


def test_output_paths_are_checked_before_any_work(config, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    assert_user_error(run_cli("train", config, "--out", str(a_file)), "is a file, not a folder")
    assert_user_error(run_cli("train", config, "--out", str(a_file / "run")), "lies under", "which is a file")
    assert_user_error(run_cli("demo", "--out", str(a_file)), "is a file, not a folder")
    assert_user_error(run_cli("sweep", str(tmp_path / "run"), "--out", str(tmp_path)), "is a folder")
    assert a_file.read_text() == "mine"


def test_sweep_values_are_checked_before_any_work(tmp_path):
    import numpy as np

    from stdp_toolkit.experiment import RunState
    from stdp_toolkit.network.config import Config
    from stdp_toolkit.network.state import initial_state

    assert_user_error(run_cli("sweep", str(tmp_path / "run"), "--sparsities", ","), "at least one sparsity")
    cfg = Config(n_neurons=10).validate()
    RunState(cfg=cfg, seed=0, state=initial_state(cfg, 0), assignments=np.zeros(10, np.uint8)).save(str(tmp_path))
    for address in ("nohost", "http://x:80"):
        p = run_cli("sweep", str(tmp_path), "--scheduler", address)
        assert_user_error(p, "not a Dask scheduler address", "tcp://host:8786")
    assert not (tmp_path / "sweep.json").exists()


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path):
    import errno

    from stdp_toolkit import checkpoint
    from stdp_toolkit.errors import UserError

    target = tmp_path / "metrics.json"
    target.write_text("{}\n")

    def full(fh):
        fh.write(b"{")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(UserError, match="No space left on device"):
        checkpoint.atomic_write(str(target), full)
    assert target.read_text() == "{}\n" and os.listdir(tmp_path) == ["metrics.json"]


@pytest.mark.slow
def test_train_evaluate_plot_on_real_data(config, tmp_path, mnist_dir):
    # 100 samples: two blocks of 50, so the running-accuracy curve gets its first point (and a figure)
    out = str(tmp_path / "run")
    p = run_cli("train", config, "--data-dir", mnist_dir, "--train-samples", "100", "--label-samples", "100",
                "--out", out, "--quiet")
    assert p.returncode == 0, p.stderr
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    for key in ("train_samples", "train_seconds", "seconds_per_sample", "backend", "n_neurons"):
        assert key in metrics
    assert metrics["train_samples"] == 100 and metrics["n_neurons"] == 10 and metrics["label_samples"] == 100
    assert [n for n, _ in metrics["curve"]] == [100]
    p = run_cli("evaluate", out, "--data-dir", mnist_dir, "--test-samples", "100", "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["test_samples"] == 100 and res["seconds"] > 0
    # the printed accuracy is the one saved in metrics.json, and the saved confusion matrix agrees with it
    saved = json.load(open(os.path.join(out, "metrics.json")))["evaluation"]
    assert saved["accuracy"] == res["accuracy"] and saved["test_samples"] == 100
    confusion = saved["confusion"]
    assert sum(map(sum, confusion)) == 100
    assert sum(confusion[i][i] for i in range(10)) == round(100 * res["accuracy"])
    # chance is 10 %; this small run (10 neurons, 100 samples) scored 19-37 % with seeds 0-11 (seed 0, used here: 28 %)
    assert res["accuracy"] >= 0.15, res
    p = run_cli("plot", out, "--data-dir", mnist_dir, "--raster-samples", "2")
    assert p.returncode == 0, p.stderr
    figs = {"receptive_fields.png", "theta.png", "learning_curve.png", "assignments.png", "confusion.png",
            "rasters.png"}
    assert set(os.listdir(os.path.join(out, "figures"))) == figs
    assert sorted(os.path.basename(line) for line in p.stdout.split()) == sorted(figs)
