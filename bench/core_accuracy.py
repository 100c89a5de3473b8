"""Accuracy after one epoch on full MNIST: train -> label -> evaluate, as in the core issue.

    python bench/core_accuracy.py networks/dc400.yaml --data-dir ../shared/data --out runs/bench-dc400

Same steps as ``stdp-toolkit train`` + ``stdp-toolkit evaluate`` (resumable: re-run the same
command after an interruption). Prints one JSON object with training time (wall and CPU of the
simulation processes), labelling/evaluation time and both votes' accuracy.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from stdp_toolkit import experiment as E
from stdp_toolkit.datasets import load_mnist, resolve_data_dir
from stdp_toolkit.network.config import Config


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--data-dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--train-samples", type=int, default=60000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    cfg = Config.load(args.config)
    data = resolve_data_dir(args.data_dir)
    if data is None:
        print("give --data-dir (full MNIST) or set STDP_DATA_DIR", file=sys.stderr)
        return 2
    x, y = load_mnist(data, "train")
    xt, yt = load_mnist(data, "test")
    run = E.train(cfg, x[: args.train_samples], y[: args.train_samples], args.out, seed=args.seed)
    t0 = time.perf_counter()
    run = E.label(run, x[: cfg.label_samples], y[: cfg.label_samples], workers=args.workers)
    run.save(args.out)
    label_s = time.perf_counter() - t0
    c0 = E.child_cpu_seconds()
    res = E.evaluate(run, xt, yt, workers=args.workers)
    eval_cpu = E.child_cpu_seconds() - c0
    out = dict(config=cfg.name, n_neurons=cfg.n_neurons, rule=cfg.rule, train_samples=run.samples_seen,
               train_seconds=run.train_seconds, ms_per_train_sample=1e3 * run.train_seconds / run.samples_seen,
               train_cpu_seconds=run.extra.get("train_cpu_children_seconds"), label_seconds=label_s,
               eval_seconds=res["seconds"], eval_workers=args.workers,
               eval_cpu_seconds=eval_cpu,
               accuracy=res["accuracy"], accuracy_proportion=res["accuracy_proportion"],
               test_samples=res["test_samples"], mean_spikes_per_sample=res["mean_spikes_per_sample"])
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
