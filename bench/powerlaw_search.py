"""Search the power-law rule's settings on a validation split, never on the test set.

    python bench/powerlaw_search.py --data-dir ../shared/data --out runs/powerlaw-search --train-samples 10000
    python bench/powerlaw_search.py ... --train-samples 50000 --candidate eta=0.02,x_tar=0.4 --candidate dc_trace

Protocol (the thesis-fidelity issue): train on the first ``--train-samples`` of the 60,000 MNIST
training digits (at most 50,000), label the neurons on the first 10,000 training digits, and score
on the **last 10,000 training digits**, which no run ever trains on. The test set is not read.
Every candidate starts from ``networks/dc400-powerlaw.yaml`` with its rule parameters replaced
(``dc_trace`` is the baseline: ``networks/dc400.yaml``). Results go, one JSON object per line, to
``<out>/results.jsonl``; a candidate already there is skipped, so re-running resumes the search.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from stdp_toolkit import experiment as E
from stdp_toolkit.datasets import VALIDATION_DIGITS, load_mnist, resolve_data_dir
from stdp_toolkit.network.config import Config

VALIDATION = slice(60_000 - VALIDATION_DIGITS, 60_000)   # of MNIST's 60,000 training digits
# one factor at a time around the shipped settings (eta 0.01, x_tar 0.4, mu 0.2), then pairs
GRID = [
    "dc_trace",
    "eta=0.01,x_tar=0.4,mu=0.2",
    "eta=0.005,x_tar=0.4,mu=0.2",
    "eta=0.02,x_tar=0.4,mu=0.2",
    "eta=0.04,x_tar=0.4,mu=0.2",
    "eta=0.01,x_tar=0.2,mu=0.2",
    "eta=0.01,x_tar=0.8,mu=0.2",
    "eta=0.01,x_tar=0.4,mu=0.9",
    "eta=0.02,x_tar=0.2,mu=0.2",
]


def config(candidate: str, root: str) -> Config:
    if candidate == "dc_trace":
        return Config.load(os.path.join(root, "networks", "dc400.yaml"))
    base = Config.load(os.path.join(root, "networks", "dc400-powerlaw.yaml"))
    params = dict(base.rule_params)
    for item in candidate.split(","):
        key, value = item.split("=")
        params[key.strip()] = float(value)
    return base.replace(rule_params=params)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--train-samples", type=int, default=10000)
    ap.add_argument("--candidate", action="append", help="dc_trace or key=value,... (default: the grid above)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not 0 < args.train_samples <= VALIDATION.start:
        ap.error(f"--train-samples must be in 1..{VALIDATION.start}: the last 10,000 digits are the validation split")
    data = resolve_data_dir(args.data_dir)
    if data is None:
        ap.error("give --data-dir (full MNIST) or set STDP_DATA_DIR")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    x, y = load_mnist(data, "train")
    os.makedirs(args.out, exist_ok=True)
    results = os.path.join(args.out, "results.jsonl")
    done = set()
    if os.path.exists(results):
        with open(results) as f:
            done = {(r["candidate"], r["train_samples"], r["seed"]) for r in map(json.loads, f)}
    for cand in args.candidate or GRID:
        if (cand, args.train_samples, args.seed) in done:
            continue
        cfg = config(cand, root)
        run_dir = os.path.join(args.out, f"{cand.replace(',', '_').replace('=', '')}-n{args.train_samples}-s{args.seed}")
        t0 = time.perf_counter()
        run = E.train(cfg, x[: args.train_samples], y[: args.train_samples], run_dir, seed=args.seed, quiet=True)
        run = E.label(run, x[: cfg.label_samples], y[: cfg.label_samples], quiet=True)
        res = E.evaluate(run, x[VALIDATION], y[VALIDATION], quiet=True)
        row = dict(candidate=cand, rule=cfg.plasticity().name, rule_params=cfg.rule_params,
                   train_samples=args.train_samples, seed=args.seed, validation=[VALIDATION.start, VALIDATION.stop],
                   val_accuracy=res["accuracy"], val_accuracy_proportion=res["accuracy_proportion"],
                   val_spikes_per_sample=res["mean_spikes_per_sample"],
                   ms_per_train_sample=1e3 * run.train_seconds / run.samples_seen,
                   minutes=(time.perf_counter() - t0) / 60)
        with open(results, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{cand:32s} val {res['accuracy']:.2%} (proportion {res['accuracy_proportion']:.2%}), "
              f"{res['mean_spikes_per_sample']:.1f} spikes/sample, {row['minutes']:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
