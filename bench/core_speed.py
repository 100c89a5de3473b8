"""Time per training sample: C++ standalone vs Brian2 runtime, same model, side by side.

    python bench/core_speed.py --neurons 400 [--data-dir ../shared/data] [--json out.json]

Both backends train the same network (same initial weights, same images) from the same
state. Standalone: ``--chunks`` chunks of ``--presentations`` presentations (build excluded,
reported separately); runtime (Cython): ``--runtime-samples`` presentations after a warm-up
run that triggers compilation. Medians over chunks are reported, as wall time and as the CPU
time of the simulation process (less sensitive to other load on the machine).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time


from stdp_toolkit.datasets import load_images
from stdp_toolkit.experiment import child_cpu_seconds
from stdp_toolkit.network.config import Config
from stdp_toolkit.backends import Simulator
from stdp_toolkit.network.state import initial_state


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--neurons", type=int, default=400)
    ap.add_argument("--data-dir")
    ap.add_argument("--presentations", type=int, default=500)
    ap.add_argument("--chunks", type=int, default=5)
    ap.add_argument("--runtime-samples", type=int, default=10)
    ap.add_argument("--runtime-repeats", type=int, default=3)
    ap.add_argument("--skip-runtime", action="store_true")
    ap.add_argument("--config-json", default="{}", help="extra config settings, e.g. '{\"delay_max\": 0}'")
    ap.add_argument("--json")
    args = ap.parse_args()

    x, _, source = load_images(args.data_dir, "train")
    x = x.reshape(len(x), -1) / 255.0
    cfg = Config(n_neurons=args.neurons, chunk_presentations=args.presentations,
                 **json.loads(args.config_json)).validate()
    out = dict(machine=f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
               command=" ".join(sys.argv), data=source, neurons=args.neurons, config=json.loads(args.config_json))

    t0 = time.perf_counter()
    sim = Simulator(cfg, learning=True, backend="standalone")
    out["standalone_build_seconds"] = time.perf_counter() - t0
    state = initial_state(cfg, 0)
    wall, cpu, pos = [], [], 0
    for c in range(args.chunks):
        c0, t0 = child_cpu_seconds(), time.perf_counter()
        r = sim.run(x[pos: pos + args.presentations], state, seed=c)
        dt, dc = time.perf_counter() - t0, child_cpu_seconds() - c0
        state, pos = r.state, pos + r.consumed
        wall.append(dt / r.consumed)
        cpu.append(dc / r.consumed)
        print(f"standalone chunk {c}: {1e3 * wall[-1]:.2f} ms/sample wall, {1e3 * cpu[-1]:.2f} ms cpu, "
              f"{r.counts.sum(1).mean():.1f} spikes/sample", flush=True)
    out["standalone_ms_per_sample_wall"] = 1e3 * statistics.median(wall)
    out["standalone_ms_per_sample_cpu"] = 1e3 * statistics.median(cpu)

    if not args.skip_runtime:
        n = args.runtime_samples
        sim = Simulator(cfg, learning=True, backend="runtime", n_presentations=n, codegen_target="cython")
        t0 = time.perf_counter()
        sim.run(x[:n], initial_state(cfg, 0), seed=0)  # compiles the Cython code on first use
        out["runtime_first_run_seconds"] = time.perf_counter() - t0
        wall, cpu = [], []
        state = initial_state(cfg, 0)
        for k in range(args.runtime_repeats):
            c0, t0 = cpu_self(), time.perf_counter()
            r = sim.run(x[(k + 1) * n: (k + 2) * n], state, seed=k + 1)
            state = r.state
            wall.append((time.perf_counter() - t0) / max(1, r.consumed))
            cpu.append((cpu_self() - c0) / max(1, r.consumed))
            print(f"runtime run {k}: {1e3 * wall[-1]:.1f} ms/sample wall, {1e3 * cpu[-1]:.1f} ms cpu", flush=True)
        out["runtime_ms_per_sample_wall"] = 1e3 * statistics.median(wall)
        out["runtime_ms_per_sample_cpu"] = 1e3 * statistics.median(cpu)
        out["speedup_wall"] = out["runtime_ms_per_sample_wall"] / out["standalone_ms_per_sample_wall"]
        out["speedup_cpu"] = out["runtime_ms_per_sample_cpu"] / out["standalone_ms_per_sample_cpu"]
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
