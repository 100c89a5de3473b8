"""Run the network in chunks of presentations on either backend.

``runtime``     Brian2 runtime mode (Cython, or numpy with ``codegen_target="numpy"``): objects stay
                alive between chunks, good for notebooks and small runs.
``standalone``  C++ standalone: the network is generated and compiled once into a cached build
                directory; every chunk re-runs the same binary with new weights, state and stimuli
                passed as ``run_args``. A whole chunk (1,000 presentations by default) is one run.

Both take and return the full dynamic state as plain numpy arrays (SI units), so training can be
checkpointed between any two chunks and resumed exactly; each chunk has its own random seed.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
import weakref
from dataclasses import asdict, dataclass

try:
    import fcntl
except ImportError:  # not on Windows: concurrent runs of one build are not locked there
    fcntl = None

import brian2 as b2
import numpy as np

from ..errors import UserError
from . import fpenv
from .builder import Traces, build_network, cross_connectivity
from .config import Config


def _keep_sigint_sane() -> None:
    """Brian2 wraps the SIGINT handler it finds at import and calls it on Ctrl-C. A process started
    with SIGINT ignored (a background job, nohup) gives it SIG_IGN, which is not callable: Ctrl-C
    then raised TypeError. Ignored stays ignored; the default becomes KeyboardInterrupt."""
    handler = getattr(b2, "_int_handler", None)
    previous = getattr(handler, "previous_handler", None)
    if previous is signal.SIG_IGN:
        handler.previous_handler = lambda signum, frame: None
    elif not callable(previous) and handler is not None:
        handler.previous_handler = signal.default_int_handler


_keep_sigint_sane()

BACKENDS = ("runtime", "standalone", "cuda")
SEED_ENV = "STDP_TOOLKIT_SEED"
BUILD_ENV = "STDP_BUILD_DIR"


def _run_command() -> list[str]:
    """How the compiled program is started: ``setpriv --pdeathsig TERM`` (util-linux, where present)
    ends it with the process that started it, e.g. an evaluation worker stopped by its pool, or a
    run killed with kill -9. Its own session comes from :func:`_program_in_own_session`."""
    return ["setpriv", "--pdeathsig", "TERM", "./main"] if shutil.which("setpriv") else ["./main"]


def _call_in_own_session(*args, **kwargs) -> int:
    """``subprocess.call`` for the simulation program: it runs in a session of its own, so Ctrl-C
    in a terminal (SIGINT to the foreground process group) reaches Python only, which stops the
    program and keeps the last checkpoint, instead of killing it under Brian2 (an IndexError on its
    half-written results). SIGINT stays blocked until the program is in its session: a Ctrl-C at
    the start used to kill it (Python unblocks signals in the child before it calls setsid), and a
    job with SIGINT ignored then failed with "Project run failed". Python gets that Ctrl-C once the
    program has started."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        proc = subprocess.Popen(*args, start_new_session=True, **kwargs)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    with proc:
        try:
            return proc.wait()
        except BaseException:
            proc.kill()
            raise


@contextlib.contextmanager
def _program_in_own_session():
    """Brian2 starts the program with ``subprocess.call``: see :func:`_call_in_own_session`."""
    call = subprocess.call
    subprocess.call = _call_in_own_session
    try:
        yield
    finally:
        subprocess.call = call


RUN_COMMAND = _run_command()


def default_build_root() -> str:
    return os.environ.get(BUILD_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "stdp_toolkit", "builds")


# ------------------------------------------------------------------------------------------------
# state
# ------------------------------------------------------------------------------------------------
def state_variables(cfg: Config, learning: bool) -> dict[str, tuple[str, str, object]]:
    """Carried state: key -> (group attribute, variable, unit).

    Derived from the models' equations: every variable of the excitatory and inhibitory neurons
    and of the encoding (keys ``<var>_exc``, ``<var>_inh``, ``<var>_input``; the adaptive threshold
    is ``theta``), the input weights and delays, and every variable the rules add.
    """
    # the weights by their role: each plastic synapse names its weight variable (its rule's ``weight``)
    variables = {"w": ("syn_input", cfg.plasticity().weight if learning else "w", 1)}
    exc = cfg.excitatory_model()
    for group, model, suffix in (("exc", exc, "_exc"), ("inh", cfg.inhibitory_model(), "_inh"),
                                 ("inputs", cfg.input_model(), "_input")):
        for name, dim in model.state_variables(learning and group == "exc").items():
            key = "theta" if group == "exc" and name == exc.role("threshold") else name + suffix
            variables[key] = (group, name, _unit(dim))
    if cfg.delay_max > 0:
        variables["delay"] = ("syn_input", "d", b2.second)
    if cfg.has_cross_modal:
        variables["w_cross"] = ("syn_cross", cfg.cross_plasticity().weight if learning else "w", 1)
        if learning:
            variables["x_cross"] = ("exc", "x_cross", 1)
    if cfg.plastic_inhibition:
        variables["w_ie"] = ("syn_ie", cfg.inhibitory_plasticity().weight if learning else "w", 1)
        if learning:   # the I->E rule's per-synapse variables, as ie_<name>
            for name, dim in cfg.inhibitory_plasticity().state_variables()["synapse"].items():
                variables[f"ie_{name}"] = ("syn_ie", name, _unit(dim))
    if learning:
        # every variable the rule adds, wherever it lives (see PlasticityRule.state_variables)
        owners = {"pre": "inputs", "post": "exc", "synapse": "syn_input"}
        for where, names in cfg.plasticity().state_variables().items():
            for name, dim in names.items():
                if name in variables:
                    raise UserError(f"rule {cfg.plasticity().name!r}: its variable {name!r} ({where}) has the name of "
                                    "another variable the network carries; rename it")
                variables[name] = (owners[where], name, _unit(dim))
        if cfg.prunes:
            for name, owner in (("mask", "syn_input"), ("c", "syn_input"), ("x_int", "inputs")):
                if name in variables:
                    raise UserError(f"rule {cfg.plasticity().name!r}: pruning needs the variable name {name!r}; "
                                    "rename the rule's variable")
                variables[name] = (owner, name, 1)
    return variables


def _unit(dim):
    return 1 if dim.is_dimensionless else b2.Quantity(1, dim=dim)


def initial_state(cfg: Config, seed: int) -> dict[str, np.ndarray]:
    """Fresh network: random input weights and delays (seeded), θ = theta_init, every neuron
    variable at its model's ``initial`` value (D&C: v at rest - 40 mV) or 0."""
    rng = np.random.default_rng(seed)
    n_syn, n = cfg.n_input_synapses, cfg.n_neurons
    state = {
        "w": (rng.random(n_syn) + 0.01) * cfg.w_init,
        "delay": rng.random(n_syn) * cfg.delay_max * 1e-3,
    }
    exc = cfg.excitatory_model()
    for model, suffix, size in ((exc, "_exc", n), (cfg.inhibitory_model(), "_inh", n),
                                (cfg.input_model(), "_input", cfg.n_inputs)):
        start = model.initial_values()
        for name in model.state_variables(learning=True):
            if model is exc and name == exc.role("threshold"):
                state["theta"] = np.full(n, cfg.theta_init * 1e-3)
            else:
                state[name + suffix] = np.full(size, float(start[name]) if name in start else 0.0)
    if cfg.has_cross_modal:
        # drawn after the input weights, so adding cross-modal synapses leaves those unchanged
        n_cross = len(cross_connectivity(cfg)[0])
        state["w_cross"] = rng.random(n_cross) * cfg.cross_modal_settings()["w_init"]
    if cfg.plastic_inhibition:
        state["w_ie"] = np.full(cfg.n_lateral_synapses, float(cfg.w_ie))
    return state


def fill_state(cfg: Config, state: dict, learning: bool) -> dict[str, np.ndarray]:
    """State with every carried variable present (missing traces start at 0)."""
    full = dict(state)
    for key, (group, _, _) in state_variables(cfg, learning).items():
        if key not in full:
            size = {"inputs": cfg.n_inputs, "syn_input": cfg.n_input_synapses,
                    "syn_ie": cfg.n_lateral_synapses}.get(group, cfg.n_neurons)
            if group == "syn_cross":
                size = len(cross_connectivity(cfg)[0])
            full[key] = np.ones(size) if key == "mask" else np.zeros(size)
    if "mask" in full:
        # pruned synapses hold weight 0 (the builder relies on it: they neither transmit nor learn)
        full["w"] = np.where(np.asarray(full["mask"]) > 0, full["w"], 0.0)
    return full


def rest_state(cfg: Config, state: dict) -> dict[str, np.ndarray]:
    """Frozen evaluation starts every chunk from rest with the trained weights and θ.

    That makes each chunk independent of the others, so evaluation can be split over processes
    and give exactly the sequential result.
    """
    fresh = initial_state(cfg, 0)
    keep = {k: state[k] for k in ("w", "theta", "delay", "w_cross", "w_ie") if k in state}
    return {**{k: v for k, v in fresh.items() if k not in ("w", "delay")}, **keep}


# ------------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------------
@dataclass
class ChunkResult:
    consumed: int                 # samples completed in this chunk
    counts: np.ndarray            # [consumed, N] excitatory spike counts of each sample's final presentation
    boosts: np.ndarray            # [consumed] how many times each sample was shown again
    spike_i: np.ndarray           # excitatory spikes of the chunk (neuron, time in s from chunk start)
    spike_t: np.ndarray
    presentation_sample: np.ndarray
    state: dict
    seconds: float
    input_spikes: tuple | None = None
    inh_spikes: tuple | None = None
    runaway: bool = False         # a presentation fired more than the config's runaway bound (run cut short)
    traces: dict | None = None    # recorded state (Simulator ``traces``): {"t": [T] s from chunk start, var: [neurons, T]}


def summarise_presentations(cfg: Config, consumed, pres_sample, pres_boosts, spike_i, spike_t):
    """Per-sample spike counts [consumed, N] from each sample's final presentation, and its boosts."""
    pres = np.floor(spike_t / (cfg.presentation_ms * 1e-3) + 1e-9).astype(int)
    counts_pp = np.zeros((len(pres_sample), cfg.n_neurons), dtype=np.int32)
    np.add.at(counts_pp, (np.minimum(pres, len(pres_sample) - 1), spike_i), 1)
    final = np.zeros(consumed, dtype=int)
    for p, s in enumerate(pres_sample):
        if s < consumed:
            final[s] = p
    return counts_pp[final], pres_boosts[final].astype(int)


# ------------------------------------------------------------------------------------------------
# simulator
# ------------------------------------------------------------------------------------------------
def _build_incremental(device, directory: str, verbose: bool) -> None:
    """Generate and compile, recompiling only what changed.

    Every object file depends on the makefile, and Brian2 lists some files and clocks in an
    order that depends on Python's per-process string hashing. A cached build directory would
    then be recompiled from scratch (~40 s) about every other time. Where a regenerated top-level
    file holds exactly the same lines as before in another order, the old file (and its time
    stamp) is kept, so ``make`` reuses the compiled objects.
    """
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    names = ("makefile", "main.cpp", "run.cpp")
    before = {}
    for name in names:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            with open(path) as fh:
                before[name] = (fh.read(), os.stat(path))
    device.build(directory=directory, compile=False, run=False, with_output=verbose)
    for name, (old, st) in before.items():
        path = os.path.join(directory, name)
        with open(path) as fh:
            new = fh.read()
        if new != old and sorted(new.split()) == sorted(old.split()):
            with open(path, "w") as fh:
                fh.write(old)
        if sorted(new.split()) == sorted(old.split()):
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    compiler, _ = get_compiler_and_args()
    device.compile_source(directory, compiler, False, False)


@contextlib.contextmanager
def _compile_interruptible():
    """Ctrl-C during compilation is an interruption, not a compiler failure.

    Brian2 runs ``make`` through ``os.system``, which ignores SIGINT in Python while ``make``
    runs; a Ctrl-C then kills ``make`` and surfaces as "Project compilation failed (error code: 2)"
    where 2 is the wait status of a child killed by SIGINT (an exit code of 2 would read 512).
    """
    try:
        yield
    except RuntimeError as exc:
        import re

        code = re.search(r"error code: (\d+)", str(exc))
        if code and int(code.group(1)) & 0x7F in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            raise KeyboardInterrupt from None
        raise


@contextlib.contextmanager
def build_lock(build_dir: str, exclusive: bool):
    """Lock shared by every process that uses one cached build folder (two seeds in two terminals).

    Runs hold it shared, many at a time. Building (which rewrites sources and static arrays) holds
    it exclusively, so it waits for running programs; see :meth:`Simulator.cleanup_run_args`.
    """
    with open(build_dir + ".lock", "a") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield fh


_ACTIVE: list = []


def _retire_previous(new) -> None:
    """Close the previous simulator and collect its objects, freeing their Brian2 names."""
    while _ACTIVE:
        old = _ACTIVE.pop()()
        if old is not None and old is not new:
            old.close()
    gc.collect()
    _ACTIVE.append(weakref.ref(new))


def brian2_reason(exc: BaseException) -> str:
    """The innermost error under Brian2's "error encountered with object ..." wrappers, in one line."""
    while getattr(exc, "original_error", None) is not None or exc.__cause__ is not None:
        exc = getattr(exc, "original_error", None) or exc.__cause__
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


@contextlib.contextmanager
def _models_written_by_user(cfg: Config, learning: bool):
    """A rule or neuron written in the config that Brian2 cannot build (an unknown name, a wrong
    unit, a name clash, code the compiler rejects) is the user's mistake: one line naming it. A
    failure with the built-in models stays a traceback (a bug of the toolkit)."""
    try:
        yield
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as exc:
        rules = [cfg.rule, cfg.cross_modal_settings()["rule"] if cfg.has_cross_modal else None,
                 cfg.inhibitory_rule] if learning else []
        written = [f"rule {r['name']!r}" for r in rules if isinstance(r, dict)]
        written += [f"neuron {cfg.neuron['name']!r}"] if isinstance(cfg.neuron, dict) else []
        written += [f"encoding {cfg.encoding['name']!r}"] if isinstance(cfg.encoding, dict) else []
        if not written:
            raise
        raise UserError(f"{' or '.join(written)} does not build: {brian2_reason(exc)}; check the equations, code, "
                        "parameters and units (see docs/python-api.md)") from None


class Simulator:
    """One network (learning or frozen) on one backend, run chunk by chunk."""

    def __init__(self, cfg: Config, learning: bool, backend: str = "standalone", n_presentations: int | None = None,
                 record_input: bool = False, record_inhibitory: bool = False, codegen_target: str | None = None,
                 build_root: str | None = None, verbose: bool = False, traces: Traces | None = None):
        if backend not in BACKENDS:
            raise UserError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
        cfg = cfg.validate()  # a Config built by hand is checked here (validating twice changes nothing)
        cfg.check_memory()  # every path that simulates (train, label, plot, report, sweep) passes here
        self.cfg, self.learning, self.backend = cfg, learning, backend
        self.n_presentations = int(n_presentations or cfg.chunk_presentations)
        self.verbose = verbose
        self.flushes_subnormals: bool | None = None  # FTZ/DAZ took effect in the last run (fpenv.py)
        self.variables = state_variables(cfg, learning)
        self.traces = None if traces is None else Traces(*traces).check(cfg.n_neurons) if isinstance(traces, tuple) \
            else traces.check(cfg.n_neurons)
        self.build_seconds = 0.0
        t0 = time.perf_counter()
        with _models_written_by_user(cfg, learning):
            if backend == "standalone":
                self._setup_standalone(record_input, record_inhibitory, build_root)
            elif backend == "cuda":
                self._setup_cuda(record_input, record_inhibitory, build_root)
            else:
                self._setup_runtime(record_input, record_inhibitory, codegen_target)
        self.build_seconds = time.perf_counter() - t0

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

    def _setup_standalone(self, record_input, record_inhibitory, build_root):
        b2.prefs.devices.cpp_standalone.openmp_threads = 0  # measured: threads slow this network down
        # Brian2's default "make -j" starts one compiler per file at once (load ~50 on 2 cores)
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
        # per-run seed from the environment, so one binary gives a fresh, reproducible stream per chunk
        seed_code = (f'{{ const char* _s = std::getenv("{SEED_ENV}");\n'
                     "  if (_s) brian::_random_generators[0].seed(std::strtoul(_s, NULL, 10)); }")
        self._setup_compiled("cpp_standalone", build_root or default_build_root(), "",
                             self._key(record_input, record_inhibitory), contextlib.nullcontext(), seed_code,
                             _build_incremental, record_input, record_inhibitory)

    def _setup_cuda(self, record_input, record_inhibitory, build_root):
        """The standalone set-up on brian2cuda's cuda_standalone device, compiled with nvcc.

        Builds without a GPU (for the compute capability in network/cuda.py); running needs one.
        """
        from . import cuda

        root = build_root or default_build_root()
        settings = cuda.settings(root)  # UserError when brian2cuda, nvcc or cuRAND are missing
        self._setup_compiled("cuda_standalone", root, "cuda-",
                             cuda.build_key(self._key(record_input, record_inhibitory), settings),
                             cuda.build_prefs(settings), cuda.seed_code(SEED_ENV), cuda.build,
                             record_input, record_inhibitory, check=cuda.check_network)

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

    def close(self):
        """Drop the Brian2 objects (a retired standalone network cannot run again)."""
        self.objs = None

    def _setup_runtime(self, record_input, record_inhibitory, codegen_target):
        _retire_previous(self)
        if b2.get_device().__class__.__name__ != "RuntimeDevice":
            b2.set_device("runtime")
        b2.prefs.codegen.target = codegen_target or "cython"
        b2.defaultclock.dt = self.cfg.dt * b2.ms
        self.objs = build_network(self.cfg, self.learning, self.n_presentations, record_input, record_inhibitory,
                                  self.traces)
        ctrl, net = self.objs.ctrl, self.objs.net

        # simulate only the presentations needed: a chunk of 20 samples ends after ~20 presentations,
        # not after chunk_presentations (one Python call per presentation)
        @b2.network_operation(clock=self.objs.presentations.clock, when="start", name="stop_when_done")
        def stop_when_done():
            if ctrl.sample[0] >= ctrl.n_valid[0] or ctrl.runaway[0] > 0:
                net.stop()

        net.add(stop_when_done)
        stop_when_done._network = net.id    # the network's own object (see build_network)
        net.run(0 * b2.ms, namespace={})  # generate the code now: a model's mistake shows before any data is read

    # ---- running -----------------------------------------------------------------------------
    def _pad(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=float).reshape(len(images), -1)
        if images.shape[1] != self.cfg.n_inputs:
            raise UserError(f"images have {images.shape[1]} pixels but the network has {self.cfg.n_inputs} inputs")
        if len(images) > self.n_presentations:
            raise ValueError("more images than presentations in one chunk")
        padded = np.zeros((self.n_presentations, self.cfg.n_inputs))
        padded[: len(images)] = images
        return padded

    def run(self, images: np.ndarray, state: dict, seed: int) -> ChunkResult:
        """Present ``images`` (values in [0, 1], at most one chunk) starting from ``state``.

        A sample that draws too few spikes is shown again, brighter; the chunk may end before every
        image is shown (``ChunkResult.consumed`` says how many were): run the rest in the next call.
        """
        if self.objs is None:
            raise UserError("this Simulator was retired when another network was built in this process (Brian2 "
                            "holds one at a time); build it again, e.g. Simulator(cfg, learning=...)")
        if np.size(images) and not (np.all(np.isfinite(images)) and 0 <= np.min(images) and np.max(images) <= 1):
            raise UserError(f"images must hold values in [0, 1] (pixel / 255); these range over "
                            f"[{np.min(images):g}, {np.max(images):g}]: divide 0-255 images by 255")
        state = fill_state(self.cfg, state, self.learning)
        stim = self._pad(images)
        n_valid = len(images)
        t0 = time.perf_counter()
        # Ctrl-C raises KeyboardInterrupt at once: Brian2's default "stop gracefully at the end of this
        # time step" would return a cut-short chunk as if it were complete (and checkpoint it)
        stop_gracefully = b2.prefs.core.stop_on_keyboard_interrupt
        b2.prefs.core.stop_on_keyboard_interrupt = False
        try:
            if self.backend == "standalone":
                out = self._run_standalone(stim, n_valid, state, seed)
            elif self.backend == "cuda":
                out = self._run_cuda(stim, n_valid, state, seed)
            else:
                out = self._run_runtime(stim, n_valid, state, seed)
        finally:
            b2.prefs.core.stop_on_keyboard_interrupt = stop_gracefully
        pres_sample, pres_boosts, spike_i, spike_t, new_state, extra, sample, runaway = out
        consumed = int(min(n_valid, round(sample)))
        counts, boosts = summarise_presentations(self.cfg, consumed, pres_sample, pres_boosts, spike_i, spike_t)
        return ChunkResult(consumed, counts, boosts, spike_i, spike_t, pres_sample, new_state,
                           time.perf_counter() - t0, extra[0], extra[1], runaway=runaway > 0, traces=extra[2])

    @property
    def spike_limit(self) -> float:
        """Excitatory spikes in one presentation that mark a runaway (0: no limit)."""
        return float(self.cfg.max_spikes_per_neuron * self.cfg.n_neurons)

    # Brian2's time of the last event-driven update: carried relative to the end of the chunk (<= 0),
    # because every chunk's clock starts again (standalone) or goes on (runtime)
    _RELATIVE_TIMES = ("lastupdate",)

    def _state_values(self, state, t_start: float):
        for key, (group, var, unit) in self.variables.items():
            value = np.asarray(state[key], dtype=float) + (t_start if var in self._RELATIVE_TIMES else 0.0)
            yield getattr(getattr(self.objs, group), var), value * unit

    def _read_state(self, t_end: float) -> dict:
        return {key: np.array(getattr(getattr(self.objs, g), v)[:], dtype=float)
                - (t_end if v in self._RELATIVE_TIMES else 0.0) for key, (g, v, _) in self.variables.items()}


    def _read_monitors(self, t_offset: float, offsets: dict | None = None):
        o = self.objs
        offsets = offsets or {}

        def spikes(mon):
            start = offsets.get(mon.name, 0)
            return np.asarray(mon.i[start:], dtype=int), np.asarray(mon.t[start:] / b2.second) - t_offset

        if self.backend != "runtime":
            # a run that stopped early (every sample shown) recorded fewer presentations than the last
            # one: Brian2 then reads the monitors' 2-D arrays only if their recorded length is open
            for mon in (o.presentations, o.traces):
                for var in (mon.variables.values() if mon is not None else ()):
                    if isinstance(getattr(var, "size", None), tuple) and len(var.size) == 2:
                        var.size = (0, var.size[1])
        pres_start = offsets.get("presentations", 0)
        pres_sample = np.asarray(o.presentations.sample[0][pres_start:], dtype=int)
        pres_boosts = np.asarray(o.presentations.boosts[0][pres_start:], dtype=int)
        si, st = spikes(o.spikes_exc)
        extra = (spikes(o.spikes_input) if o.spikes_input is not None else None,
                 spikes(o.spikes_inh) if o.spikes_inh is not None else None)
        traces = None
        if o.traces is not None:
            start = offsets.get("traces", 0)
            traces = {"t": np.asarray(o.traces.t[start:] / b2.second) - t_offset}
            for var in self.traces.variables:
                traces[var] = np.array(getattr(o.traces, var)[:, start:], dtype=float)
        return pres_sample, pres_boosts, si, st, (*extra, traces)

    def _run_standalone(self, stim, n_valid, state, seed):
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

    def _run_cuda(self, stim, n_valid, state, seed):
        from . import cuda

        cuda.require_gpu(self.build_dir)
        try:
            pres_sample, pres_boosts, si, st, new_state, extra, sample, runaway = self._run_standalone(
                stim, n_valid, state, seed)
        except RuntimeError as exc:
            raise cuda.run_failed(self._device.results_dir, exc) from None
        extra = (*(None if sp is None else cuda.sort_spikes(*sp) for sp in extra[:2]), extra[2])
        return (pres_sample, pres_boosts, *cuda.sort_spikes(si, st), new_state, extra, sample, runaway)

    def cleanup_run_args(self, lock=None):
        """Delete the run-argument input files (weights, stimuli) and left-over results folders once
        no process runs this build.

        The files are named by their content and shared between processes, so they are removed
        only by whoever can take the build lock exclusively (``lock``: this process's shared one).
        """
        if self.backend not in ("standalone", "cuda"):
            return
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

    def _run_runtime(self, stim, n_valid, state, seed):
        o = self.objs
        o.stimulus.values[:] = stim
        o.ctrl.n_valid = n_valid
        o.ctrl.sample = 0
        o.ctrl.boosts = 0
        o.ctrl.count = 0
        o.ctrl.spike_limit = self.spike_limit
        o.ctrl.runaway = 0
        t_offset = float(o.net.t / b2.second)
        for view, value in self._state_values(state, t_offset):
            view[:] = value
        if self.cfg.delay_max > 0:
            o.syn_input.delay = o.syn_input.d[:]
        offsets = {m.name: len(m.i) for m in (o.spikes_exc, o.spikes_input, o.spikes_inh) if m is not None}
        offsets["presentations"] = len(o.presentations.t)
        if o.traces is not None:
            offsets["traces"] = len(o.traces.t)
        b2.seed(int(seed) % (2**32))
        with fpenv.flush_denormals() as self.flushes_subnormals:
            o.net.run(self.n_presentations * self.cfg.presentation_ms * b2.ms, namespace={})
        pres_sample, pres_boosts, si, st, extra = self._read_monitors(t_offset, offsets)
        return (pres_sample, pres_boosts, si, st, self._read_state(float(o.ctrl.elapsed[0])), extra,
                float(o.ctrl.sample[0]), float(o.ctrl.runaway[0]))
