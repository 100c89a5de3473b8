"""Commands of the Brian2 network: train, evaluate, plot, report, sweep, demo (work: :mod:`stdp_toolkit.pipeline`)."""
from __future__ import annotations

import json
import os
import sys

from ..errors import UserError
from ..validation import COUNT, SEED, check_output_dir


def _data_dir_option(p) -> None:
    p.add_argument("--data-dir", help="folder with MNIST-style IDX files (default: $STDP_DATA_DIR, else the embedded digits)")


def _audio_dir_option(p) -> None:
    p.add_argument("--audio-dir", help="multimodal configs: Free Spoken Digit Dataset folder "
                                       "(default: $STDP_AUDIO_DIR, else DATA_DIR/fsdd)")


def _add_train(sub) -> None:
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


def _add_evaluate(sub) -> None:
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


def _add_plot(sub) -> None:
    p = sub.add_parser("plot", help="write the figures of a run to RUN_DIR/figures")
    p.add_argument("run_dir")
    p.add_argument("--data-dir", help="where to take the samples for the raster plot from")
    p.add_argument("--raster-samples", type=COUNT, default=3)
    _audio_dir_option(p)
    p.set_defaults(func=cmd_plot)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="compression, synaptic operations, energy and memory of a trained run")
    p.add_argument("run_dir")
    p.add_argument("--reference", help="uncompressed run directory to compare energy, ops and accuracy against")
    _data_dir_option(p)
    p.add_argument("--samples", type=COUNT, default=500, help="test samples whose spikes are counted")
    p.add_argument("--no-figures", action="store_true", help="skip the mask and weight-histogram figures")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=cmd_report)


def _add_sweep(sub) -> None:
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


def _add_study(sub) -> None:
    p = sub.add_parser("study", help="configs x seeds on Dask: train, label, test each, then one table "
                                     "(mean ± sd over seeds) with a figure")
    p.add_argument("configs", nargs="+", metavar="CONFIG", help="experiment configs (YAML)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: 0,1,2)")
    _data_dir_option(p)
    _audio_dir_option(p)
    p.add_argument("--train-samples", type=COUNT, help="training samples per epoch (default: all)")
    p.add_argument("--test-samples", type=COUNT, help="test samples (default: all)")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler (default: a local cluster)")
    p.add_argument("--workers", type=COUNT, default=os.cpu_count() or 1, help="local cluster processes")
    p.add_argument("--out", required=True, help="study folder: one run folder per config and seed, study.json, "
                                                "study.md, figures/study.png")
    p.set_defaults(func=cmd_study)


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="train and evaluate a small network on the embedded digits (offline)")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--train-samples", type=COUNT, default=3000)
    p.add_argument("--neurons", type=COUNT, default=100)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)


def register(sub) -> None:
    """Add this module's commands to the CLI's sub-parsers."""
    for add in (_add_train, _add_evaluate, _add_plot, _add_report, _add_sweep, _add_study, _add_demo):
        add(sub)


# ------------------------------------------------------------------------------------------------
def cmd_train(args) -> int:
    from .. import pipeline
    from ..network.config import Config

    cfg = Config.load(args.config)
    check_output_dir(args.out)
    if args.init_from is not None and os.path.abspath(args.init_from) == os.path.abspath(args.out):
        raise UserError("--init-from names the run folder itself; to go on training a run, leave --init-from out "
                        "(train resumes from --out)")
    x, y, source = pipeline.load_data(cfg, args.data_dir, "train", args.train_samples, audio_dir=args.audio_dir,
                                      seed=args.seed)
    run, metrics = pipeline.fit(cfg, x, y, args.out, seed=args.seed, backend=args.backend,
                                resume=not args.no_resume, quiet=args.quiet,
                                label_samples=args.label_samples, source=source, init_from=args.init_from)
    print(f"trained {cfg.name} ({cfg.n_neurons} neurons, rule {cfg.plasticity().name}) on {len(x)} samples from {source}")
    print(f"{metrics['seconds_per_sample'] * 1e3:.1f} ms per training sample ({args.backend}); "
          f"run directory: {args.out}")
    return 0


def cmd_evaluate(args) -> int:
    from ..pipeline import evaluate_run

    res = evaluate_run(args.run_dir, args.data_dir, args.test_samples, backend=args.backend, workers=args.workers,
                       quiet=args.quiet or args.json, audio_dir=args.audio_dir, noise=args.noise)
    if args.json:
        print(json.dumps({k: v for k, v in res.items() if k != "confusion"}))
        return 0
    print(f"accuracy {res['accuracy']:.2%} (proportion vote {res['accuracy_proportion']:.2%}) on "
          f"{res['test_samples']} test samples in {res['seconds']:.1f} s")
    if "readouts" in res:
        print("  " + ", ".join(f"{name} {r['accuracy']:.2%} ({r['accuracy_proportion']:.2%})"
                               for name, r in res["readouts"].items()) + "  (mean-rate vote (proportion vote))")
    for p in res.get("noise", []):
        print(f"  {p['modality']} {p['kind']} {p['level']:g}: " + ", ".join(
            f"{name} {p[name]:.2%} ({p[name + '_proportion']:.2%})" for name in res["readouts"]))
    return 0


def cmd_plot(args) -> int:
    from ..pipeline import figures

    for path in figures(args.run_dir, args.data_dir, args.raster_samples, audio_dir=args.audio_dir):
        print(path)
    return 0


def cmd_demo(args) -> int:
    from ..pipeline import demo

    check_output_dir(args.out)   # before the banner: a mistake is one line
    print(f"demo: {args.neurons}-neuron Diehl & Cook network, {args.train_samples} embedded MNIST digits, "
          "C++ standalone", file=sys.stderr)
    res = demo(args.out, args.train_samples, args.neurons, quiet=args.quiet)
    print(f"accuracy on {res['test_samples']} held-out embedded digits: {res['accuracy']:.1%} "
          f"(proportion vote {res['accuracy_proportion']:.1%}; chance 10%)")
    print(f"figures: {os.path.dirname(res['figures'][0])}")
    return 0


def cmd_report(args) -> int:
    from .. import pipeline
    from ..compression.report import build_report, format_report
    from ..datasets import load_digits

    check_output_dir(os.path.join(args.run_dir, "figures") if not args.no_figures else args.run_dir, "run folder")
    x, y, _ = load_digits(args.data_dir, "test")
    n = min(args.samples, len(x))
    rep = build_report(args.run_dir, x[:n], y[:n], reference=args.reference)
    if not args.no_figures:
        rep["figures"] = pipeline.compression_figures(args.run_dir)
    pipeline.write_metrics(args.run_dir, {"compression": rep})
    print(json.dumps(rep) if args.json else format_report(rep))
    return 0


def cmd_study(args) -> int:
    from ..study import markdown, run_study

    seeds = _number_list(args.seeds, int, "--seeds")
    check_output_dir(args.out)
    res = run_study(args.configs, seeds, args.out, data_dir=args.data_dir, audio_dir=args.audio_dir,
                    train_samples=args.train_samples, test_samples=args.test_samples, scheduler=args.scheduler,
                    workers=args.workers)
    print(markdown(res["summary"]))
    print(f"runs and study.json/study.md: {args.out}; figure: {os.path.join(args.out, 'figures', 'study.png')}")
    return 0


def _number_list(text: str, kind, what: str) -> list:
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{what} must be comma-separated numbers, got {text!r}") from None


def cmd_sweep(args) -> int:
    from ..compression.sweep import run_sweep

    sparsities = _number_list(args.sparsities, float, "--sparsities")
    levels = [k or None for k in _number_list(args.levels, int, "--levels")]
    out = args.out or os.path.join(args.run_dir, "sweep.json")
    results = run_sweep(args.run_dir, args.data_dir, sparsities, levels, args.scheme, args.label_samples,
                        args.test_samples, args.scheduler, args.workers, out=out)
    for r in results:
        print(f"sparsity {r['measured_sparsity']:.2f}  levels {r['levels'] or 'float':>5}  "
              f"{r['bits_per_synapse']:6.2f} bits/synapse  accuracy {r['accuracy']:.2%}")
    print(f"results: {out}; Pareto plot: {os.path.join(args.run_dir, 'figures', 'pareto.png')}")
    return 0
