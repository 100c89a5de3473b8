"""Time per training sample of the toolkit and its peers, on the same digits and machine, in one run.

    python bench/peers.py [--neurons 400] [--data-dir ../shared/data] \
        [--bindsnet-python /path/to/venv/bin/python] [--json out.json]

Four legs, one after another, each in its own process (Brian2 keeps global state: device, clock,
code generation target), all training on the first MNIST training digits, in order:

``standalone``      this toolkit, C++ standalone: ``--chunks`` chunks of ``--presentations``
                    presentations after the build (built into a fresh temporary folder; the build
                    is timed but not counted). CPU time: the simulation process (RUSAGE_CHILDREN).
``runtime``         this toolkit, Brian2 runtime (Cython): ``--runtime-repeats`` runs of
                    ``--runtime-samples`` samples after a warm-up run of as many (compilation).
``brian2-example``  Brian2's own ``examples/frompapers/Diehl_Cook_2015.py`` (brian-team/brian2),
                    its training loop reproduced in :func:`brian2_example_train`: runtime mode, one
                    ``Network.run`` per 350 ms presentation and 150 ms rest, as the example does.
                    ``--example-samples`` samples after the network is built (and compiled);
                    the first sample is not counted.
``bindsnet``        BindsNET 0.3.4, ``DiehlAndCook2015`` as in its ``examples/mnist/eth_mnist.py``,
                    on CPU, run by ``--bindsnet-python`` (a separate virtual environment) on a
                    script embedded below. ``--bindsnet-samples`` samples; the first is not counted.
                    Skipped, with the reason, when that Python or its bindsnet is missing.

Medians per training sample (wall, and CPU time of the simulating process) and the ratio of
each peer to the toolkit's standalone backend are printed, and the two targets are checked:
the toolkit ≥ 180× faster than Brian2's example and ≥ 50× faster than BindsNET on CPU.

The BindsNET environment (its pins, torch >= 2.14 and torchvision, conflict with the CPU torch
wheel at hand, and PyPI's torchvision does not import beside it)::

    python3 -m venv /work/peers-venv
    /work/peers-venv/bin/pip install torch==2.13.0  # the local CPU wheel: check that no nvidia-* package comes
    /work/peers-venv/bin/pip install --no-deps bindsnet==0.3.4
    /work/peers-venv/bin/pip install "numpy>=2,<3" "scipy>=1,<2"  # all that its model code imports

``bindsnet/__init__.py`` imports every subpackage, among them torchvision, gymnasium and OpenCV
(datasets, environments, plots); the embedded script imports only the model, network, learning
and encoding modules (a bare package entry in ``sys.modules``), so none of those are needed.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from machine import cpu_model  # bench/machine.py (this folder is on the path when a bench runs)

LEGS = ("standalone", "runtime", "brian2-example", "bindsnet")
TARGETS = {"brian2-example": 180.0, "bindsnet": 50.0}  # toolkit standalone at least this many times faster


def lscpu() -> dict:
    """CPU family, model and virtualisation as ``lscpu`` gives them (empty where it is missing)."""
    keys = {"CPU family": "family", "Model": "model", "Hypervisor vendor": "hypervisor", "CPU(s)": "cpus"}
    out = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                              env=dict(os.environ, LC_ALL="C")).stdout
        for line in text.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in keys:
                out[keys[k.strip()]] = v.strip()
    return out


def git_state() -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        run = lambda *a: subprocess.run(["git", "-C", root, *a], capture_output=True, text=True, timeout=20).stdout
        out["commit"] = run("rev-parse", "--short", "HEAD").strip()
        out["uncommitted_package_files"] = len(run("status", "--porcelain", "stdp_toolkit").splitlines())
    return out


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def median_ms(values) -> float:
    return 1e3 * statistics.median(values)


# ---------------------------------------------------------------------------------------------
# the toolkit (same procedure as bench/core_speed.py)

def toolkit_standalone(x: np.ndarray, neurons: int, presentations: int, chunks: int) -> dict:
    from stdp_toolkit.experiment import child_cpu_seconds
    from stdp_toolkit.network.config import Config
    from stdp_toolkit.backends import Simulator
    from stdp_toolkit.network.state import initial_state

    cfg = Config(n_neurons=neurons, chunk_presentations=presentations).validate()
    with tempfile.TemporaryDirectory(prefix="peers-build-") as root:
        t0 = time.perf_counter()
        sim = Simulator(cfg, learning=True, backend="standalone", build_root=root)
        build = time.perf_counter() - t0
        state, pos, wall, cpu, spikes = initial_state(cfg, 0), 0, [], [], []
        for c in range(chunks):
            c0, t0 = child_cpu_seconds(), time.perf_counter()
            r = sim.run(x[pos: pos + presentations], state, seed=c)
            dt, dc = time.perf_counter() - t0, child_cpu_seconds() - c0
            state, pos = r.state, pos + r.consumed
            wall.append(dt / r.consumed)
            cpu.append(dc / r.consumed)
            spikes.append(float(r.counts.sum(1).mean()))
            print(f"standalone chunk {c}: {1e3 * wall[-1]:.2f} ms/sample wall, {1e3 * cpu[-1]:.2f} ms CPU, "
                  f"{spikes[-1]:.1f} spikes/sample", flush=True)
    return dict(ms_wall=median_ms(wall), ms_cpu=median_ms(cpu), samples=pos, build_seconds=build,
                spikes_per_sample=float(np.mean(spikes)), dt_ms=cfg.dt,
                steps_per_presentation=cfg.steps_per_presentation,
                timed=f"median of {chunks} chunks of {presentations} presentations")


def toolkit_runtime(x: np.ndarray, neurons: int, n: int, repeats: int) -> dict:
    from stdp_toolkit.network.config import Config
    from stdp_toolkit.backends import Simulator
    from stdp_toolkit.network.state import initial_state

    cfg = Config(n_neurons=neurons).validate()
    sim = Simulator(cfg, learning=True, backend="runtime", n_presentations=n, codegen_target="cython")
    t0 = time.perf_counter()
    sim.run(x[:n], initial_state(cfg, 0), seed=0)  # compiles the Cython code on first use
    first = time.perf_counter() - t0
    state, wall, cpu, spikes, pos = initial_state(cfg, 0), [], [], [], 0
    for k in range(repeats):
        c0, t0 = cpu_self(), time.perf_counter()
        r = sim.run(x[pos: pos + n], state, seed=k + 1)
        wall.append((time.perf_counter() - t0) / max(1, r.consumed))
        cpu.append((cpu_self() - c0) / max(1, r.consumed))
        state, pos = r.state, pos + r.consumed
        spikes.append(float(r.counts.sum(1).mean()))
        print(f"runtime run {k}: {1e3 * wall[-1]:.1f} ms/sample wall, {1e3 * cpu[-1]:.1f} ms CPU", flush=True)
    return dict(ms_wall=median_ms(wall), ms_cpu=median_ms(cpu), samples=pos, first_run_seconds=first,
                spikes_per_sample=float(np.mean(spikes)), dt_ms=cfg.dt,
                steps_per_presentation=cfg.steps_per_presentation,
                timed=f"median of {repeats} runs of {n} samples after a warm-up run")


# ---------------------------------------------------------------------------------------------
# Brian2's own example

def brian2_example_train(images: np.ndarray, n_train: int) -> dict:
    """The training mode of Brian2's ``examples/frompapers/Diehl_Cook_2015.py`` (brian-team/brian2,
    checked against commit aec54d2; written by Björn A. Lindqvist, 2024), timed per sample.

    Kept as in the example: the equations, thresholds, resets and refractoriness of both groups,
    the three synapse groups and their weights, the plastic input synapses (event-driven traces,
    clipped weights) with random delays U[0, 10] ms, the PoissonGroup rates ``pixel / 8 * intensity``
    (intensity 2, raised by one and shown again while fewer than 5 spikes), the normalisation
    of each neuron's input weights to 78 before every sample, ``stats`` after every sample, one
    ``Network.run`` for 350 ms and one for 150 ms per presentation, the runtime device with
    Brian2's default code generation target and default clock (dt = 0.1 ms: the example sets
    none), ``seed(42)``.

    Changed: the images come from our IDX reader (``images`` holds the first ``n_train``
    training digits, uint8, divided by 8 here as ``read_mnist`` does) instead of the example's
    ``MNIST_PATH``; ``n_train`` replaces the constant ``N_TRAIN`` (25,000), but the weight
    snapshots keep the example's cadence (every ``25,000 // 100`` samples); no progress bar (the
    ``progressbar2`` package) and no .npy files are written; ``show_sample`` also counts its
    presentations; ``from brian2 import *`` became ``b2.`` names inside this function.
    """
    from random import seed as rseed

    import brian2 as b2
    from brian2 import Equations, Hz, Network, NeuronGroup, PoissonGroup, SpikeMonitor, Synapses, ms, mV

    n_inp, n_neurons = 784, 400  # N_INP, N_NEURONS of the example
    v_exc_rest, v_inh_rest, intensity0 = -65 * mV, -60 * mV, 2
    w_exc_inh, w_inh_exc = 10.4, 17.0
    n_train_example, n_save_points = 25_000, 100

    def build_network():  # build_network(training=True)
        eqs = '''
        dv/dt = (v_rest - v + i_exc + i_inh) / tau_mem  : volt (unless refractory)
        i_exc = ge * -v                         : volt
        i_inh = gi * (v_inh_base - v)           : volt
        dge/dt = -ge/(1 * ms)                   : 1
        dgi/dt = -gi/(2 * ms)                   : 1
        dtimer/dt = 1                           : second
        '''
        reset = 'v = %r; timer = 0 * ms' % v_exc_rest
        exc_eqs = eqs + '''
        dtheta/dt = -theta / (1e7 * ms)         : volt
        '''
        arr_theta = np.ones(n_neurons) * 20 * mV
        reset += '; theta += 0.05 * mV'
        exc_eqs = Equations(exc_eqs, tau_mem=100 * ms, v_rest=v_exc_rest, v_inh_base=-100 * mV)
        ng_exc = NeuronGroup(n_neurons, exc_eqs, threshold='v > (theta - 72 * mV) and (timer > 50 * ms)',
                             refractory=5 * ms, reset=reset, method='euler', name='exc')
        ng_exc.v = v_exc_rest
        ng_exc.theta = arr_theta

        inh_eqs = Equations(eqs, tau_mem=10 * ms, v_rest=v_inh_rest, v_inh_base=-85 * mV)
        ng_inh = NeuronGroup(n_neurons, inh_eqs, threshold='v > -40 * mV', refractory=2 * ms,
                             reset='v = -45 * mV', method='euler', name='inh')
        ng_inh.v = v_inh_rest

        syns_exc_inh = Synapses(ng_exc, ng_inh, on_pre='ge_post += %f' % w_exc_inh)
        syns_exc_inh.connect(j='i')
        syns_inh_exc = Synapses(ng_inh, ng_exc, on_pre='gi_post += %f' % w_inh_exc)
        syns_inh_exc.connect("i != j")

        pg_inp = PoissonGroup(n_inp, 0 * Hz, name='inp')

        model = 'w : 1'
        on_pre = 'ge_post += w'
        on_pre += '; pre = 1.; w = clip(w - 0.0001 * post1, 0, 1.0)'
        on_post = 'post2bef = post2; w = clip(w + 0.01 * pre * post2bef, 0, 1.0); post1 = 1.; post2 = 1.'
        model += '''
        post2bef                        : 1
        dpre/dt   = -pre/(20 * ms)      : 1 (event-driven)
        dpost1/dt = -post1/(20 * ms)    : 1 (event-driven)
        dpost2/dt = -post2/(40 * ms)    : 1 (event-driven)
        '''
        weights = (np.random.random(n_inp * n_neurons) + 0.01) * 0.3

        syns_inp_exc = Synapses(pg_inp, ng_exc, model=model, on_pre=on_pre, on_post=on_post, name='inp_exc')
        syns_inp_exc.connect(True)
        syns_inp_exc.delay = 'rand() * 10 * ms'
        syns_inp_exc.w = weights

        exc_mon = SpikeMonitor(ng_exc, name='sp_exc')
        net = Network([pg_inp, ng_exc, ng_inh, syns_inp_exc, syns_exc_inh, syns_inh_exc, exc_mon])
        net.run(0 * ms)
        return net

    def show_sample(net, sample, intensity, shown):
        shown[0] += 1
        exc_mon = net['sp_exc']
        prev = exc_mon.count[:]
        net['inp'].rates = sample * intensity * Hz
        net.run(350 * ms)
        nxt = exc_mon.count[:]
        net['inp'].rates = 0 * Hz
        net.run(150 * ms)
        pat = nxt - prev
        if np.sum(pat) < 5:
            return show_sample(net, sample, intensity + 1, shown)
        return pat

    def normalize_plastic_weights(syns):
        conns = np.reshape(syns.w, (n_inp, n_neurons))
        conns *= 78. / np.sum(conns, axis=0)
        syns.w = conns.reshape(-1)

    def stats(net):
        tick = b2.defaultclock.timestep[:]
        cnt = np.sum(net['sp_exc'].count[:])
        w = net['inp_exc'].w
        theta = net['exc'].theta / mV
        return [tick, cnt, np.mean(w), np.std(w), np.mean(theta), np.std(theta)]

    b2.seed(42)
    rseed(42)
    x = images.reshape(len(images), -1)[:n_train] / 8.0  # read_mnist: x.reshape(n_images, -1) / 8.0
    t0 = time.perf_counter()
    net = build_network()
    build = time.perf_counter() - t0
    rows = [stats(net) + [-1]]
    w_hist = [np.array(net['inp_exc'].w)]
    ratio = max(n_train_example // n_save_points, 1)
    wall, cpu, spikes, shown = [], [], [], [0]
    for i in range(n_train):
        c0, t0 = time.process_time(), time.perf_counter()
        normalize_plastic_weights(net['inp_exc'])
        pat = show_sample(net, x[i], intensity0, shown)
        rows.append(stats(net) + [i])
        if i % ratio == 0:
            w_hist.append(np.array(net['inp_exc'].w))
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        spikes.append(int(np.sum(pat)))
        print(f"brian2-example sample {i}: {1e3 * wall[-1]:.0f} ms wall, {1e3 * cpu[-1]:.0f} ms CPU, "
              f"{spikes[-1]} spikes, {shown[0]} presentations so far", flush=True)
    target = type(net['exc'].state_updater.codeobj).__name__
    return dict(ms_wall=median_ms(wall[1:]), ms_cpu=median_ms(cpu[1:]), samples=n_train,
                first_sample_seconds=wall[0], build_seconds=build, presentations=shown[0],
                spikes_per_sample=float(np.mean(spikes)), dt_ms=float(b2.defaultclock.dt / ms),
                steps_per_presentation=int(round(500 / float(b2.defaultclock.dt / ms))),
                code_object=target, brian2=b2.__version__,
                timed=f"median of samples 2..{n_train} (the network is compiled before them; the first is not counted)")


# ---------------------------------------------------------------------------------------------
# BindsNET, run by another Python (its own virtual environment)

BINDSNET_SCRIPT = r'''
"""BindsNET's DiehlAndCook2015 trained on CPU as in its examples/mnist/eth_mnist.py, timed per sample.

argv: images.npy (uint8 [N, 28, 28]) out.json time_ms n_neurons
"""
import importlib.metadata, importlib.util, json, os, sys, time, types

import numpy as np
import torch

# bindsnet/__init__.py imports all subpackages (torchvision, gymnasium, cv2 among their imports):
# register a bare package so that only the modules the model needs are imported (the network
# package first: the order bindsnet/__init__.py imports them in, else the imports are circular)
spec = importlib.util.find_spec("bindsnet")
if spec is None:
    sys.exit("bindsnet is not installed in " + sys.executable)
pkg = types.ModuleType("bindsnet")
pkg.__path__ = list(spec.submodule_search_locations)
sys.modules["bindsnet"] = pkg

import bindsnet.network  # noqa: F401
from bindsnet.encoding import PoissonEncoder
from bindsnet.models import DiehlAndCook2015
from bindsnet.network.monitors import Monitor

images_path, out_path, time_ms, n_neurons = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
images = np.load(images_path)

# eth_mnist.py defaults (seed 0, exc 22.5, inh 120, theta_plus 0.05, dt 1.0, intensity 128,
# norm 78.4, update_interval 250); --n_neurons and --time from the command line; no plots
seed, exc, inh, theta_plus, dt, intensity, update_interval = 0, 22.5, 120.0, 0.05, 1.0, 128.0, 250
torch.manual_seed(seed)
torch.set_num_threads(os.cpu_count() - 1)  # as the example does
device = "cpu"

network = DiehlAndCook2015(n_inpt=784, n_neurons=n_neurons, exc=exc, inh=inh, dt=dt, norm=78.4,
                           theta_plus=theta_plus, inpt_shape=(1, 28, 28))
encoder = PoissonEncoder(time=time_ms, dt=dt)
steps = int(time_ms / dt)
spike_record = torch.zeros((update_interval, steps, n_neurons), device=device)
exc_voltage_monitor = Monitor(network.layers["Ae"], ["v"], time=steps, device=device)
inh_voltage_monitor = Monitor(network.layers["Ai"], ["v"], time=steps, device=device)
network.add_monitor(exc_voltage_monitor, name="exc_voltage")
network.add_monitor(inh_voltage_monitor, name="inh_voltage")
spikes = {}
for layer in set(network.layers):
    spikes[layer] = Monitor(network.layers[layer], state_vars=["s"], time=steps, device=device)
    network.add_monitor(spikes[layer], name="%s_spikes" % layer)
voltages = {}
for layer in set(network.layers) - {"X"}:
    voltages[layer] = Monitor(network.layers[layer], state_vars=["v"], time=steps, device=device)
    network.add_monitor(voltages[layer], name="%s_voltages" % layer)

wall, cpu, n_spikes = [], [], []
for step in range(len(images)):
    c0, t0 = time.process_time(), time.perf_counter()
    # the example's dataset item: ToTensor() (C, H, W in [0, 1]) times intensity, Poisson-encoded
    image = torch.from_numpy(images[step]).float().div(255.0).unsqueeze(0) * intensity
    inputs = {"X": encoder(image).view(steps, 1, 1, 28, 28)}
    network.run(inputs=inputs, time=time_ms)
    exc_voltages = exc_voltage_monitor.get("v")
    inh_voltages = inh_voltage_monitor.get("v")
    spike_record[step % update_interval] = spikes["Ae"].get("s").squeeze()
    n_spikes.append(int(spikes["Ae"].get("s").sum()))
    network.reset_state_variables()
    wall.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
    print("bindsnet sample %d: %.1f ms wall, %.1f ms CPU, %d spikes"
          % (step, 1e3 * wall[-1], 1e3 * cpu[-1], n_spikes[-1]), flush=True)

with open(out_path, "w") as fh:
    json.dump(dict(wall=wall, cpu=cpu, spikes=n_spikes, bindsnet=importlib.metadata.version("bindsnet"),
                   torch=torch.__version__, threads=torch.get_num_threads(), python=sys.version.split()[0]), fh)
'''


def bindsnet_train(python: str, images: np.ndarray, time_ms: int, neurons: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="peers-bindsnet-") as tmp:
        script, data, out = (os.path.join(tmp, f) for f in ("bindsnet_dc.py", "images.npy", "out.json"))
        with open(script, "w") as fh:
            fh.write(BINDSNET_SCRIPT)
        np.save(data, images)
        p = subprocess.run([python, script, data, out, str(time_ms), str(neurons)], cwd=tmp,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode != 0 or not os.path.exists(out):
            lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
            return dict(skipped=f"{python} failed (exit {p.returncode}): {lines[-1] if lines else 'no message'}")
        with open(out) as fh:
            r = json.load(fh)
    return dict(ms_wall=median_ms(r["wall"][1:]), ms_cpu=median_ms(r["cpu"][1:]), samples=len(r["wall"]),
                first_sample_seconds=r["wall"][0], spikes_per_sample=float(np.mean(r["spikes"])), dt_ms=1.0,
                steps_per_presentation=int(time_ms), time_ms=time_ms,
                versions=dict(bindsnet=r["bindsnet"], torch=r["torch"], python=r["python"]),
                torch_threads=r["threads"],
                timed=f"median of samples 2..{len(r['wall'])} (the first warms up)")


# ---------------------------------------------------------------------------------------------

def run_leg(args) -> int:
    """Worker mode: one leg in this fresh process, its result written to --leg-out."""
    from stdp_toolkit.datasets import load_images

    x, _, _ = load_images(args.data_dir, "train")
    if args.leg == "standalone":
        res = toolkit_standalone(x.reshape(len(x), -1) / 255.0, args.neurons, args.presentations, args.chunks)
    elif args.leg == "runtime":
        res = toolkit_runtime(x.reshape(len(x), -1) / 255.0, args.neurons, args.runtime_samples,
                              args.runtime_repeats)
    else:
        res = brian2_example_train(x[:args.example_samples], args.example_samples)
    with open(args.leg_out, "w") as fh:
        json.dump(res, fh)
    return 0


def run_in_child(leg: str, args) -> dict:
    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        out = os.path.join(tmp, "leg.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--leg", leg, "--leg-out", out,
               "--neurons", str(args.neurons), "--presentations", str(args.presentations),
               "--chunks", str(args.chunks), "--runtime-samples", str(args.runtime_samples),
               "--runtime-repeats", str(args.runtime_repeats), "--example-samples", str(args.example_samples)]
        if args.data_dir:
            cmd += ["--data-dir", args.data_dir]
        t0 = time.perf_counter()
        p = subprocess.run(cmd)
        if p.returncode != 0 or not os.path.exists(out):
            return dict(skipped=f"the {leg} process failed (exit {p.returncode}; its output is above)")
        with open(out) as fh:
            res = json.load(fh)
    res["leg_seconds"] = time.perf_counter() - t0
    return res


def fmt(v, digits=1):
    return "–" if v is None else f"{v:,.{digits}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--neurons", type=int, default=400)
    ap.add_argument("--data-dir")
    ap.add_argument("--presentations", type=int, default=500, help="presentations per standalone chunk")
    ap.add_argument("--chunks", type=int, default=4, help="standalone chunks timed after the build")
    ap.add_argument("--runtime-samples", type=int, default=10, help="samples per toolkit runtime run")
    ap.add_argument("--runtime-repeats", type=int, default=3, help="toolkit runtime runs after the warm-up")
    ap.add_argument("--example-samples", type=int, default=20, help="samples of Brian2's example (first not counted)")
    ap.add_argument("--bindsnet-python", help="Python of a virtual environment with bindsnet 0.3.4 (see above)")
    ap.add_argument("--bindsnet-samples", type=int, default=20, help="BindsNET samples (first not counted)")
    ap.add_argument("--bindsnet-time", type=int, nargs="+", default=[350],
                    help="BindsNET presentation length(s) in ms (dt 1 ms); the first is compared. "
                         "eth_mnist.py's default is 250, D&C's and the other peers' 350")
    ap.add_argument("--skip", nargs="+", choices=LEGS, default=[], help="legs not to run")
    ap.add_argument("--json")
    ap.add_argument("--leg", choices=LEGS[:3], help=argparse.SUPPRESS)
    ap.add_argument("--leg-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.leg:
        return run_leg(args)
    if args.neurons != 400 and "brian2-example" not in args.skip:
        ap.error("Brian2's example has 400 excitatory neurons: use --neurons 400 or --skip brian2-example")
    if args.bindsnet_python and not (os.path.isfile(args.bindsnet_python) and os.access(args.bindsnet_python, os.X_OK)):
        ap.error(f"--bindsnet-python {args.bindsnet_python}: no such executable (create the venv as the docstring says)")

    from stdp_toolkit.datasets import load_images

    x, _, source = load_images(args.data_dir, "train")
    out = dict(cpu=cpu_model(), lscpu=lscpu(),
               machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               load_before=os.getloadavg(), command=" ".join(sys.argv), data=source, neurons=args.neurons,
               toolkit=git_state(), peers={})
    for leg in LEGS:
        load0 = os.getloadavg()[0]
        if leg in args.skip:
            out["peers"][leg] = dict(skipped="--skip")
        elif leg == "bindsnet":
            if not args.bindsnet_python:
                out["peers"][leg] = dict(skipped="no --bindsnet-python given")
            else:
                for k, t_ms in enumerate(args.bindsnet_time):
                    res = bindsnet_train(args.bindsnet_python, x[:args.bindsnet_samples], t_ms, args.neurons)
                    out["peers"][leg if k == 0 else f"bindsnet-{t_ms}ms"] = res
        else:
            out["peers"][leg] = run_in_child(leg, args)
        for name, res in out["peers"].items():
            if name.startswith(leg):
                res.setdefault("load_before_after", [load0, os.getloadavg()[0]])
                if "skipped" in res:
                    print(f"{name}: skipped: {res['skipped']}", flush=True)
    out["load_after"] = os.getloadavg()

    base = out["peers"].get("standalone", {})
    rows = []
    for name, res in out["peers"].items():
        if "skipped" in res:
            rows.append(f"| {name} | skipped: {res['skipped']} | | | | |")
            continue
        for kind in ("wall", "cpu"):
            if "ms_" + kind in base and name != "standalone":
                res[f"ratio_{kind}"] = res["ms_" + kind] / base["ms_" + kind]
        rows.append(f"| {name} | {fmt(res['ms_wall'], 2)} | {fmt(res.get('ms_cpu'), 2)} | "
                    f"{fmt(res.get('ratio_wall'))} | {fmt(res.get('ratio_cpu'))} | "
                    f"{res['steps_per_presentation']} × {res['dt_ms']:g} ms |")
    out["targets"] = {}
    for name, need in TARGETS.items():
        res = out["peers"].get(name, {})
        if "ratio_wall" in res:
            out["targets"][name] = dict(need=need, wall=res["ratio_wall"], cpu=res.get("ratio_cpu"),
                                        met_wall=res["ratio_wall"] >= need,
                                        met_cpu=res.get("ratio_cpu", 0) >= need)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    print(json.dumps(out, indent=2))
    print(f"\nCPU {out['cpu']} ({out['lscpu']}), load {out['load_before'][0]:.2f} before, "
          f"{out['load_after'][0]:.2f} after\n")
    print("| leg | ms/sample wall (median) | ms/sample CPU | ÷ standalone (wall) | ÷ standalone (CPU) | steps per presentation |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    for name, t in out["targets"].items():
        print(f"target: toolkit ≥ {t['need']:g}× faster than {name}: {t['wall']:.1f}× wall "
              f"({'met' if t['met_wall'] else 'NOT met'}), {t['cpu']:.1f}× CPU ({'met' if t['met_cpu'] else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
