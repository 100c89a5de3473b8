"""LITE-SNN benchmark: every model on N-MNIST, SST-2 and the sequence-length study.

    python bench/lite_snn.py --data-dir ../shared/data --out runs/lite-bench [--only nmnist,sst2,recall]
                             [--seeds 0,1,2]

Each run writes ``<out>/<task>_<model>[_L<length>].json`` (and a ``.pt`` checkpoint); finished runs are
skipped and interrupted ones resume from their checkpoint, so the script can be re-run at will.
With ``--seeds`` each seed gets its own folder ``<out>/seed-<S>`` and the script ends with the test
accuracy as mean ± sd over the seeds, per task and model (the seed varies the initial weights, the
batch order and the N-MNIST shifts; the data splits are fixed).
Afterwards ``stdp-toolkit lite-report --runs <out>`` prints the comparison table and draws the plots.
Single-threaded (``torch.set_num_threads(1)``) so that it can share a small machine.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from stdp_toolkit.lite.train import TrainConfig, checkpoint_path, train

NMNIST = dict(task="nmnist", epochs=30, batch_size=32, lr=2e-3, n_bins=10, shift=2)
SST2 = dict(task="sst2", epochs=3, batch_size=128, lr=2e-3, max_len=48, dropout=0.2, log_every=50)
RECALL = dict(task="recall", epochs=12, batch_size=32, lr=2e-3, n_train=1500, n_val=500)
# the longest length gets half the epochs and 2/3 of the sequences (2-core machine shared by three jobs)
RECALL_LONG = dict(RECALL, epochs=6, n_train=1000)
LENGTHS = (25, 50, 100, 200, 400)


def plan(only: set[str], lengths=LENGTHS):
    runs = []
    if "nmnist" in only:
        runs += [dict(NMNIST, model=m) for m in ("lite", "vanilla", "cnn", "lstm", "gru")]
    if "sst2" in only:
        runs += [dict(SST2, model=m) for m in ("lite", "lstm", "gru", "vanilla", "cnn")]
    if "recall" in only:
        runs += [dict(RECALL if n < 400 else RECALL_LONG, model=m, length=n)
                 for n in lengths for m in ("vanilla", "lite", "gru", "lstm")]
    return runs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None, help="folder with nmnist-small/ and sst2/ (default $STDP_DATA_DIR)")
    ap.add_argument("--out", default="runs/lite-bench")
    ap.add_argument("--only", default="nmnist,sst2,recall")
    ap.add_argument("--models", default=None, help="comma-separated subset of models to run (default: all)")
    ap.add_argument("--lengths", default=",".join(map(str, LENGTHS)), help="recall: sequence lengths")
    ap.add_argument("--epochs-scale", type=float, default=1.0, help="multiply every run's epochs (quick looks)")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds, each in <out>/seed-<S> (default: seed 0 in <out>)")
    args = ap.parse_args(argv)
    models = set(args.models.split(",")) if args.models else None
    seeds = [int(v) for v in args.seeds.split(",")] if args.seeds else [None]
    accuracies: dict[str, list[float]] = {}
    for seed in seeds:
        for spec in plan(set(args.only.split(",")), [int(v) for v in args.lengths.split(",")]):
            if models is not None and spec["model"] not in models:
                continue
            spec = dict(spec, epochs=max(1, round(spec["epochs"] * args.epochs_scale)))
            out = Path(args.out) if seed is None else Path(args.out) / f"seed-{seed}"
            cfg = TrainConfig(data_dir=args.data_dir, out=str(out), resume=True, seed=seed or 0, **spec)
            name = f"{cfg.task} {cfg.model}" + (f" L={cfg.length}" if cfg.task == "recall" else "")
            done = checkpoint_path(cfg).with_suffix(".json")
            if done.exists():
                print(f"skip {done} (done)", flush=True)
                res = json.loads(done.read_text())
            else:
                t0 = time.time()
                print(f"== {name}" + ("" if seed is None else f" seed {seed}"), flush=True)
                res = train(cfg, log=lambda s: print("  " + s, flush=True))
                print(json.dumps({"task": cfg.task, "model": cfg.model, "seed": cfg.seed,
                                  "test_accuracy": res["test_accuracy"], "params": res["params"],
                                  "energy_synaptic_J": res["energy_synaptic_J"],
                                  "wall_s": round(time.time() - t0, 1)}), flush=True)
            accuracies.setdefault(name, []).append(100 * res["test_accuracy"])
    if len(seeds) > 1:
        print(f"test accuracy over seeds {args.seeds} (mean ± sd, %):")
        for name, acc in accuracies.items():
            print(f"  {name:24s} {statistics.mean(acc):6.2f} ± {statistics.stdev(acc):4.2f}   "
                  + ", ".join(f"{a:.2f}" for a in acc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
