"""C++ standalone: the whole chunk is one compiled program, built once and re-run per chunk.

Weights, state and stimuli of each chunk are passed as Brian2 ``run_args``; the per-chunk seed
reaches the program through its environment (Brian2's ``run_environment_variables``). Builds are
cached by what the generated code depends on (:mod:`stdp_toolkit.backends.build`).
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import shutil
from dataclasses import asdict

import brian2 as b2

from ..network.builder import build_network
from . import fpenv
from .base import Simulator, _retire_previous
from .build import (RUN_COMMAND, _build_incremental, _compile_interruptible, _program_in_own_session, build_lock,
                    default_build_root, fcntl)

SEED_ENV = "STDP_TOOLKIT_SEED"


class StandaloneSimulator(Simulator):
    """The network as a C++ standalone program (cpp_standalone device)."""

    backend = "standalone"
    compiled = True

    # ---- set-up ------------------------------------------------------------------------------
    def _key(self, record_input, record_inhibitory) -> str:
        """The build folder's key: what the generated code depends on, and nothing else. Models
        count by their definitions (an edited rule of the same name is another build); a frozen
        network ignores every learning setting; weights, delays, θ and seeds are run-time data."""
        c = self.cfg
        structure = dict(n_neurons=c.n_neurons, n_inputs=c.n_inputs, dt=c.dt, ensembles=c.ensembles,
                         delays=c.delay_max > 0, w_ei=c.w_ei, w_ie=c.w_ie, min_spikes=c.min_spikes,
                         max_boosts=c.max_boosts, cross_modal=c.has_cross_modal,
                         plastic_inhibition=c.plastic_inhibition)
        if self.learning:
            # only whether the pruning mask exists changes the code: schedules and levels are run-time data
            structure.update(norm_total=c.norm_total, prune_mask=c.prunes)
        spec = {
            "models": c.model_definitions(self.learning), "structure": structure,
            "learning": self.learning, "n": self.n_presentations, "rec": [record_input, record_inhibitory],
            "traces": None if self.traces is None else asdict(self.traces),
            "brian2": b2.__version__,
        }
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def _setup(self, record_input, record_inhibitory, *, build_root, codegen_target):
        b2.prefs.devices.cpp_standalone.openmp_threads = 0  # measured: threads slow this network down
        # Brian2's default "make -j" starts one compiler per file at once (load ~50 on 2 cores)
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
        # per-run seed from the environment, so one binary gives a fresh, reproducible stream per chunk
        seed_code = (f'{{ const char* _s = std::getenv("{SEED_ENV}");\n'
                     "  if (_s) brian::_random_generators[0].seed(std::strtoul(_s, NULL, 10)); }")
        self._setup_compiled("cpp_standalone", build_root or default_build_root(), "",
                             self._key(record_input, record_inhibitory), contextlib.nullcontext(), seed_code,
                             _build_incremental, record_input, record_inhibitory)

    def _setup_compiled(self, device_name, root, prefix, key, prefs, seed_code, build, record_input,
                        record_inhibitory, check=None):
        """Generate the whole chunk as one standalone program (C++ or CUDA) and build it once."""
        from brian2 import device
        from brian2.devices.device import all_devices

        b2.prefs.devices.cpp_standalone.run_cmd_unix = RUN_COMMAND

        self.build_dir = os.path.join(root, f"{prefix}{'learn' if self.learning else 'frozen'}-{key}")
        os.makedirs(self.build_dir, exist_ok=True)
        # One standalone network per process: retire the previous one, then start from a clean
        # device so the generated code (and object names) never depend on what ran before, and a
        # cached build directory is reused without recompiling.
        _retire_previous(self)
        with prefs:
            if b2.get_device() is not all_devices[device_name]:
                b2.set_device(device_name, directory=self.build_dir, build_on_run=False)
            device.reinit()
            gc.collect()
            device.activate(directory=self.build_dir, build_on_run=False)
            b2.defaultclock.dt = self.cfg.dt * b2.ms
            self.objs = build_network(self.cfg, self.learning, self.n_presentations, record_input, record_inhibitory,
                                      self.traces)
            if check is not None:
                check(self.objs)
            device.insert_code("before_start", fpenv.COMPILED_CODE)
            device.insert_code("main", seed_code)
            # run_args take effect here, so the delays can be copied from the run-time variable d
            device.apply_run_args()
            if self.cfg.delay_max > 0:
                self.objs.syn_input.delay = "d"
            self.objs.net.run(self.n_presentations * self.cfg.presentation_ms * b2.ms, namespace={},
                              profile=bool(os.environ.get("STDP_PROFILE")))
            with build_lock(self.build_dir, exclusive=True), _compile_interruptible():
                build(device, self.build_dir, self.verbose)
        self._device = device

    # ---- running -----------------------------------------------------------------------------
    def _run(self, stim, n_valid, state, seed):
        o, device = self.objs, self._device
        run_args = {o.stimulus: stim, o.ctrl.n_valid: float(n_valid), o.ctrl.sample: 0.0,
                    o.ctrl.boosts: 0.0, o.ctrl.count: 0.0, o.ctrl.spike_limit: self.spike_limit, o.ctrl.runaway: 0.0,
                    o.ctrl.done: 0.0, o.ctrl.elapsed: 0.0 * b2.second}
        for view, value in self._state_values(state, 0.0):
            run_args[view] = value
        seed_text = str(int(seed) % (2**32))
        os.environ[SEED_ENV] = device.run_environment_variables[SEED_ENV] = seed_text
        # Every process writes its own results folder: runs of one build in several processes
        # (parallel evaluation, two seeds in two terminals) never read each other's results.
        results = f"results_{os.getpid()}"
        results_dir = os.path.join(self.build_dir, results)
        with build_lock(self.build_dir, exclusive=False) as lock:
            try:
                try:
                    with _program_in_own_session():
                        device.run(directory=self.build_dir, results_directory=results,
                                   with_output=self.verbose, run_args=run_args)
                except KeyboardInterrupt:
                    # subprocess.call has killed the program; Brian2 would think it still runs
                    b2.Network._globally_running = False
                    raise
                self.flushes_subnormals = fpenv.compiled_mode(results_dir)
                pres_sample, pres_boosts, si, st, extra = self._read_monitors(0.0)
                out = (pres_sample, pres_boosts, si, st, self._read_state(float(o.ctrl.elapsed[0])), extra,
                       float(o.ctrl.sample[0]),
                       float(o.ctrl.runaway[0]))
            finally:
                self.cleanup_run_args(lock)
        shutil.rmtree(results_dir, ignore_errors=True)  # kept when the run failed: it holds stdout.txt
        return out

    def cleanup_run_args(self, lock=None):
        """Delete the run-argument input files (weights, stimuli) and left-over results folders once
        no process runs this build.

        The files are named by their content and shared between processes, so they are removed
        only by whoever can take the build lock exclusively (``lock``: this process's shared one).
        """
        with contextlib.ExitStack() as stack:
            if lock is None:
                lock = stack.enter_context(build_lock(self.build_dir, exclusive=False))
            if fcntl is not None:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return  # another process runs this build: the last one to finish cleans up
            static = os.path.join(self.build_dir, "static_arrays")
            for fname in os.listdir(static) if os.path.isdir(static) else []:
                if fname.startswith("init_"):
                    with contextlib.suppress(OSError):
                        os.remove(os.path.join(static, fname))
            # results folders of runs that failed or were interrupted (this one's may hold the
            # program's output of a failure, still to be read)
            for name in os.listdir(self.build_dir):
                if name.startswith("results_") and name != f"results_{os.getpid()}":
                    shutil.rmtree(os.path.join(self.build_dir, name), ignore_errors=True)
