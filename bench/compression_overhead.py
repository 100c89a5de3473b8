"""Training-time cost of pruning + quantization: uncompressed vs compressed standalone, same start.

    python bench/compression_overhead.py --neurons 400 --presentations 1000 --repeats 2 [--config networks/dc400-compressed.yaml]

Both networks start from the same initial state and train on the same images, chunk by chunk,
alternating (so load changes on a shared machine hit both alike). The compressed network
carries the mask and correlation trace; after every chunk the pruning/quantization step of
``stdp_toolkit.compression.training`` runs on its state (pruning forced to the configured
target from the first chunk, the most expensive case). Reported: median per-sample CPU time of
the standalone child process (``RUSAGE_CHILDREN``), wall time, and the Python step's time.
Builds are cached (same key as a training run with the same neurons/presentations).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

from stdp_toolkit.compression import training
from stdp_toolkit.datasets import load_images
from stdp_toolkit.experiment import RunState, child_cpu_seconds
from stdp_toolkit.network.config import Config
from stdp_toolkit.backends import Simulator
from stdp_toolkit.network.state import initial_state


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "networks", "dc400-compressed.yaml"))
    ap.add_argument("--neurons", type=int, default=400)
    ap.add_argument("--presentations", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--data-dir")
    ap.add_argument("--json")
    args = ap.parse_args()

    comp_cfg = Config.load(args.config).replace(n_neurons=args.neurons, chunk_presentations=args.presentations)
    st = comp_cfg.compression
    st = {**st, "prune": {**st.get("prune", {}), "start": 0, "end": 0}, "quantize": {**st.get("quantize", {}), "start": 0}}
    comp_cfg = comp_cfg.replace(compression=st)
    plain_cfg = comp_cfg.replace(compression={}, name="plain")
    x, _, source = load_images(args.data_dir, "train")
    x = x.reshape(len(x), -1) / 255.0
    out = dict(machine=f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
               load_average=os.getloadavg(), command=" ".join(sys.argv), data=source, neurons=args.neurons,
               presentations=args.presentations)
    results = {"plain": dict(cpu=[], wall=[]), "compressed": dict(cpu=[], wall=[], step=[])}
    sims = {}
    for r in range(args.repeats):
        for name, cfg in (("plain", plain_cfg), ("compressed", comp_cfg)):
            sim = Simulator(cfg, learning=True, backend="standalone")
            sims[name] = sim.build_seconds
            run = RunState(cfg=cfg, seed=0, state=initial_state(cfg, 0))
            imgs = x[r * args.presentations: (r + 1) * args.presentations]
            c0, t0 = child_cpu_seconds(), time.perf_counter()
            res = sim.run(imgs, run.state, seed=r)
            cpu, wall = child_cpu_seconds() - c0, time.perf_counter() - t0
            results[name]["cpu"].append(1e3 * cpu / res.consumed)
            results[name]["wall"].append(1e3 * wall / res.consumed)
            if name == "compressed":
                run.state = {**run.state, **res.state}
                run.samples_seen = res.consumed
                t1 = time.perf_counter()
                training.after_chunk(run, res, len(imgs))
                training.step(run)
                results[name]["step"].append(1e3 * (time.perf_counter() - t1) / res.consumed)
            print(f"{name} repeat {r}: {results[name]['cpu'][-1]:.2f} ms cpu/sample, "
                  f"{results[name]['wall'][-1]:.2f} ms wall/sample", flush=True)
    for name, v in results.items():
        for k, vals in v.items():
            out[f"{name}_ms_per_sample_{k}"] = statistics.median(vals)
            out[f"{name}_ms_per_sample_{k}_all"] = vals
    plain = out["plain_ms_per_sample_cpu"]
    comp = out["compressed_ms_per_sample_cpu"] + out["compressed_ms_per_sample_step"]
    out["overhead_cpu_percent"] = 100 * (comp / plain - 1)
    out["setup_seconds"] = sims
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
