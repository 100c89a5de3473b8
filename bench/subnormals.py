"""What flushing subnormal floats is worth, and that it changes no result: side by side in one run.

    python bench/subnormals.py [--neurons 400] [--samples 1000] [--data-dir ../shared/data] [--json out.json]

Trains the same network from the same initial state, images and seeds in three variants of the
C++ standalone backend (each its own build folder) and, with ``--runtime-samples N``, two of the
runtime (Cython) backend. The variants take turns chunk by chunk, so that the machine's slower and
faster spells hit all of them alike:

``none``     no flush-to-zero, no zeroing: the toolkit before the fix
``zeroing``  subnormal state zeroed once per presentation only (what any CPU gets without FTZ)
``ftz``      the default: FTZ/DAZ set in the program, plus the zeroing

It prints ms per sample (median over chunks; wall and CPU of the simulation process), how many
subnormal values the final state holds, and whether the final weights and θ equal those of
``none`` bit for bit. The speed-up depends on the CPU: large on Intel cores, small on AMD EPYC.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time

import numpy as np

from stdp_toolkit.datasets import load_images
from stdp_toolkit.experiment import child_cpu_seconds
from stdp_toolkit.backends import fpenv
from stdp_toolkit.network import builder
from stdp_toolkit.network.config import Config
from stdp_toolkit.backends import Simulator
from stdp_toolkit.network.state import initial_state

from machine import cpu_model  # bench/machine.py (this folder is on the path when a bench runs)

VARIANTS = ("none", "zeroing", "ftz")


@contextlib.contextmanager
def variant(name: str):
    """Switch the fix off in parts (module attributes, restored afterwards)."""
    saved = (fpenv.COMPILED_CODE, fpenv.flush_denormals, builder.zero_subnormals)

    @contextlib.contextmanager
    def no_flush():
        yield False

    if name != "ftz":
        fpenv.COMPILED_CODE, fpenv.flush_denormals = "", no_flush
    if name == "none":
        builder.zero_subnormals = lambda group, clock: None
    try:
        yield
    finally:
        fpenv.COMPILED_CODE, fpenv.flush_denormals, builder.zero_subnormals = saved


def subnormal_count(state: dict) -> int:
    return int(sum(np.sum((v != 0) & (np.abs(v) < np.finfo(float).tiny)) for v in state.values()))


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def simulator(cfg, backend, chunk, build_root, name):
    with variant(name):
        return Simulator(cfg, learning=True, backend=backend, n_presentations=chunk, build_root=build_root,
                         codegen_target="cython" if backend == "runtime" else None)


def train_interleaved(cfg, x, backend, names, chunk, root):
    """Train every variant on the same chunks, taking turns chunk by chunk, so that a slower or
    faster spell of the machine hits all variants alike (one network per process: each turn sets
    its variant's cached build up again, not timed)."""
    clock = cpu_self if backend == "runtime" else child_cpu_seconds
    runs = {n: dict(state=initial_state(cfg, 0), pos=0, wall=[], cpu=[], spikes=[]) for n in names}
    sims = {}
    for c in range(len(x) // chunk):
        for name in names:
            r = runs[name]
            if backend == "standalone" or name not in sims:
                sims.clear()
                sims[name] = sim = simulator(cfg, backend, chunk, os.path.join(root, name), name)
                if backend == "runtime":
                    sim.run(x[:chunk], initial_state(cfg, 0), seed=0)  # compiles the Cython code: not timed
            sim = sims[name]
            with variant(name):
                c0, t0 = clock(), time.perf_counter()
                res = sim.run(x[r["pos"]: r["pos"] + chunk], r["state"], seed=c)
                r["wall"].append((time.perf_counter() - t0) / res.consumed)
                r["cpu"].append((clock() - c0) / res.consumed)
            r["spikes"].append(float(res.counts.sum(1).mean()))
            r["state"], r["pos"], r["flushes"] = res.state, r["pos"] + res.consumed, sim.flushes_subnormals
    out = {}
    for name, r in runs.items():
        out[name] = dict(ms_wall=1e3 * statistics.median(r["wall"]), ms_cpu=1e3 * statistics.median(r["cpu"]),
                         samples=r["pos"], spikes_per_sample=float(np.mean(r["spikes"])),
                         flushes_subnormals=r["flushes"], subnormals_in_final_state=subnormal_count(r["state"]),
                         identical_to_none=all(np.array_equal(runs[names[0]]["state"][k], r["state"][k])
                                               for k in ("w", "theta")))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--neurons", type=int, default=400)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--presentations", type=int, default=250, help="presentations per standalone chunk")
    ap.add_argument("--runtime-samples", type=int, default=0, help="also compare the runtime backend on N samples")
    ap.add_argument("--runtime-chunk", type=int, default=10, help="presentations per runtime run")
    ap.add_argument("--data-dir")
    ap.add_argument("--json")
    args = ap.parse_args()

    x, _, source = load_images(args.data_dir, "train")
    x = x.reshape(len(x), -1) / 255.0
    cfg = Config(n_neurons=args.neurons, chunk_presentations=args.presentations).validate()
    out = dict(cpu=cpu_model(), machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               load_before=os.getloadavg(), command=" ".join(sys.argv), data=source, neurons=args.neurons, runs={})
    with tempfile.TemporaryDirectory() as tmp:
        legs = [("standalone", VARIANTS, args.samples, args.presentations)]
        if args.runtime_samples:
            legs.append(("runtime", ("none", "ftz"), args.runtime_samples, args.runtime_chunk))
        for backend, names, n, chunk in legs:
            for name, res in train_interleaved(cfg, x[:n], backend, names, chunk, os.path.join(tmp, backend)).items():
                out["runs"][f"{backend}/{name}"] = res
                print(f"{backend:10s} {name:8s} {res['ms_wall']:7.2f} ms/sample wall {res['ms_cpu']:7.2f} ms CPU, "
                      f"{res['spikes_per_sample']:.1f} spikes/sample, FTZ {res['flushes_subnormals']}, "
                      f"{res['subnormals_in_final_state']} subnormals left, w and θ identical to 'none': "
                      f"{res['identical_to_none']}", flush=True)
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
