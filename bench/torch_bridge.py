#!/usr/bin/env python
"""Benchmarks of the PyTorch bridge (docs/benchmarks.md, section 3).

Runs the CLI pipeline and collects every command's ``--json`` output into ``<out>/results.json``:

  MNIST   VGG5 (width 0.25, FC 256): ann-train → convert (curve T ≤ 100) → hybrid-train (STDB, T=25)
                                     ann → diet-train (T=5) → snn-eval (energy) → export brian2 (100 samples)
  MNIST   MLP 784-100-10:            ann-train → convert → diet-train → export --format brian2 (agreement)
  CIFAR10 VGG5 (width 0.25, FC 256): ann-train → diet-train (T=5) → snn-eval (energy)

Usage:  python bench/torch_bridge.py --data-dir ../shared/data --out runs/bench-torch-bridge [--only mnist,mlp,cifar]
                                     [--seeds 0,1,2] [--no-export]
With ``--seeds`` every command gets ``--seed S`` and each seed its own folder ``<out>/seed-<S>``; the script ends
with each accuracy as mean ± sd over the seeds. ``--no-export`` leaves out the Brian2 exports (agreement checks,
not accuracies).
Each step is skipped when its result is already in results.json, so an interrupted run resumes
(training commands continue their checkpoints with --resume).  The options below are the ones recorded in
the benchmark document; lower --epochs / --max-batches / --limit-test for a quicker run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def run(name, argv, results, path, log_dir, skip=False):
    if skip:
        return None
    if name in results:
        print(f"[skip] {name} (already in {path})")
        return results[name]
    print(f"[run ] {name}: stdp-toolkit {' '.join(argv)}", flush=True)
    t0 = time.time()
    resume = ["--resume"] if argv[0] in ("ann-train", "hybrid-train", "diet-train") else []  # continue a cut run
    with open(os.path.join(log_dir, f"{name}.log"), "w") as log:
        proc = subprocess.run([sys.executable, "-m", "stdp_toolkit.cli"] + argv + resume + ["--json", "--no-progress"],
                              stdout=subprocess.PIPE, stderr=log, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed (exit {proc.returncode}); see {log_dir}/{name}.log")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["bench_wall_seconds"] = time.time() - t0
    res["argv"] = argv
    results[name] = res
    with open(path, "w") as fh:
        json.dump(results, fh, indent=1)
    return res


def accuracy(res):
    """The headline figure of one command's JSON: test accuracy (the SNN's for convert), or agreement for an export."""
    for key in ("test_acc", "snn_acc", "accuracy", "agreement"):
        if key in res:
            return res[key]
    return None


def pipeline(a, out, common, results, path):
    """Every step of the benchmark into one folder; steps already in ``results`` are skipped."""
    o = lambda f: os.path.join(out, f)  # noqa: E731
    only = set(a.only.split(","))
    if "mlp" in only:
        run("mlp_ann", ["ann-train", "--arch", "mlp", "--hidden", "100", "--epochs", "8", "--out", o("mlp_ann.pt")] + common,
            results, path, out)
        run("mlp_convert", ["convert", "--checkpoint", o("mlp_ann.pt"), "--out", o("mlp_conv.pt"), "--timesteps", "50",
                            "--curve", "5,10,25,50", "--scale", "1.0", "--balance-steps", "50"] + common, results, path, out)
        run("mlp_diet", ["diet-train", "--checkpoint", o("mlp_ann.pt"), "--out", o("mlp_diet.pt"), "--epochs", "2"] + common,
            results, path, out)
        run("mlp_brian2_diet", ["export", "--format", "brian2", "--checkpoint", o("mlp_diet.pt"), "--samples", "10000",
                                "--out", o("brian2_diet")] + common, results, path, out, skip=a.no_export)
        run("mlp_brian2_conv", ["export", "--format", "brian2", "--checkpoint", o("mlp_conv.pt"), "--samples", "1000",
                                "--out", o("brian2_conv")] + common, results, path, out, skip=a.no_export)
    if "mnist" in only:
        run("mnist_ann", ["ann-train", "--dataset", "mnist", "--arch", "vgg5", "--width", "0.25", "--fc", "256",
                          "--epochs", "4", "--out", o("mnist_ann.pt")] + common, results, path, out)
        run("mnist_convert", ["convert", "--checkpoint", o("mnist_ann.pt"), "--out", o("mnist_conv.pt"), "--timesteps", "100",
                              "--curve", "10,15,20,25,35,50,75,100", "--scale", "0.7", "--balance-steps", "100",
                              "--balance-samples", "128", "--limit-test", "1000"] + common, results, path, out)
        run("mnist_hybrid", ["hybrid-train", "--checkpoint", o("mnist_conv.pt"), "--out", o("mnist_hybrid.pt"),
                             "--timesteps", "25", "--epochs", "1",
                             "--max-batches", "150", "--limit-test", "2000"] + common, results, path, out)
        run("mnist_diet", ["diet-train", "--checkpoint", o("mnist_ann.pt"), "--out", o("mnist_diet.pt"), "--timesteps", "5",
                           "--scale", "0.3", "--epochs", "2"] + common, results, path, out)
        run("mnist_diet_eval", ["snn-eval", "--checkpoint", o("mnist_diet.pt"), "--limit-test", "2000"] + common,
            results, path, out)
        # the converted and the fine-tuned SNN on all 10,000 test digits at T = 25
        run("mnist_convert_eval_full", ["snn-eval", "--checkpoint", o("mnist_conv.pt"), "--timesteps", "25"] + common,
            results, path, out)
        run("mnist_hybrid_eval_full", ["snn-eval", "--checkpoint", o("mnist_hybrid.pt")] + common, results, path, out)
        run("mnist_brian2_vgg", ["export", "--format", "brian2", "--checkpoint", o("mnist_diet.pt"), "--samples", "100",
                                 "--chunk", "2", "--out", o("brian2_vgg")] + common, results, path, out, skip=a.no_export)
    if "cifar" in only:
        run("cifar_ann", ["ann-train", "--dataset", "cifar10", "--arch", "vgg5", "--width", "0.25", "--fc", "256",
                          "--epochs", "6", "--out", o("cifar_ann.pt")] + common, results, path, out)
        run("cifar_diet", ["diet-train", "--checkpoint", o("cifar_ann.pt"), "--out", o("cifar_diet.pt"), "--timesteps", "5",
                           "--scale", "0.5", "--epochs", "1", "--max-batches", "500", "--limit-test", "2000"] + common,
            results, path, out)
        run("cifar_diet_eval", ["snn-eval", "--checkpoint", o("cifar_diet.pt"), "--limit-test", "2000"] + common,
            results, path, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("STDP_DATA_DIR"))
    ap.add_argument("--out", default="runs/bench-torch-bridge")
    ap.add_argument("--only", default="mnist,mlp,cifar")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds, each in <out>/seed-<S> (default: seed 0 in <out>)")
    ap.add_argument("--no-export", action="store_true", help="leave out the Brian2 exports")
    a = ap.parse_args()
    if not a.data_dir:
        raise SystemExit("give --data-dir or set STDP_DATA_DIR")
    seeds = [int(v) for v in a.seeds.split(",")] if a.seeds else [None]
    per_seed = []
    for seed in seeds:
        out = a.out if seed is None else os.path.join(a.out, f"seed-{seed}")
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "results.json")
        results = json.load(open(path)) if os.path.isfile(path) else {}
        common = ["--data-dir", a.data_dir, "--threads", a.threads] + ([] if seed is None else ["--seed", str(seed)])
        pipeline(a, out, common, results, path)
        per_seed.append(results)
        print(json.dumps({k: accuracy(v) for k, v in results.items()}, indent=1))
    if len(seeds) > 1:
        print(f"over seeds {a.seeds} (mean ± sd):")
        for name in per_seed[0]:
            vals = [accuracy(r[name]) for r in per_seed if accuracy(r.get(name, {})) is not None]
            if len(vals) == len(seeds):
                print(f"  {name:20s} {statistics.mean(vals):.4f} ± {statistics.stdev(vals):.4f}   "
                      + ", ".join(f"{v:.4f}" for v in vals))


if __name__ == "__main__":
    main()
