"""The three phases of an unsupervised STDP run, with checkpoints: train -> label -> evaluate.

A run directory holds ``checkpoint.npz`` (weights, θ, dynamic state, neuron labels, progress,
the full config and seed), ``metrics.json`` and the figures. Training proceeds in chunks of
presentations; after every chunk the checkpoint is replaced atomically, so a killed run resumes
from its last chunk and, because each chunk's random seed is derived from (seed, chunk index),
a resumed run reproduces the uninterrupted one.

Why one module of ~450 lines of code: the three phases share the run state, its checkpoint and
resume checks, the chunk loop's seeds and runaway guard, and the parallel frozen runs; split by
phase, each would import most of the others' internals.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import checkpoint, readout
from .compression import training as compression_training
from .errors import UserError
from .validation import check_labels, show
from .network.config import Config
from .network.builder import input_weight_matrix
from .backends import Simulator
from .network.state import fill_state, initial_state, rest_state

CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.json"
# fields of a run's checkpoint; raise when they change. 2: the training data's identity (``data``).
LAYOUT = 2
_META_FIELDS = ("config", "seed", "samples_seen", "train_samples", "chunks_done", "backend", "train_seconds", "curve")

# progress watchdog: a training loop that completes no sample in this many chunks in a row (an
# evaluation loop: in this many rounds over its unfinished slices) stops with an error naming the
# likely cause instead of running forever. It only reads ``consumed``: a run that progresses is
# untouched, and a resumed run stays identical to an uninterrupted one.
STALL_CHUNKS = 10


def chunk_seed(seed: int, phase: str, index: int) -> int:
    """Independent, reproducible seed for chunk ``index`` of a phase."""
    tag = {"train": 0, "label": 1, "test": 2}.get(phase, 3)
    return int(np.random.SeedSequence([int(seed), tag, int(index)]).generate_state(1)[0])


def to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 images [N, 28, 28] -> float [N, 784] in [0, 1] (the input rate scales with it)."""
    images = np.asarray(images)
    if images.ndim < 2:
        raise UserError(f"images must be an array [N, H, W] or [N, pixels], got shape {images.shape}")
    if images.dtype.kind not in "biuf":
        raise UserError(f"images must hold numbers (pixel values), got dtype {images.dtype}")
    flat = images.reshape(len(images), int(np.prod(images.shape[1:]))).astype(float)
    if flat.size and (not np.isfinite(flat).all() or flat.min() < 0 or flat.max() > 255):
        if not np.isfinite(flat).all():
            bad = "NaN or infinite values"
        else:
            bad = f"values in [{flat.min():g}, {flat.max():g}]"
        raise UserError(f"images must hold finite pixel values in [0, 255] (or [0, 1]), got {bad}; "
                        "check the data set")
    return flat / 255.0 if flat.max(initial=0) > 1.0 else flat


def stall_message(cfg: Config, n_presentations: int, phase: str, chunks: int) -> str:
    """Why a loop completed no sample in ``chunks`` chunks, and the fix (one line)."""
    if cfg.min_spikes > 0 and n_presentations <= cfg.max_boosts:
        return (f"{phase}: no sample finished in {chunks} chunks in a row. A sample that draws fewer than "
                f"min_spikes = {cfg.min_spikes} spikes (a blank or very dim image) is shown up to max_boosts + 1 = "
                f"{cfg.max_boosts + 1} times, but a chunk holds only {n_presentations} presentations; raise "
                f"chunk_presentations above max_boosts ({cfg.max_boosts}), or lower max_boosts or min_spikes")
    return (f"{phase}: no sample finished in {chunks} chunks in a row although a chunk of {n_presentations} "
            f"presentations always has room for max_boosts + 1 = {cfg.max_boosts + 1}; the simulation itself "
            "is stuck or broken (this is a bug: please report it with the config)")


def _stalled(cfg: Config, n_presentations: int, phase: str, chunks: int) -> Exception:
    message = stall_message(cfg, n_presentations, phase, chunks)
    stuck_by_config = cfg.min_spikes > 0 and n_presentations <= cfg.max_boosts
    return UserError(message) if stuck_by_config else RuntimeError(message)


@dataclass
class RunState:
    """Everything a run directory's checkpoint holds."""

    cfg: Config
    seed: int
    state: dict
    samples_seen: int = 0          # training samples completed (over all epochs)
    train_samples: int = 0         # samples per epoch this run was asked for
    chunks_done: int = 0
    backend: str = "standalone"
    train_seconds: float = 0.0
    assignments: np.ndarray | None = None
    proportions: np.ndarray | None = None
    curve: list = field(default_factory=list)      # [(samples seen, running accuracy)]
    recent_counts: np.ndarray | None = None        # responses of the current curve block
    recent_labels: np.ndarray | None = None
    previous_block: tuple | None = None            # (counts, labels) of the last finished block
    extra: dict = field(default_factory=dict)
    data: dict | None = None                       # identity of the training data (checkpoint.data_identity)
    models: dict | None = None                     # the model definitions trained with (Config.model_definitions)

    def __post_init__(self):
        if self.models is None:
            self.models = self.cfg.model_definitions()

    # ---- persistence ---------------------------------------------------------------------------
    def save(self, run_dir: str) -> None:
        arrays = {f"state_{k}": v for k, v in self.state.items()}
        for name in ("assignments", "proportions", "recent_counts", "recent_labels"):
            value = getattr(self, name)
            if value is not None:
                arrays[name] = value
        if self.previous_block is not None:
            arrays["prev_counts"], arrays["prev_labels"] = self.previous_block
        meta = dict(config=self.cfg.to_dict(), seed=self.seed, samples_seen=self.samples_seen,
                    train_samples=self.train_samples, chunks_done=self.chunks_done, backend=self.backend,
                    train_seconds=self.train_seconds, curve=self.curve, extra=self.extra, layout=LAYOUT,
                    data=self.data, models=self.models)
        checkpoint.save(os.path.join(run_dir, CHECKPOINT), arrays, meta)

    @classmethod
    def load(cls, run_dir: str) -> "RunState":
        path = os.path.join(run_dir, CHECKPOINT)
        arrays, meta = checkpoint.load(path)
        layout = meta.get("layout", 1)
        if not isinstance(layout, int) or layout > LAYOUT:
            raise UserError(f"{path} was written by a newer stdp-toolkit (checkpoint layout {layout}; this version "
                            f"reads up to {LAYOUT}): upgrade stdp-toolkit to use it")
        missing = [k for k in _META_FIELDS if k not in meta]
        if missing:
            raise UserError(f"{path} lacks {', '.join(missing)}: it was written by an older stdp-toolkit whose "
                            "checkpoints this version cannot read; train again with this version")
        cfg = Config.from_dict(meta["config"], source=path)
        prev = (arrays["prev_counts"], arrays["prev_labels"]) if "prev_counts" in arrays else None
        run = cls(cfg=cfg, seed=meta["seed"], state={k[6:]: v for k, v in arrays.items() if k.startswith("state_")},
                  samples_seen=meta["samples_seen"], train_samples=meta["train_samples"],
                  chunks_done=meta["chunks_done"], backend=meta["backend"], train_seconds=meta["train_seconds"],
                  assignments=arrays.get("assignments"), proportions=arrays.get("proportions"),
                  curve=[tuple(c) for c in meta["curve"]], recent_counts=arrays.get("recent_counts"),
                  recent_labels=arrays.get("recent_labels"), previous_block=prev, extra=meta.get("extra", {}),
                  data=meta.get("data"), models=meta.get("models") or {})  # {}: not recorded (older runs)
        run._check(path)
        changed = model_changes(run.models, cfg.model_definitions(), ("excitatory", "inhibitory", "input"))
        if changed:
            raise UserError(f"{path} was trained with other neuron models than its config gives now ({changed[0]}"
                            f"{'; ...' if len(changed) > 1 else ''}): it would be evaluated as another network; "
                            "use the stdp-toolkit version or model code it was trained with")
        return run

    def _check(self, path: str) -> None:
        """The arrays fit the config: every variable the network needs, sizes, finite values, labels 0..9.

        A checksum only proves the file is the one that was written; this catches a checkpoint
        assembled by hand or by another tool, before it silently evaluates as something else.
        """
        for key, fresh in initial_state(self.cfg, 0).items():
            have = self.state.get(key)
            if have is None:
                raise UserError(f"{path} has no '{key}' although its config needs it; the checkpoint is incomplete: "
                                "train again")
            if have.shape != fresh.shape or not np.isfinite(have).all():
                raise UserError(f"{path}: '{key}' has shape {have.shape}"
                                f"{'' if np.isfinite(have).all() else ' and non-finite values'}, the config needs "
                                f"{fresh.shape} finite values; the checkpoint does not match its config: train again")
        n = self.cfg.n_neurons
        if self.assignments is not None:
            if self.assignments.shape != (n,):
                raise UserError(f"{path}: neuron labels have shape {self.assignments.shape}, the network has {n} "
                                "neurons; label the run again (stdp-toolkit train resumes and relabels)")
            check_labels(self.assignments, f"{path}: neuron labels", readout.N_CLASSES)
        if self.proportions is not None and (self.proportions.shape != (n, readout.N_CLASSES)
                                             or not np.isfinite(self.proportions).all()):
            raise UserError(f"{path}: label proportions have shape {self.proportions.shape}, expected "
                            f"({n}, {readout.N_CLASSES}) finite values; label the run again")
        if not (isinstance(self.samples_seen, int) and 0 <= self.samples_seen
                and isinstance(self.train_samples, int) and self.train_samples >= 0):
            raise UserError(f"{path}: progress fields are invalid (samples_seen {self.samples_seen!r}, "
                            f"train_samples {self.train_samples!r}); the checkpoint is damaged: train again")

    @property
    def weights(self) -> np.ndarray:
        """Input weights as [n_inputs, n_neurons] (zero across ensembles of a multimodal network)."""
        return input_weight_matrix(self.cfg, self.state["w"])


def load(run_dir: str) -> RunState:
    """The run saved in ``run_dir`` (config, models, weights, state, labels, curve)."""
    return RunState.load(run_dir)


def _progress(total: int, desc: str, quiet: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sample", disable=quiet, file=sys.stderr, dynamic_ncols=True,
                mininterval=1.0)


def _epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """Sample order of an epoch: the data order first, a seeded shuffle in later epochs."""
    if epoch == 0:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


def curve_block(n_samples: int) -> int:
    return int(min(1000, max(50, n_samples // 10)))


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------
def train(cfg: Config, images: np.ndarray, labels: np.ndarray, run_dir: str, *, seed: int = 0,
          backend: str = "standalone", resume: bool = True, quiet: bool = False, codegen_target: str | None = None,
          stop_after_chunks: int | None = None, on_chunk=None, traces=None, init_from=None) -> RunState:
    """Train on ``images`` for ``cfg.epochs`` epochs, checkpointing after every chunk.

    Labels are not used for learning: they only feed the running-accuracy curve.
    ``on_chunk(run, result)`` is called after every saved chunk with the run so far and the
    chunk's :class:`~stdp_toolkit.backends.base.ChunkResult` (its spikes, state and, with
    ``traces`` such as ``Traces(("v", "theta"), (0, 1, 2))``, the recorded state variables).
    ``stop_after_chunks`` ends the call early (to test resuming).

    ``init_from`` (a run folder or a :class:`RunState`) warm-starts a new run: it begins with that
    run's weights, θ and every other variable both networks carry, under ``cfg``'s settings (a
    changed rule, learning rate or neuron parameter). Variables only the new network has start fresh;
    the run records which (``run.extra["warm_start"]``).

    Example::

        seen = []
        st.train(cfg, x, y, "runs/a", traces=st.Traces(("v", "theta"), (0,)),
                 on_chunk=lambda run, r: seen.append(r.traces["v"][0]))
        st.train(cfg.replace(rule_params={"nu_post": 0.005}), x, y, "runs/a-slower", init_from="runs/a")
    """
    cfg = cfg.validate()  # a Config built in a notebook is checked (and its quantities made numbers) here
    x, y = to_unit(images), check_labels(labels, "training labels")
    if len(x) != len(y):
        raise UserError(f"{len(x)} images but {len(y)} labels")
    if len(x) == 0:
        raise UserError("no training samples: give --train-samples > 0")
    cfg.check_memory()
    data = checkpoint.data_identity("training data", images, y)
    source = None
    if init_from is not None:
        source = init_from if isinstance(init_from, RunState) else RunState.load(str(init_from))
    with checkpoint.run_lock(run_dir):
        return _train(cfg, x, y, data, run_dir, seed, backend, resume, quiet, codegen_target, stop_after_chunks,
                      on_chunk, traces, source)


def _source_identity(source: RunState) -> dict:
    """What identifies a warm start's source: its progress and its weights."""
    return {"config": source.cfg.name, "samples_seen": source.samples_seen,
            "w_sha256": checkpoint.data_identity("w", source.state["w"])["sha256"]}


def warm_state(cfg: Config, seed: int, source: RunState) -> tuple[dict, dict]:
    """``cfg``'s starting state taken from ``source`` wherever both networks carry a variable, and
    the record of it (source identity; variables taken, started fresh, and left: those only the
    source carries, such as the traces of a rule the new network does not use)."""
    state = fill_state(cfg, initial_state(cfg, seed), True)
    taken, fresh = [], []
    for key, value in state.items():
        old = source.state.get(key)
        if old is None:
            fresh.append(key)
            continue
        if np.shape(old) != np.shape(value):
            raise UserError(f"warm start from run {source.cfg.name!r}: its '{key}' has {np.size(old):,} values, this "
                            f"network needs {np.size(value):,}; a warm start keeps the network's sizes (n_neurons, "
                            "n_inputs, ensembles), so change only rule, neuron and learning settings")
        state[key] = np.array(old, dtype=float)
        taken.append(key)
    left = sorted(set(source.state) - set(state))
    return state, {"source": _source_identity(source), "taken": taken, "fresh": fresh, "left": left}


def model_changes(old: dict, new: dict, which=None) -> list[str]:
    """Fields that differ between two sets of model definitions (empty when ``old`` is unknown).

    Only the fields ``old`` recorded count: a field added to the models by a later version holds
    its default, which the old definition meant too."""
    if not old:
        return []
    changed = []
    for kind in which or sorted(set(old) | set(new)):
        if (kind in old) != (kind in new):
            changed.append(f"{kind} model {'added' if kind in new else 'removed'}")
            continue
        a, b = old.get(kind, {}), new.get(kind, {})
        changed += [f"{kind} model '{a.get('name', kind)}' {f} changed" for f in sorted(a) if a[f] != b.get(f)]
    return changed


def _resume_mismatch(run: RunState, cfg: Config, seed: int, n: int, data: dict,
                     source: RunState | None = None) -> list[str]:
    """What differs between a saved run and the call resuming it (empty: the same run)."""
    old_cfg = {k: v for k, v in run.cfg.to_dict().items() if k != "name"}  # the name is only a label
    new_cfg = {k: v for k, v in cfg.to_dict().items() if k != "name"}
    diff = []
    for k in sorted(set(old_cfg) | set(new_cfg)):
        a, b = old_cfg.get(k), new_cfg.get(k)
        if isinstance(a, dict) and isinstance(b, dict):   # a section or a written-out rule: name its fields
            diff += [f"config '{k}.{f}': {show(a.get(f))} -> {show(b.get(f))}"
                     for f in sorted(set(a) | set(b)) if a.get(f) != b.get(f)]
        elif a != b:
            diff.append(f"config '{k}': {show(a)} -> {show(b)}")
    # the same config can name a model whose code was edited since (a built-in rule changed in a notebook)
    diff += model_changes(run.models, cfg.model_definitions())
    if run.seed != seed:
        diff.append(f"seed: {run.seed} -> {seed}")
    if run.train_samples != n:
        diff.append(f"training samples: {run.train_samples} -> {n}")
    elif run.data is not None and run.data.get("sha256") != data["sha256"]:
        diff.append("training data: same size, other content (another --data-dir or data set)")
    if source is not None:
        started = run.extra.get("warm_start", {}).get("source")
        now = _source_identity(source)
        if started != now:
            diff.append("warm start: " + (f"from run {started['config']!r} at {started['samples_seen']:,} samples"
                                          if started else "none") +
                        f" -> from run {now['config']!r} at {now['samples_seen']:,} samples")
    return diff


def _start_or_resume(cfg, n_train, data, run_dir, seed, backend, resume, source) -> RunState:
    """The run in ``run_dir`` when resuming one made with the same settings, else a fresh (or warm-started) one."""
    checkpoint.remove_stale_temporaries(run_dir)
    if resume and os.path.exists(os.path.join(run_dir, CHECKPOINT)):
        run = RunState.load(run_dir)
        diff = _resume_mismatch(run, cfg, seed, n_train, data, source)
        if diff:
            shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
            raise UserError(f"{run_dir} holds a run that differs from this one ({shown}); use the same settings "
                            "to resume, a new --out directory, or --no-resume to start over")
        if run.data is None:
            run.data = data  # a checkpoint of layout 1 did not record its data: from now on it is checked
        if not run.models:
            run.models = cfg.model_definitions()  # likewise for the model definitions
        return run
    run = RunState(cfg=cfg, seed=seed, state=initial_state(cfg, seed), train_samples=n_train, backend=backend, data=data)
    if source is not None:
        run.state, run.extra["warm_start"] = warm_state(cfg, seed, source)
    return run


def _train(cfg, x, y, data, run_dir, seed, backend, resume, quiet, codegen_target, stop_after_chunks,
           on_chunk=None, traces=None, source=None) -> RunState:
    run = _start_or_resume(cfg, len(x), data, run_dir, seed, backend, resume, source)
    total = len(x) * cfg.epochs
    compress = cfg.compression_settings() is not None
    if run.samples_seen >= total:
        if compress and compression_training.finish(run):
            run.save(run_dir)
        return run
    block = curve_block(len(x))
    sim = Simulator(cfg, learning=True, backend=backend, codegen_target=codegen_target, traces=traces)
    bar = _progress(total, f"train ({backend})", quiet)
    bar.update(run.samples_seen)
    chunks_this_call = stalled = 0
    while run.samples_seen < total:
        epoch, pos = divmod(run.samples_seen, len(x))
        order = _epoch_order(seed, epoch, len(x))[pos: pos + sim.n_presentations]
        t0, c0 = time.perf_counter(), child_cpu_seconds()
        result = sim.run(x[order], run.state, chunk_seed(seed, "train", run.chunks_done))
        error = runaway(cfg, result.counts, x[order], f"train: runaway after {run.samples_seen:,} samples (the "
                        "checkpoint holds the state before it)", result.runaway)
        if error is not None:
            bar.close()
            raise error
        run.train_seconds += time.perf_counter() - t0
        run.extra["train_cpu_children_seconds"] = run.extra.get("train_cpu_children_seconds", 0.0) + child_cpu_seconds() - c0
        run.state = {**run.state, **result.state}  # keeps bookkeeping arrays the simulator does not carry
        _update_curve(run, result.counts, y[order[: result.consumed]], block)
        run.samples_seen += result.consumed
        run.chunks_done += 1
        if compress:
            compression_training.after_chunk(run, result, len(order))
        run.save(run_dir)
        if on_chunk is not None:
            on_chunk(run, result)
        bar.update(result.consumed)
        if result.consumed:
            bar.set_postfix(spikes=f"{result.counts.sum(1).mean():.1f}", repeats=f"{result.boosts.mean():.2f}")
        chunks_this_call += 1
        stalled = 0 if result.consumed > 0 else stalled + 1
        if stalled >= STALL_CHUNKS:
            bar.close()
            raise _stalled(cfg, sim.n_presentations, "train", stalled)
        if stop_after_chunks is not None and chunks_this_call >= stop_after_chunks:
            break
    bar.close()
    run.extra["build_seconds_train"] = sim.build_seconds
    if compress and run.samples_seen >= total:
        compression_training.finish(run)
    run.save(run_dir)
    return run


def runaway(cfg: Config, counts: np.ndarray, x_chunk: np.ndarray, where: str, flagged: bool) -> UserError | None:
    """The error to stop with when a presentation fired far beyond anything learning needs, else None.

    A learning D&C network fires well under one spike per neuron and sample; a runaway (an unstable
    integration, or excitation outgrowing the lateral inhibition) fires near the refractory limit
    and costs 100x the time per sample, so it would otherwise run on silently for hours. The
    simulation's controller counts every presentation's spikes and sets ``flagged`` on every
    backend (the C++ program also stops there); ``counts`` only sizes the message.
    """
    bound = cfg.max_spikes_per_neuron
    if not bound or not flagged:
        return None
    worst = max(float(counts.sum(1).max(initial=0)) if len(counts) else 0.0, bound * cfg.n_neurons)
    density = f"mean input intensity {float(x_chunk.mean()):.2f}; MNIST: 0.13"
    if cfg.method == "euler":
        cause = f"forward-Euler integration (method euler) is unstable under strong input ({density})"
        fix = "set method: implicit_euler (or exponential_euler) in the config, or lower input.max_rate"
    else:
        cause = f"excitation outgrows the lateral inhibition ({density})"
        fix = "lower input.max_rate, w_init or norm_total, or raise w_ie"
    return UserError(f"{where}: a presentation drew over {worst:,.0f} excitatory spikes ({worst / cfg.n_neurons:.1f} "
                     f"per neuron; the bound max_spikes_per_neuron is {bound:g}). Likely cause: {cause}. Fix: {fix}, "
                     "then train again with --no-resume or a new --out")


def child_cpu_seconds() -> float:
    """CPU seconds of finished child processes (the standalone binary runs as one)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _update_curve(run: RunState, counts: np.ndarray, labels: np.ndarray, block: int) -> None:
    """Append responses; each finished block is scored with labels from the block before it."""
    n = run.cfg.n_neurons
    rc = run.recent_counts if run.recent_counts is not None else np.zeros((0, n), np.int32)
    rl = run.recent_labels if run.recent_labels is not None else np.zeros(0, np.uint8)
    rc, rl = np.concatenate([rc, counts.astype(np.int32)]), np.concatenate([rl, labels.astype(np.uint8)])
    while len(rc) >= block:
        cur_c, cur_l, rc, rl = rc[:block], rl[:block], rc[block:], rl[block:]
        if run.previous_block is not None:
            a, _ = readout.assign_labels(*run.previous_block)
            acc = float((readout.predict(cur_c, a) == cur_l).mean())
            run.curve.append((run.samples_seen + len(counts) - len(rc), acc))
        run.previous_block = (cur_c, cur_l)
    run.recent_counts, run.recent_labels = rc, rl


# ------------------------------------------------------------------------------------------------
# frozen phases: labelling and evaluation
# ------------------------------------------------------------------------------------------------
def _slices(n: int, per_chunk: int) -> list[np.ndarray]:
    return [np.arange(s, min(n, s + per_chunk)) for s in range(0, n, per_chunk)]


def _run_slices(sim: Simulator, x, state, seed, phase, tasks, workers):
    """Run (task id, sample indices) on frozen networks; returns {task id: ChunkResult-like dict}."""
    def one(task):
        tid, idx = task
        r = sim.run(x[idx], rest_state(sim.cfg, state), chunk_seed(seed, phase, tid))
        error = runaway(sim.cfg, r.counts, x[idx], f"{phase}: the trained network runs away", r.runaway)
        if error is not None:
            raise error
        return tid, dict(consumed=r.consumed, counts=r.counts, boosts=r.boosts)

    # a daemonic process (a Dask or pool worker) cannot start processes: it runs the slices itself
    if workers > 1 and len(tasks) > 1 and sim.backend == "standalone" and not multiprocessing.current_process().daemon:
        global _WORKER
        _WORKER = one
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(min(workers, len(tasks)), initializer=_quiet_worker) as pool:
            results = dict(pool.imap_unordered(_call_worker, tasks))
        sim.cleanup_run_args()
        return results
    return dict(one(t) for t in tasks)


_WORKER = None


def _call_worker(task):
    return _WORKER(task)


def _quiet_worker():
    """Ctrl-C is the parent's to handle: it stops the pool, whose SIGTERM ends a worker at once,
    without a traceback (its running simulation program follows it: see simulator._run_command)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the command line's handler it was forked with


def respond(run: RunState, images: np.ndarray, phase: str, *, backend: str = "standalone", workers: int = 1,
            quiet: bool = False, codegen_target: str | None = None, sim: Simulator | None = None):
    """Frozen-network spike counts [n, N] for every image, and how often each was shown again.

    Samples are cut into fixed slices, each simulated from rest with its own seed, so the
    result does not depend on how many worker processes share the work.
    """
    cfg = run.cfg
    x = to_unit(images)
    if sim is None:
        sim = Simulator(cfg, learning=False, backend=backend, codegen_target=codegen_target)
    per_chunk = max(1, int(sim.n_presentations * 0.9))
    counts = np.zeros((len(x), cfg.n_neurons), dtype=np.int32)
    boosts = np.zeros(len(x), dtype=np.int32)
    todo = list(enumerate(_slices(len(x), per_chunk)))
    bar = _progress(len(x), phase, quiet)
    next_id, stalled = len(todo), 0
    while todo:
        results = _run_slices(sim, x, run.state, run.seed, phase, todo, workers)
        leftovers, finished = [], 0
        for tid, idx in todo:
            r = results[tid]
            done = idx[: r["consumed"]]
            counts[done], boosts[done] = r["counts"], r["boosts"]
            leftovers.extend(idx[r["consumed"]:])
            bar.update(len(done))
            finished += len(done)
        todo = []
        for sl in _slices(len(leftovers), per_chunk):
            todo.append((next_id, np.asarray(leftovers)[sl]))
            next_id += 1
        # watchdog: every round over the unfinished slices must finish at least one sample
        stalled = 0 if finished else stalled + 1
        if todo and stalled >= STALL_CHUNKS:
            bar.close()
            raise _stalled(cfg, sim.n_presentations, phase, stalled)
    bar.close()
    return counts, boosts


def label(run: RunState, images, labels, **kw) -> RunState:
    """Assign every neuron the class it responds to most (weights and θ frozen)."""
    labels = check_labels(labels, "labelling labels")
    if len(labels) != len(images):
        raise UserError(f"{len(images)} images but {len(labels)} labels for the label phase")
    counts, _ = respond(run, images, "label", **kw)
    run.assignments, run.proportions = readout.assign_labels(counts, labels)
    run.extra["label_samples"] = int(len(labels))
    return run


def evaluate(run: RunState, images, labels, **kw) -> dict:
    """Accuracy of both votes on ``images``, with the confusion matrix and timing."""
    if run.assignments is None:
        raise UserError("this run has no neuron labels yet: run the label phase (train does it at the end)")
    labels = check_labels(labels, "test labels")
    if len(labels) != len(images):
        raise UserError(f"{len(images)} test images but {len(labels)} labels")
    t0 = time.perf_counter()
    counts, boosts = respond(run, images, "test", **kw)
    seconds = time.perf_counter() - t0
    pred = readout.predict(counts, run.assignments)
    pred_p = readout.predict(counts, run.assignments, run.proportions, method="proportion")
    return dict(
        accuracy=float((pred == labels).mean()),
        accuracy_proportion=float((pred_p == labels).mean()),
        test_samples=int(len(labels)),
        seconds=seconds,
        seconds_per_sample=seconds / max(1, len(labels)),
        mean_spikes_per_sample=float(counts.sum(1).mean()),
        repeat_fraction=float((boosts > 0).mean()),
        confusion=readout.confusion_matrix(labels, pred).tolist(),
        predictions=pred,
        counts=counts,
    )


def metrics_path(run_dir: str) -> str:
    return os.path.join(run_dir, METRICS)


def read_metrics(run_dir: str) -> dict:
    """The run's metrics.json ({} when there is none). A damaged one is an error, never silently
    replaced: it may hold the only record of a long training's figures."""
    path = metrics_path(run_dir)
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as fh:
            metrics = json.load(fh)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}); move it away, then "
                        "run the command again (it will be written anew)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}; move it away, then run the command again") from None
    if not isinstance(metrics, dict):
        raise UserError(f"{path} holds a JSON {type(metrics).__name__}, not this toolkit's metrics; move it away, "
                        "then run the command again")
    return metrics


def reset_run_dir(run_dir: str) -> None:
    """Start a run folder over (``--no-resume``): delete the checkpoint, metrics and figures of the
    run it holds. Files in a folder that holds no run are the user's: they are never deleted."""
    if not os.path.isdir(run_dir):
        return
    ours = [p for p in (METRICS, "figures") if os.path.exists(os.path.join(run_dir, p))]
    if not os.path.exists(os.path.join(run_dir, CHECKPOINT)):
        if ours:
            raise UserError(f"{run_dir} holds {' and '.join(ours)} but no run (no {CHECKPOINT}); they are not "
                            "this toolkit's to delete: choose a new or empty --out")
        return
    os.remove(os.path.join(run_dir, CHECKPOINT))
    for name in ours:
        path = os.path.join(run_dir, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
