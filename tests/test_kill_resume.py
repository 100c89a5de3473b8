"""A training run killed with SIGKILL at random moments resumes to exactly the uninterrupted result.

Guarantee: checkpoints are replaced atomically after every chunk; a chunk's random seed is
derived from (seed, chunk index) and its initial state is the checkpointed one, so the chunks
re-run after a kill are bit-identical to the ones the uninterrupted run computed.
"""
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from stdp_toolkit.experiment import RunState

pytestmark = pytest.mark.slow

CONFIG = "name: killtest\nn_neurons: 20\nchunk_presentations: 40\nlabel_samples: 60\n"


def train_cmd(cfg, data, out):
    return [sys.executable, "-m", "stdp_toolkit.cli", "train", cfg, "--data-dir", data, "--train-samples", "200",
            "--out", out, "--seed", "3", "--quiet"]


@pytest.mark.parametrize("kills", [int(os.environ.get("STDP_KILLS", 6))])
def test_random_sigkills_then_resume_equal_uninterrupted_run(tmp_path, mnist_dir, kills):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(CONFIG)
    ref, out = str(tmp_path / "ref"), str(tmp_path / "killed")
    subprocess.run(train_cmd(str(cfg), mnist_dir, ref), check=True, capture_output=True, timeout=600)
    t_ref = time.time()
    subprocess.run(train_cmd(str(cfg), mnist_dir, str(tmp_path / "timing")), check=True, capture_output=True, timeout=600)
    duration = time.time() - t_ref

    rng = random.Random(0)
    killed = 0
    for _ in range(kills):
        proc = subprocess.Popen(train_cmd(str(cfg), mnist_dir, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # early enough that a run slowed by load is still going (a finished run cannot be killed)
        time.sleep(rng.uniform(0.1, 0.6) * duration)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        if os.path.exists(os.path.join(out, "checkpoint.npz")):
            RunState.load(out)  # never half-written
    final = subprocess.run(train_cmd(str(cfg), mnist_dir, out), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    assert killed >= 1
    a, b = RunState.load(ref), RunState.load(out)
    assert a.samples_seen == b.samples_seen == 200
    for key in a.state:
        np.testing.assert_array_equal(a.state[key], b.state[key], err_msg=key)
    np.testing.assert_array_equal(a.assignments, b.assignments)
    assert a.curve == b.curve
    assert not [f for f in os.listdir(out) if f.startswith(".tmp")]
