"""Run the network in chunks of presentations: what every backend shares.

The backends, one module each, are chosen by name: ``Simulator(cfg, learning, backend=...)``.

``runtime``
    Brian2 runtime mode (Cython, or numpy with ``codegen_target="numpy"``): objects stay alive
    between chunks, good for notebooks and small runs.
``standalone``
    C++ standalone: the network is generated and compiled once into a cached build directory;
    every chunk re-runs the same binary with new weights, state and stimuli passed as
    ``run_args``. A whole chunk (1,000 presentations by default) is one run.
``cuda``
    the standalone program on brian2cuda's ``cuda_standalone`` device (a GPU).

All take and return the full dynamic state as plain numpy arrays (SI units; see
:mod:`stdp_toolkit.network.state`), so training can be checkpointed between any two chunks and
resumed exactly; each chunk has its own random seed.
"""
from __future__ import annotations

import contextlib
import gc
import signal
import time
import weakref
from dataclasses import dataclass

import brian2 as b2
import numpy as np

from ..errors import UserError
from ..network.builder import Traces
from ..network.config import Config
from ..network.state import fill_state, state_variables


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


def backend_class(name: str) -> type:
    """The Simulator class of a backend, by name (imported on use: cuda needs brian2cuda)."""
    if name == "runtime":
        from .runtime import RuntimeSimulator
        return RuntimeSimulator
    if name == "standalone":
        from .standalone import StandaloneSimulator
        return StandaloneSimulator
    if name == "cuda":
        from .cuda import CudaSimulator
        return CudaSimulator
    raise UserError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")


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
        rules = [cfg.rule, cfg.cross_modal_settings().rule if cfg.has_cross_modal else None,
                 cfg.inhibitory_rule] if learning else []
        written = [f"rule {r['name']!r}" for r in rules if isinstance(r, dict)]
        written += [f"neuron {cfg.neuron['name']!r}"] if isinstance(cfg.neuron, dict) else []
        written += [f"encoding {cfg.encoding['name']!r}"] if isinstance(cfg.encoding, dict) else []
        if not written:
            raise
        raise UserError(f"{' or '.join(written)} does not build: {brian2_reason(exc)}; check the equations, code, "
                        "parameters and units (see docs/python-api.md)") from None


class Simulator:
    """One network (learning or frozen) on one backend, run chunk by chunk.

    ``Simulator(cfg, learning, backend=...)`` returns the backend's class (``runtime``:
    :class:`~stdp_toolkit.backends.runtime.RuntimeSimulator`, ``standalone``:
    :class:`~stdp_toolkit.backends.standalone.StandaloneSimulator`, ``cuda``:
    :class:`~stdp_toolkit.backends.cuda.CudaSimulator`). A backend sets the network up
    (``_setup``) and runs one chunk (``_run``); checks, state and results are shared here.
    """

    backend = ""
    compiled = False   # a compiled program's monitors are read back from files after the run

    def __new__(cls, cfg=None, learning=True, backend=None, *args, **kwargs):
        if cls is Simulator:
            cls = backend_class(backend or "standalone")
        return super().__new__(cls)

    def __init__(self, cfg: Config, learning: bool, backend: str | None = None, n_presentations: int | None = None,
                 record_input: bool = False, record_inhibitory: bool = False, codegen_target: str | None = None,
                 build_root: str | None = None, verbose: bool = False, traces: Traces | None = None):
        if backend is not None and backend != self.backend:
            raise UserError(f"{type(self).__name__} runs the {self.backend!r} backend, not {backend!r}; use "
                            f"Simulator(cfg, learning, backend={backend!r})")
        cfg = cfg.validate()  # a Config built by hand is checked here (validating twice changes nothing)
        cfg.check_memory()  # every path that simulates (train, label, plot, report, sweep) passes here
        self.cfg, self.learning = cfg, learning
        self.n_presentations = int(n_presentations or cfg.chunk_presentations)
        self.verbose = verbose
        self.flushes_subnormals: bool | None = None  # FTZ/DAZ took effect in the last run (fpenv.py)
        self.variables = state_variables(cfg, learning)
        self.traces = None if traces is None else Traces(*traces).check(cfg.n_neurons) if isinstance(traces, tuple) \
            else traces.check(cfg.n_neurons)
        self.build_seconds = 0.0
        t0 = time.perf_counter()
        with _models_written_by_user(cfg, learning):
            self._setup(record_input, record_inhibitory, build_root=build_root, codegen_target=codegen_target)
        self.build_seconds = time.perf_counter() - t0

    def _setup(self, record_input, record_inhibitory, *, build_root, codegen_target) -> None:
        """Build the network (``self.objs``) on this backend."""
        raise NotImplementedError

    def _run(self, stim, n_valid, state, seed) -> tuple:
        """Run one chunk: (presentation samples, boosts, spike i, spike t, new state, extra monitors,
        samples reached, runaway flag)."""
        raise NotImplementedError

    def cleanup_run_args(self, lock=None) -> None:
        """Remove files a compiled backend leaves for its runs (nothing to do in-process)."""

    def close(self):
        """Drop the Brian2 objects (a retired standalone network cannot run again)."""
        self.objs = None


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
            out = self._run(stim, n_valid, state, seed)
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

        if self.compiled:
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
