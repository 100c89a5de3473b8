"""``lite-train``, ``lite-seqlen`` and ``lite-report`` sub-commands (LITE-SNN sequence models).

Imports nothing heavy at module level: torch is imported only when a command runs.
"""
from __future__ import annotations

import argparse
import json
import sys

from ...errors import UserError

MODELS = ("lite", "vanilla", "lstm", "gru", "cnn")
TASKS = ("nmnist", "sst2", "recall")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lite-train", help="train a LITE-SNN / vanilla SNN / LSTM / GRU / CNN sequence model",
        description="Train one sequence model on N-MNIST (event frames), SST-2 (text) or the synthetic delayed-recall "
                    "task; checkpoints every epoch to OUT/<task>_<model>.pt and writes OUT/<task>_<model>.json.")
    p.add_argument("--task", choices=TASKS, required=True)
    p.add_argument("--model", choices=MODELS, default="lite")
    _common(p)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--length", type=int, default=100, help="recall task: sequence length in time steps")
    p.add_argument("--resume", action="store_true", help="continue from OUT/<task>_<model>.pt if it exists")
    p.set_defaults(func=_train)

    p = subparsers.add_parser(
        "lite-seqlen", help="sequence-length study: vanilla SNN vs LITE (and LSTM/GRU) on delayed recall",
        description="Train each model on the delayed-recall task at each length and report test accuracy and how much "
                    "gradient reaches the cue steps at initialisation.")
    p.add_argument("--lengths", default="25,50,100,200", help="comma-separated sequence lengths (time steps)")
    p.add_argument("--models", default="vanilla,lite", help=f"comma-separated, from {','.join(MODELS)}")
    _common(p)
    p.add_argument("--epochs", type=int, default=12)
    p.set_defaults(func=_seqlen)

    p = subparsers.add_parser("lite-report", help="table (and plot) comparing the trained sequence models",
                              description="Collect the JSON results in RUNS into one table: accuracy, parameters, "
                                          "time steps, MACs/ACs and estimated energy per sample.")
    p.add_argument("--runs", required=True, nargs="+", help="folder(s) with the lite-train / benchmark *.json results")
    p.add_argument("--plot", default=None, help="write a PNG comparing accuracy vs energy and the length study")
    p.add_argument("--markdown", default=None, help="also write the table to this Markdown file")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    p.set_defaults(func=_report)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="folder holding nmnist-small/ and sst2/ (default: $STDP_DATA_DIR)")
    p.add_argument("--out", default="runs/lite", help="output folder for checkpoints and metrics (default runs/lite)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--train-limit", type=int, default=None, help="use only the first/sampled N training items")
    p.add_argument("--eval-limit", type=int, default=None, help="use only the first N dev/test items")
    p.add_argument("--n-bins", type=int, default=10, help="N-MNIST: frames (time steps) per recording")
    p.add_argument("--steps-per-item", type=int, default=0,
                   help="SNN time steps per word/frame/vector (0 = task default: SST-2 5, others 1)")
    p.add_argument("--hidden", type=int, default=64, help="vanilla SNN / LSTM / GRU state size")
    p.add_argument("--channels", type=int, default=48, help="LITE / CNN temporal-conv channels")
    p.add_argument("--kernel", type=int, default=3, help="LITE / CNN temporal convolution kernel (items)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout before the ANN head")
    p.add_argument("--embed-dropout", type=float, default=0.0, help="SST-2: dropout on the word vectors")
    p.add_argument("--n-train", type=int, default=2000, help="recall task: training sequences")
    p.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this budget")
    p.add_argument("--json", action="store_true", help="print the final metrics as JSON")


def _config(args, **over):
    from .train import TrainConfig

    if args.threads < 1:
        raise UserError("--threads must be >= 1")
    fields = dict(task=args.task if hasattr(args, "task") else "recall", model=getattr(args, "model", "lite"),
                  data_dir=args.data_dir, out=args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                  seed=args.seed, threads=args.threads, train_limit=args.train_limit, eval_limit=args.eval_limit,
                  n_bins=args.n_bins, steps_per_item=args.steps_per_item, hidden=args.hidden, channels=args.channels,
                  dropout=args.dropout, embed_dropout=args.embed_dropout, kernel=args.kernel, n_train=args.n_train, max_minutes=args.max_minutes,
                  length=getattr(args, "length", 100), resume=getattr(args, "resume", False))
    fields.update(over)
    return TrainConfig(**fields)


def _summary(r: dict) -> str:
    rate = "" if r.get("spike_rate") is None else f", spike rate {r['spike_rate']:.3f}"
    return (f"{r['task']} {r['model']}: test accuracy {100 * r['test_accuracy']:.2f}% "
            f"(n={r['n']}), {r['params']:,} params ({r['params_body']:,} without embedding), "
            f"{r['time_steps_per_sample']:.1f} time steps, {r['macs_per_sample']:.3g} MACs + "
            f"{r['acs_per_sample']:.3g} ACs = {r['energy_synaptic_J']:.3g} J/sample{rate}; "
            f"{r['epochs_run']} epochs in {r['train_seconds']:.0f} s -> {r['checkpoint']}")


def _train(args) -> int:
    from .train import train

    log = (lambda s: print(s, file=sys.stderr)) if args.json else print
    r = train(_config(args), log=log)
    print(json.dumps(r, indent=1) if args.json else _summary(r))
    return 0


def _seqlen(args) -> int:
    from .train import train

    try:
        lengths = [int(v) for v in args.lengths.split(",") if v.strip()]
    except ValueError as exc:
        raise UserError(f"--lengths must be comma-separated integers, got {args.lengths!r}") from exc
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODELS]
    if bad or not models or not lengths:
        raise UserError(f"--models must be a comma-separated subset of {','.join(MODELS)}; --lengths non-empty")
    log = (lambda s: print(s, file=sys.stderr)) if args.json else (lambda s: None)
    rows = []
    for n in lengths:
        for m in models:
            r = train(_config(args, task="recall", model=m, length=n), log=log)
            rows.append({"length": n, "model": m, "test_accuracy": r["test_accuracy"],
                         "grad_early_ratio_init": r["grad_early_ratio_init"],
                         "grad_early_ratio_trained": r["grad_early_ratio_trained"], "params": r["params"],
                         "energy_synaptic_J": r["energy_synaptic_J"], "train_seconds": r["train_seconds"]})
            if not args.json:
                print(f"L={n:5d} {m:8s} test accuracy {100 * r['test_accuracy']:6.2f}%  gradient on cue / mean "
                      f"(init) {r['grad_early_ratio_init']:.3g}  params {r['params']:,}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


def _report(args) -> int:
    from .report import load_results, markdown_table, plot, seqlen_table, summary_rows

    results = load_results(args.runs)
    rows = summary_rows(results)
    table = markdown_table(rows)
    study = seqlen_table(results)
    if study:
        table += "\n\nSequence-length study (delayed recall, chance 25 %):\n\n" + study
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(table + "\n")
    if args.plot:
        plot(results, args.plot)
    print(json.dumps(rows, indent=1) if args.json else table)
    return 0
