"""Fault and bad-input sweep: every command given broken files, bad values and hostile paths.

Each case runs the command line in a fresh process (its own session, as a terminal job) with a
time limit, and is classified:

* ``clean``     - what a user should see: a refusal in one line with no traceback (exit != 0),
                  or a normal result where the input is valid;
* ``traceback`` - a Python traceback on stderr;
* ``hang``      - no exit within the limit;
* ``silent``    - exit 0 although the input is wrong, or a result that differs from the right one;
* ``unclear``   - refused, but in more than one line, or without the words that name the problem;
* ``lost``      - a file the user owned, or a finished checkpoint, changed or disappeared.

Usage::

    python bench/faults.py [--parts core,bridge,lite] [--json results.json] [--work DIR]

The core cases need no data (the embedded digits and small IDX files written here); the bridge
cases need MNIST under ``$STDP_DATA_DIR`` and are skipped without it; the LITE cases use the
generated recall task. Prints one line per case that is not clean, then the counts.
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

CLI = [sys.executable, "-m", "stdp_toolkit.cli"]
LIMIT_S = 240


# ------------------------------------------------------------------------------------------------
# running and classifying one case
# ------------------------------------------------------------------------------------------------
def run(argv, env=None, timeout=LIMIT_S, interrupt_when=None):
    """(exit code or None on a hang, stdout, stderr) of one command in its own session."""
    e = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    e = {k: v for k, v in e.items() if v is not None}
    # a terminal's job: SIGINT at its default even when this script runs in the background (where it is ignored)
    proc = subprocess.Popen(CLI + list(argv), env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        if interrupt_when is not None:
            t0 = time.time()
            while not interrupt_when() and proc.poll() is None and time.time() - t0 < timeout:
                time.sleep(0.05)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err


def snapshot(paths):
    """Content of files (or of every file under folders), to find out later what changed."""
    snap = {}
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                for f in files:
                    if not f.startswith(".lock"):
                        q = os.path.join(root, f)
                        snap[q] = open(q, "rb").read()
        elif os.path.exists(p):
            snap[p] = open(p, "rb").read()
        else:
            snap[p] = None
    return snap


def classify(case, rc, err):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    if rc is None:
        return "hang", "no exit in %d s" % case.get("timeout", LIMIT_S)
    if "Traceback (most recent call last)" in err:
        return "traceback", next((ln for ln in reversed(lines) if ln.strip()), "")
    if case["expect"] == "error" or (case["expect"] == "any" and rc != 0):
        if rc == 0:
            return "silent", "exit 0"
        if len(lines) != 1:
            return "unclear", f"{len(lines)} lines: " + " | ".join(lines[:3])
        missing = [w for w in case.get("words", ()) if w.lower() not in lines[0].lower()]
        if missing:
            return "unclear", f"lacks {missing}: {lines[0]}"
        return "clean", lines[0]
    if case["expect"] == "interrupt":
        if rc != 130 or len(lines) != 1 or "resume" not in lines[0]:
            return "unclear", f"exit {rc}: " + " | ".join(lines[-3:])
        return "clean", lines[0]
    if rc != 0:
        return "silent", f"exit {rc} on valid input: " + " | ".join(lines[-2:])
    return "clean", ""


def run_case(case):
    if case.get("setup"):
        case["setup"]()
    keep = snapshot(case.get("keep", ()))
    rc, out, err = run(case["argv"], case.get("env"), case.get("timeout", LIMIT_S), case.get("interrupt_when"))
    outcome, detail = classify(case, rc, err)
    if outcome == "clean" and case.get("check"):
        problem = case["check"](rc, out, err)
        if problem:
            outcome, detail = "silent", problem
    changed = [p for p, data in keep.items() if snapshot([p]).get(p) != data]
    if changed:
        outcome, detail = "lost", "changed: " + ", ".join(os.path.basename(p) for p in changed[:3])
    return outcome, detail


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------
def write_idx(path, array, magic_type=0x08, count=None):
    """An IDX file; ``count`` overrides the first dimension in the header (a truncated file)."""
    array = np.asarray(array)
    dims = list(array.shape)
    if count is not None:
        dims[0] = count
    header = struct.pack(">HBB", 0, magic_type, array.ndim) + b"".join(struct.pack(">I", d) for d in dims)
    dtype = {0x08: ">u1", 0x0C: ">i4"}[magic_type]
    with open(path, "wb") as fh:
        fh.write(header + array.astype(dtype).tobytes())


def idx_set(folder, x, y, xt=None, yt=None, label_type=0x08, train_count=None):
    os.makedirs(folder, exist_ok=True)
    xt = x[:50] if xt is None else xt
    yt = y[:50] if yt is None else yt
    write_idx(os.path.join(folder, "train-images-idx3-ubyte"), x, count=train_count)
    write_idx(os.path.join(folder, "train-labels-idx1-ubyte"), y, label_type)
    write_idx(os.path.join(folder, "t10k-images-idx3-ubyte"), xt)
    write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"), yt, label_type)
    return folder


def yaml_config(work, name, text):
    path = os.path.join(work, "configs", name + ".yaml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)
    return path


BASE = "name: tiny\nn_neurons: 10\nchunk_presentations: 50\nlabel_samples: 20\n"


# ------------------------------------------------------------------------------------------------
# core cases (train, evaluate, plot, report, sweep, demo)
# ------------------------------------------------------------------------------------------------
def core_cases(work):
    from stdp_toolkit import checkpoint
    from stdp_toolkit.datasets import load_embedded_digits

    x, y = load_embedded_digits("train")
    x, y = x[:100], y[:100]
    good = idx_set(os.path.join(work, "data", "good"), x, y)
    other = idx_set(os.path.join(work, "data", "other"), load_embedded_digits("train")[0][100:200], y)
    cfg = yaml_config(work, "tiny", BASE)
    run_dir = os.path.join(work, "run")
    t = ["--quiet"]
    rc, _, err = run(["train", cfg, "--data-dir", good, "--train-samples", "60", "--out", run_dir, *t])
    assert rc == 0, err
    ckpt = os.path.join(run_dir, "checkpoint.npz")
    original = checkpoint.load(ckpt)[0]
    cases = []

    def add(name, argv, expect="error", words=(), **kw):
        cases.append(dict(part="core", name=name, argv=argv, expect=expect, words=words, **kw))

    def fresh(name):
        return os.path.join(work, "out", name)

    # ---- config values ---------------------------------------------------------------------
    bad_values = {
        "w_init nan": ("w_init: .nan", ["w_init"]), "w_init inf": ("w_init: .inf", ["w_init"]),
        "theta_init nan": ("theta_init: .nan", ["theta_init"]), "tau_m 0": ("tau_m: 0", ["tau_m"]),
        "tau_m negative": ("tau_m: -100", ["tau_m"]), "w_ie huge": ("w_ie: 1.0e308", ["w_ie"]),
        "max_rate 1e9": ("max_rate: 1.0e9", ["rate"]), "norm_total inf": ("norm_total: .inf", ["norm_total"]),
        "n_neurons fraction": ("n_neurons: 100.5", ["n_neurons"]),
        "n_neurons 1e9": ("n_neurons: 1000000000", ["n_neurons"]),
        "n_neurons text": ("n_neurons: many", ["n_neurons"]), "dt 0": ("dt: 0", ["dt"]),
        "unknown method": ("method: rk99", ["method"]), "unknown rule": ("rule: hebbian", ["rule"]),
        "unknown key": ("tau_mm: 100", ["tau_mm"]), "tau_m with unit": ("tau_m: 100*ms", ["tau_m"]),
        "delay beyond rest": ("delay_max: 500", ["delay_max"]), "t_on 0": ("t_on: 0", ["t_on"]),
        "epochs 0": ("epochs: 0", ["epochs"]), "chunk 0": ("chunk_presentations: 0", ["chunk_presentations"]),
        "negative rate": ("max_rate: -5", ["max_rate"]), "w_init negative": ("w_init: -0.1", ["w_init"]),
        "theta_plus nan": ("theta_plus: .nan", ["theta_plus"]), "label_samples 0": ("label_samples: 0", ["label_samples"]),
    }
    for name, (line, words) in bad_values.items():
        text = BASE.replace("n_neurons: 10\n", "") + line + "\n" if line.startswith("n_neurons") else BASE + line + "\n"
        path = yaml_config(work, name.replace(" ", "_"), text)
        add(f"config {name}", ["train", path, "--data-dir", good, "--train-samples", "20", "--out", fresh(name), *t],
            words=words)
    for name, text, words in (("yaml syntax", BASE + "tau_m: [100\n", ["line"]),
                              ("duplicate key", BASE + "n_neurons: 20\n", ["n_neurons"]),
                              ("empty file", "", ["config"]), ("scalar", "42\n", ["config"]),
                              ("list", "- 1\n- 2\n", ["config"])):
        add(f"config {name}", ["train", yaml_config(work, name.replace(" ", "_"), text), "--data-dir", good,
                               "--out", fresh(name), *t], words=words)
    binary = os.path.join(work, "configs", "binary.yaml")
    with open(binary, "wb") as fh:
        fh.write(bytes(range(256)) * 4)
    add("config binary", ["train", binary, "--out", fresh("binary"), *t], words=["binary.yaml"])
    add("config missing", ["train", os.path.join(work, "none.yaml"), "--out", fresh("none"), *t], words=["not found"])
    add("config is a folder", ["train", work, "--out", fresh("cfgdir"), *t])

    # ---- command-line values ---------------------------------------------------------------
    for opt, val in (("--train-samples", "0"), ("--train-samples", "-5"), ("--train-samples", "x"),
                     ("--seed", "-1"), ("--seed", "1.5"), ("--label-samples", "0"), ("--backend", "gpu"),
                     ("--train-samples", "1000000")):
        add(f"train {opt} {val}", ["train", cfg, "--data-dir", good, "--out", fresh(f"o{opt}{val}"), opt, val, *t],
            words=[opt] if opt != "--train-samples" or val != "1000000" else ["samples"])
    for opt, val in (("--test-samples", "0"), ("--workers", "0"), ("--workers", "-2"), ("--backend", "tpu"),
                     ("--test-samples", "100000")):
        add(f"evaluate {opt} {val}", ["evaluate", run_dir, "--data-dir", good, opt, val, "--quiet"], keep=[ckpt])
    for spec in ("image:pixel:2", "image:foo:0.1", "audio:snr:-inf", "audio:snr:x", "image", "sound:pixel:0.1"):
        add(f"evaluate --noise {spec}", ["evaluate", run_dir, "--data-dir", good, "--noise", spec, "--quiet"],
            keep=[ckpt])
    add("plot --raster-samples 0", ["plot", run_dir, "--raster-samples", "0"], keep=[ckpt])
    add("report --samples 0", ["report", run_dir, "--samples", "0"], keep=[ckpt])
    for opt, val in (("--sparsities", ","), ("--sparsities", "1.5"), ("--sparsities", "x"), ("--levels", "1"),
                     ("--levels", "300"), ("--levels", ","), ("--scheduler", "nohost"),
                     ("--scheduler", "http://x:80"), ("--workers", "0")):
        add(f"sweep {opt} {val}", ["sweep", run_dir, "--data-dir", good, opt, val], keep=[ckpt])
    add("demo --neurons 0", ["demo", "--neurons", "0", "--out", fresh("demo0")])

    # ---- paths -----------------------------------------------------------------------------
    a_file = os.path.join(work, "a_file")
    with open(a_file, "w") as fh:
        fh.write("mine")
    add("train --out is a file", ["train", cfg, "--data-dir", good, "--out", a_file, *t], keep=[a_file])
    add("train --out under a file", ["train", cfg, "--data-dir", good, "--out", a_file + "/run", *t], keep=[a_file])
    add("sweep --out is a folder", ["sweep", run_dir, "--out", work], keep=[ckpt])
    add("sweep --out under a file", ["sweep", run_dir, "--out", a_file + "/s.json"], keep=[ckpt, a_file])
    add("demo --out is a file", ["demo", "--out", a_file], keep=[a_file])
    add("data dir missing", ["train", cfg, "--data-dir", os.path.join(work, "nowhere"), "--out", fresh("nd"), *t])
    add("data dir empty", ["train", cfg, "--data-dir", os.path.join(work, "configs"), "--out", fresh("de"), *t])
    add("evaluate no run", ["evaluate", os.path.join(work, "norun"), "--quiet"], words=["no checkpoint"])
    add("plot no run", ["plot", os.path.join(work, "norun")], words=["no checkpoint"])
    add("report no run", ["report", os.path.join(work, "norun")], words=["no checkpoint"])
    add("evaluate a file", ["evaluate", a_file, "--quiet"], keep=[a_file])
    mine = os.path.join(work, "mine")

    def make_mine():
        os.makedirs(os.path.join(mine, "figures"), exist_ok=True)
        with open(os.path.join(mine, "figures", "my.png"), "wb") as fh:
            fh.write(b"mine")
        with open(os.path.join(mine, "metrics.json"), "w") as fh:
            fh.write('{"mine": 1}')

    add("--no-resume into a user's folder", ["train", cfg, "--data-dir", good, "--out", mine, "--no-resume", *t],
        setup=make_mine, keep=[os.path.join(mine, "figures", "my.png"), os.path.join(mine, "metrics.json")])

    # ---- data files --------------------------------------------------------------------------
    def variant(name, **kw):
        folder = os.path.join(work, "data", name)
        args = dict(x=x, y=y)
        args.update(kw)
        return idx_set(folder, **args)

    blank = np.zeros_like(x)
    data_cases = {
        "labels 250": (variant("labels250", y=np.full(len(y), 250)), ["label"]),
        "int32 labels 300": (variant("labels300", y=np.full(len(y), 300), label_type=0x0C), ["label"]),
        "zero images": (variant("empty", x=x[:0], y=y[:0]), ["no image"]),
        "truncated images": (variant("trunc", train_count=200), ["truncated"]),
        "10x10 images": (variant("small", x=x[:, :10, :10], xt=x[:50, :10, :10]), ["28x28"]),
        "label count mismatch": (variant("mismatch", y=y[:90]), ["labels"]),
    }
    for name, (folder, words) in data_cases.items():
        add(f"data {name}", ["train", cfg, "--data-dir", folder, "--out", fresh("d" + name), *t],
            words=words)
    blank_dir = variant("blank", x=blank)
    stuck = yaml_config(work, "stuck", BASE.replace("chunk_presentations: 50", "chunk_presentations: 3"))
    add("blank images, chunk <= max_boosts", ["train", stuck, "--data-dir", blank_dir, "--train-samples", "5",
                                              "--out", fresh("stuck"), *t], words=["max_boosts"])
    gz = os.path.join(work, "data", "gz")
    os.makedirs(gz, exist_ok=True)
    for name in os.listdir(good):
        with open(os.path.join(good, name), "rb") as src, open(os.path.join(gz, name + ".gz"), "wb") as dst:
            dst.write(gzip.compress(src.read())[:-40])  # a cut download
    add("data gz cut short", ["train", cfg, "--data-dir", gz, "--out", fresh("gz"), *t], words=["gz"])
    wrong_magic = variant("magic")
    with open(os.path.join(wrong_magic, "train-images-idx3-ubyte"), "r+b") as fh:
        fh.write(b"\x12\x34")
    add("data wrong magic", ["train", cfg, "--data-dir", wrong_magic, "--out", fresh("magic"), *t])
    add("evaluate test labels 250", ["evaluate", run_dir, "--data-dir", variant("tl", yt=np.full(50, 250)), "--quiet"],
        keep=[ckpt], words=["label"])

    # ---- checkpoints -------------------------------------------------------------------------
    rng = np.random.default_rng(0)
    size = os.path.getsize(ckpt)

    def copy_run(name):
        dst = os.path.join(work, "ck", name)
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(run_dir, dst)
        return dst

    def flip_case(pos):
        dst = os.path.join(work, "ck", f"flip{pos}")

        def setup():
            copy_run(f"flip{pos}")
            with open(os.path.join(dst, "checkpoint.npz"), "r+b") as fh:
                fh.seek(pos)
                b = fh.read(1)
                fh.seek(pos)
                fh.write(bytes([b[0] ^ 0xFF]))

        def check(rc, out, err):
            if rc != 0:
                return None
            arrays = checkpoint.load(os.path.join(dst, "checkpoint.npz"))[0]
            same = arrays.keys() == original.keys() and all(np.array_equal(arrays[k], original[k]) for k in arrays)
            return None if same else "a damaged checkpoint evaluated with other weights"

        return dict(part="core", name=f"checkpoint byte {pos} flipped",
                    argv=["evaluate", dst, "--data-dir", good, "--test-samples", "20", "--quiet"],
                    expect="any", setup=setup, check=check)

    for pos in sorted(rng.choice(size, 40, replace=False)):
        cases.append(flip_case(int(pos)))

    def damaged(name, write):
        dst = os.path.join(work, "ck", name)

        def setup():
            copy_run(name)
            write(os.path.join(dst, "checkpoint.npz"))
        return dst, setup

    def truncate(p):
        with open(p, "r+b") as fh:
            fh.truncate(size // 2)

    def random_bytes(p):
        with open(p, "wb") as fh:
            fh.write(os.urandom(size))

    def rewrite(change):
        def write(p):
            arrays, meta = checkpoint.load(p)
            arrays, meta = change(dict(arrays), dict(meta))
            meta.pop("format", None)
            checkpoint.save(p, arrays, meta)
        return write

    for name, write, words in (
            ("truncated", truncate, ["corrupt"]), ("random bytes", random_bytes, ["corrupt"]),
            ("no theta", rewrite(lambda a, m: ({k: v for k, v in a.items() if k != "state_theta"}, m)), ["theta"]),
            ("labels 20-29", rewrite(lambda a, m: ({**a, "assignments": np.arange(10) + 20}, m)), ["labels"]),
            ("newer layout", rewrite(lambda a, m: (a, {**m, "layout": 99})), ["newer"]),
            ("older layout", rewrite(lambda a, m: (a, {k: v for k, v in m.items() if k != "train_samples"})), ["older"]),
            ("weights of another size", rewrite(lambda a, m: ({**a, "state_w": a["state_w"][:-7]}, m)), ["shape"]),
            ("NaN weights", rewrite(lambda a, m: ({**a, "state_w": a["state_w"] * np.nan}, m)), ["finite"])):
        dst, setup = damaged(name.replace(" ", "_"), write)
        add(f"checkpoint {name}", ["evaluate", dst, "--data-dir", good, "--test-samples", "20", "--quiet"],
            setup=setup, words=words)
    metrics_dst = os.path.join(work, "ck", "metrics")

    def bad_metrics():
        copy_run("metrics")
        with open(os.path.join(metrics_dst, "metrics.json"), "w") as fh:
            fh.write('{"train_seconds": 3')

    for cmd in ("evaluate", "plot"):
        add(f"{cmd} with a damaged metrics.json", [cmd, metrics_dst, "--data-dir", good] +
            (["--test-samples", "20", "--quiet"] if cmd == "evaluate" else []), setup=bad_metrics,
            keep=[os.path.join(metrics_dst, "metrics.json")], words=["metrics.json"])

    # ---- resume ------------------------------------------------------------------------------
    part = os.path.join(work, "part")
    rc, _, err = run(["train", cfg, "--data-dir", good, "--train-samples", "100", "--out", part, *t])
    assert rc == 0, err
    part_ck = os.path.join(part, "checkpoint.npz")
    for name, argv, words in (
            ("another seed", ["--seed", "1", "--data-dir", good], ["seed"]),
            ("another data set of the same size", ["--data-dir", other], ["data"]),
            ("another config", ["--data-dir", good], ["n_neurons"])):
        config = cfg if name != "another config" else yaml_config(work, "tiny11", BASE.replace("10", "11", 1))
        add(f"resume with {name}", ["train", config, "--train-samples", "100", "--out", part, *argv, *t],
            keep=[part_ck], words=words)

    # ---- interruption --------------------------------------------------------------------------
    intr = os.path.join(work, "intr")
    slow = yaml_config(work, "slow", BASE.replace("chunk_presentations: 50", "chunk_presentations: 20"))
    add("Ctrl-C while training", ["train", slow, "--data-dir", good, "--train-samples", "100", "--out", intr, *t],
        expect="interrupt", interrupt_when=lambda: os.path.exists(os.path.join(intr, "checkpoint.npz")))
    add("resume after Ctrl-C", ["train", slow, "--data-dir", good, "--train-samples", "100", "--out", intr, *t],
        expect="ok")
    # valid input must still work
    add("evaluate (valid)", ["evaluate", run_dir, "--data-dir", good, "--test-samples", "20", "--quiet"], expect="ok")
    return cases


# ------------------------------------------------------------------------------------------------
# PyTorch bridge cases (ann-train, convert, hybrid-train, diet-train, snn-eval, export)
# ------------------------------------------------------------------------------------------------
def bridge_cases(work, data_dir):
    cases = []
    out = os.path.join(work, "bridge")
    os.makedirs(out, exist_ok=True)
    ann = os.path.join(out, "ann.pt")
    quick = ["--data-dir", data_dir, "--limit-train", "300", "--limit-test", "100", "--no-progress"]
    rc, _, err = run(["ann-train", "--arch", "mlp", "--hidden", "32", "--epochs", "1", "--out", ann, *quick])
    assert rc == 0, err
    snn = os.path.join(out, "snn.pt")
    rc, _, err = run(["convert", "--checkpoint", ann, "--out", snn, "--timesteps", "10", "--curve", "10",
                      "--balance-samples", "50", "--balance-steps", "10", *quick])
    assert rc == 0, err

    def add(name, argv, expect="error", words=(), **kw):
        cases.append(dict(part="bridge", name=name, argv=argv, expect=expect, words=words, **kw))

    train = ["ann-train", "--arch", "mlp", "--hidden", "16", "--epochs", "1", "--max-batches", "2"]
    for opt, val in (("--device", "tpu"), ("--dropout", "1.5"), ("--dropout", "-0.1"), ("--limit-train", "0"),
                     ("--limit-train", "-5"), ("--limit-test", "0"), ("--epochs", "0"), ("--batch-size", "0"),
                     ("--lr", "nan"), ("--lr", "-1"), ("--weight-decay", "-1"), ("--seed", "-1"),
                     ("--threads", "0"), ("--hidden", ","), ("--hidden", "0"), ("--width", "0"),
                     ("--arch", "vgg99"), ("--max-batches", "0")):
        args = [a for a in quick if a not in ("--limit-train", "300")] if opt == "--limit-train" else quick
        add(f"ann-train {opt} {val}", train + ["--out", os.path.join(out, "x.pt"), *args, opt, val], words=[opt])
    for opt, val in (("--timesteps", "0"), ("--curve", ","), ("--curve", "0,10"), ("--percentile", "0"),
                     ("--percentile", "101"), ("--scale", "nan"), ("--balance-samples", "0"),
                     ("--balance-steps", "0"), ("--input-scale", "-1")):
        add(f"convert {opt} {val}", ["convert", "--checkpoint", ann, "--out", os.path.join(out, "c.pt"), *quick,
                                     opt, val], words=[opt], keep=[ann])
    a_file = os.path.join(out, "a_file")
    with open(a_file, "w") as fh:
        fh.write("mine")
    add("ann-train --out is a folder", train + ["--out", out, *quick], keep=[ann])
    add("ann-train --out under a file", train + ["--out", a_file + "/x.pt", *quick], keep=[a_file])
    add("convert --out under a file", ["convert", "--checkpoint", ann, "--out", a_file + "/c.pt", *quick],
        keep=[a_file, ann])
    add("convert without checkpoint", ["convert", "--checkpoint", os.path.join(out, "none.pt"),
                                       "--out", os.path.join(out, "c.pt"), *quick])
    add("convert an SNN checkpoint", ["convert", "--checkpoint", snn, "--out", os.path.join(out, "c2.pt"), *quick],
        keep=[snn])
    add("snn-eval an ANN checkpoint", ["snn-eval", "--checkpoint", ann, *quick], keep=[ann])
    add("export --device tpu", ["export", "--checkpoint", snn, "--format", "nir", "--out",
                                os.path.join(out, "g.nir"), "--device", "tpu"], keep=[snn], words=["--device"])
    add("ann-train over a trained checkpoint", train + ["--out", ann, *quick], keep=[ann])
    add("ann-train --resume with another lr", train + ["--out", ann, "--resume", "--lr", "0.5", *quick], keep=[ann],
        words=["lr"])
    rng = np.random.default_rng(1)
    size = os.path.getsize(snn)
    import torch

    from stdp_toolkit import checkpoint
    for pos in sorted(rng.choice(size, 30, replace=False)):
        dst = os.path.join(out, f"flip{pos}.pt")

        def setup(pos=pos, dst=dst):
            shutil.copy(snn, dst)
            with open(dst, "r+b") as fh:
                fh.seek(pos)
                b = fh.read(1)
                fh.seek(pos)
                fh.write(bytes([b[0] ^ 0xFF]))

        def check(rc, o, e, dst=dst):
            if rc != 0:
                return None
            a, b = checkpoint.load_torch(dst, "torch-bridge"), checkpoint.load_torch(snn, "torch-bridge")
            same = all(torch.equal(a["model_state"][k], b["model_state"][k]) for k in b["model_state"])
            return None if same else "a damaged checkpoint evaluated with other weights"

        cases.append(dict(part="bridge", name=f"checkpoint byte {pos} flipped", expect="any", setup=setup,
                          check=check, argv=["snn-eval", "--checkpoint", dst, *quick]))
    return cases


# ------------------------------------------------------------------------------------------------
# LITE-SNN cases (lite-train, lite-report)
# ------------------------------------------------------------------------------------------------
def lite_cases(work):
    cases = []
    out = os.path.join(work, "lite")
    base = ["lite-train", "--task", "recall", "--model", "lite", "--epochs", "1", "--n-train", "64", "--length", "20",
            "--eval-limit", "32"]
    rc, _, err = run(base + ["--out", out])
    assert rc == 0, err
    ck = os.path.join(out, "recall_lite_L20.pt")

    def add(name, argv, expect="error", words=(), **kw):
        cases.append(dict(part="lite", name=name, argv=argv, expect=expect, words=words, **kw))

    for opt, val in (("--epochs", "0"), ("--batch-size", "0"), ("--lr", "nan"), ("--lr", "0"), ("--seed", "-1"),
                     ("--threads", "0"), ("--dropout", "1.5"), ("--n-train", "0"), ("--length", "0"),
                     ("--channels", "0"), ("--kernel", "0"), ("--max-minutes", "-1"), ("--eval-limit", "0"),
                     ("--hidden", "16")):
        add(f"lite-train {opt} {val}", base + ["--out", os.path.join(work, "lite_bad"), opt, val], words=[opt])
    add("lite-train over a trained checkpoint", base + ["--out", out], keep=[ck])
    for opt, val in (("--seed", "1"), ("--lr", "0.01")):
        add(f"lite-train --resume with another {opt}", base + ["--out", out, "--resume", opt, val], keep=[ck],
            words=[opt.strip("-")])
    a_file = os.path.join(work, "lite_file")
    with open(a_file, "w") as fh:
        fh.write("mine")
    add("lite-train --out is a file", base + ["--out", a_file], keep=[a_file])
    add("lite-train --out under a file", base + ["--out", a_file + "/x"], keep=[a_file])
    add("lite-train sst2 without data", ["lite-train", "--task", "sst2", "--data-dir", os.path.join(work, "nowhere"),
                                         "--out", os.path.join(work, "lite_nd")])
    add("lite-report no results", ["lite-report", "--runs", os.path.join(work, "nowhere")])
    flips = np.random.default_rng(2).choice(os.path.getsize(ck), 15, replace=False)
    for pos in sorted(flips):
        dst = os.path.join(work, f"lite_flip{pos}")

        def setup(pos=pos, dst=dst):
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(out, dst)
            with open(os.path.join(dst, "recall_lite_L20.pt"), "r+b") as fh:
                fh.seek(pos)
                b = fh.read(1)
                fh.seek(pos)
                fh.write(bytes([b[0] ^ 0xFF]))

        cases.append(dict(part="lite", name=f"checkpoint byte {pos} flipped, --resume", expect="any", setup=setup,
                          argv=base + ["--out", dst, "--resume", "--epochs", "2"]))
    return cases


# ------------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="core,bridge,lite")
    ap.add_argument("--json", default=None, help="write every case and its outcome here")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one, removed after)")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="faults-")
    parts = args.parts.split(",")
    data_dir = os.environ.get("STDP_DATA_DIR")
    cases = []
    if "core" in parts:
        cases += core_cases(work)
    if "bridge" in parts:
        if data_dir:
            cases += bridge_cases(work, data_dir)
        else:
            print("bridge cases skipped: set STDP_DATA_DIR to the folder holding mnist/", file=sys.stderr)
    if "lite" in parts:
        cases += lite_cases(work)
    counts, results = collections.Counter(), []
    t0 = time.time()
    for i, case in enumerate(cases, 1):
        outcome, detail = run_case(case)
        counts[outcome] += 1
        results.append(dict(part=case["part"], name=case["name"], outcome=outcome, detail=detail))
        if outcome != "clean":
            print(f"[{i}/{len(cases)}] {outcome:9s} {case['part']}: {case['name']}: {detail}", flush=True)
    summary = dict(cases=len(cases), seconds=round(time.time() - t0), **{k: counts[k] for k in
               ("clean", "traceback", "hang", "silent", "unclear", "lost")})
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(summary=summary, cases=results), fh, indent=1)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if counts["clean"] == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
