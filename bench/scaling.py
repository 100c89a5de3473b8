"""Cost of training and evaluation against network size (C++ standalone).

    python bench/scaling.py --sizes 100 400 1600 6400 --samples 200 [--data-dir ../shared/data]

For each size: build time, then CPU time and wall time per sample of one learning chunk and
one frozen (evaluation) chunk, and the peak resident memory of the simulation processes. Each
size runs twice in fresh subprocesses: the first only builds (and reports the build times and
the compiler's peak memory), the second finds the builds cached and measures, so the compiler
does not count in its peak memory. A child's peak also counts the driver's pages at fork time,
so ``peak_rss_mb`` is at least ``python_peak_rss_mb`` (≈ 230 MB): smaller simulations are not
resolved below that floor.
All sizes use the same integration method (``--method``, default implicit_euler: stable at every
size, see docs/benchmarks.md). Results as JSON lines (and a PNG plot with --plot).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def measure(n: int, samples: int, data_dir: str | None, method: str, build_only: bool = False) -> dict:
    import numpy as np

    from stdp_toolkit.datasets import load_images
    from stdp_toolkit.experiment import child_cpu_seconds
    from stdp_toolkit.network.config import Config
    from stdp_toolkit.backends import Simulator
    from stdp_toolkit.network.state import initial_state, rest_state

    x, _, _ = load_images(data_dir, "train")
    x = x[:samples].reshape(samples, -1) / 255.0
    cfg = Config(n_neurons=n, chunk_presentations=samples, method=method).validate()
    out = {"neurons": n, "synapses": 784 * n, "samples": samples, "method": method}
    for learning in (True, False):
        tag = "train" if learning else "eval"
        t0 = time.perf_counter()
        sim = Simulator(cfg, learning=learning, backend="standalone")
        out[f"{tag}_build_s"] = time.perf_counter() - t0
        if build_only:
            continue
        st = initial_state(cfg, 0)
        if not learning:
            # evaluation sees trained weights, which are normalised (sum 78 per neuron); the raw
            # random initial weights sum to ~120 and drive the frozen network far too hard
            w = st["w"].reshape(cfg.n_inputs, n)
            st = rest_state(cfg, {**st, "w": (w * cfg.norm_total / w.sum(0)).ravel()})
        c0, t0 = child_cpu_seconds(), time.perf_counter()
        r = sim.run(x, st, seed=1)
        cpu = child_cpu_seconds() - c0
        out[f"{tag}_ms_per_sample_wall"] = 1e3 * (time.perf_counter() - t0) / r.consumed
        out[f"{tag}_ms_per_sample_cpu"] = 1e3 * cpu / r.consumed
        out[f"{tag}_spikes_per_sample"] = float(np.mean(r.counts.sum(1)))
    # ru_maxrss of children: the largest child of this subprocess (kB on Linux), including the pages
    # it shared with this process when forked; with cached builds no compiler runs
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out["python_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the driver
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 400, 1600, 6400])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--data-dir")
    ap.add_argument("--method", default="implicit_euler", choices=("euler", "exponential_euler", "implicit_euler"))
    ap.add_argument("--plot")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.samples, args.data_dir, args.method, args.build_only)), flush=True)
        return 0
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--samples", str(args.samples), "--method", args.method]
        if args.data_dir:
            cmd += ["--data-dir", args.data_dir]
        passes = []
        for extra in (["--build-only"], []):  # 1st: builds; 2nd: cached builds, simulation memory only
            res = subprocess.run(cmd + extra, capture_output=True, text=True, env=os.environ)
            if res.returncode != 0:
                print(res.stderr[-2000:], file=sys.stderr)
                return 1
            passes.append(json.loads(res.stdout.strip().splitlines()[-1]))
        first, row = passes
        row.update(train_build_s=first["train_build_s"], eval_build_s=first["eval_build_s"],
                   peak_rss_mb_build=first["peak_rss_mb"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
        ns = [r["neurons"] for r in rows]
        for key, label in (("train_ms_per_sample_cpu", "train"), ("eval_ms_per_sample_cpu", "evaluate")):
            a.loglog(ns, [r[key] for r in rows], "o-", label=label)
        a.set_xlabel("excitatory neurons"), a.set_ylabel("CPU ms per sample"), a.legend(), a.grid(alpha=0.3)
        b.loglog(ns, [r["peak_rss_mb"] for r in rows], "o-")
        b.set_xlabel("excitatory neurons"), b.set_ylabel("peak memory of the simulation (MB)"), b.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
