"""Ctrl-C in a terminal (SIGINT to the whole foreground process group) and SIGTERM stop a command
cleanly: one line with where it stopped, exit 130, the checkpoint kept, no traceback from the
simulation program or the worker processes; the same command then resumes to the uninterrupted result."""
import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from stdp_toolkit.experiment import RunState
from stdp_toolkit.backends import default_build_root

CONFIG = "name: ctrlc\nn_neurons: 20\nchunk_presentations: 40\nlabel_samples: 40\n"


def command(*args):
    return [sys.executable, "-m", "stdp_toolkit.cli", *args, "--quiet"]


def env():
    return {k: v for k, v in os.environ.items() if k != "STDP_DATA_DIR"}  # the embedded digits


def interrupt_when(cmd, ready, sig, timeout=300, sigint=signal.SIG_DFL):
    """Start ``cmd`` in its own process group (like a terminal's foreground job), send ``sig`` to
    the whole group once ``ready()`` holds, and return (exit code, stderr). ``sigint``: the SIGINT
    disposition the command starts with (ignored: a background job or nohup)."""
    # SIGINT at its default, as in a terminal, also when the tests run in a background job (SIGINT ignored)
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
    t0 = time.time()
    while not ready() and proc.poll() is None and time.time() - t0 < timeout:
        time.sleep(0.05)
    assert proc.poll() is None, "the command ended before it could be interrupted"
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_training_keeps_its_checkpoint_and_resumes_exactly(tmp_path, sig):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(CONFIG)
    train = lambda out: command("train", str(cfg), "--train-samples", "240", "--out", str(out), "--seed", "4")
    ref = subprocess.run(train(tmp_path / "ref"), env=env(), capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr

    out = tmp_path / "run"
    code, err = interrupt_when(train(out), lambda: os.path.exists(out / "checkpoint.npz"), sig)
    assert code == 130, err
    assert "Traceback" not in err and "interrupted at" in err and "run the same command to resume" in err, err
    assert 0 < RunState.load(str(out)).samples_seen < 240
    assert not [p for p in os.listdir(out) if p.startswith(".tmp")]
    again = subprocess.run(train(out), env=env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    a, b = RunState.load(str(tmp_path / "ref")), RunState.load(str(out))
    for key in a.state:
        np.testing.assert_array_equal(a.state[key], b.state[key], err_msg=key)
    np.testing.assert_array_equal(a.assignments, b.assignments)


def test_a_job_started_with_sigint_ignored_keeps_ignoring_it(tmp_path):
    """nohup and background jobs start with SIGINT ignored; Brian2 wraps that handler on import and
    used to call SIG_IGN on Ctrl-C (TypeError). The run must go on and finish."""
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "run"
    code, err = interrupt_when(command("train", str(cfg), "--train-samples", "80", "--out", str(out)),
                               lambda: os.path.exists(out / "checkpoint.npz"), signal.SIGINT, sigint=signal.SIG_IGN)
    assert code == 0 and "Traceback" not in err, err
    assert RunState.load(str(out)).samples_seen == 80


def test_the_simulation_program_never_gets_the_terminals_ctrl_c():
    """Ctrl-C presses at every moment of program starts: none may reach the program. Its session
    used to be made by the ``setsid`` program after it had started; a Ctrl-C in that window killed
    it, and a job with SIGINT ignored failed with "Project run failed"."""
    script = """
import os, signal, subprocess, threading, time
from stdp_toolkit.backends.build import _program_in_own_session, _run_command
signal.signal(signal.SIGINT, lambda *a: None)
stop = threading.Event()
def press():
    while not stop.is_set():
        os.killpg(0, signal.SIGINT)
        time.sleep(0.0005)
threading.Thread(target=press, daemon=True).start()
program = _run_command()[:-1] + ["sleep", "0.005"]
with _program_in_own_session():
    codes = [subprocess.call(program) for _ in range(100)]
stop.set()
print(sum(c != 0 for c in codes))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          start_new_session=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0", f"{done.stdout.strip()} of 100 program starts were killed by Ctrl-C"


def test_interrupted_parallel_evaluation_exits_quietly(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "run"
    done = subprocess.run(command("train", str(cfg), "--train-samples", "40", "--out", str(out)), env=env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    # (labelling built the frozen network) 2 worker processes, each running the simulation
    # program in its own results folder: interrupt once one runs
    pattern = os.path.join(default_build_root(), "frozen-*", "results_*")
    before = set(glob.glob(pattern))
    running = lambda: bool(set(glob.glob(pattern)) - before)
    code, err = interrupt_when(command("evaluate", str(out), "--test-samples", "1000", "--workers", "2"),
                               running, signal.SIGINT)
    assert code == 130, err
    assert "Traceback" not in err and "Error" not in err and "interrupted" in err, err


def test_ctrl_c_during_compilation_is_an_interruption_not_a_compiler_failure():
    """Brian2 compiles through os.system: Ctrl-C kills make and Brian2 reports a failed compilation
    with the child's wait status. That status (killed by SIGINT/SIGTERM) becomes an interruption;
    a real compiler failure (make's exit code 2, wait status 512) stays an error."""
    from stdp_toolkit.backends.build import _compile_interruptible

    for status in (signal.SIGINT, signal.SIGTERM):
        with pytest.raises(KeyboardInterrupt):
            with _compile_interruptible():
                raise RuntimeError(f"Project compilation failed (error code: {int(status)}).")
    with pytest.raises(RuntimeError, match="512"):
        with _compile_interruptible():
            raise RuntimeError("Project compilation failed (error code: 512).")
