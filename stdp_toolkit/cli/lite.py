"""``lite-train``, ``lite-seqlen`` and ``lite-report`` sub-commands (LITE-SNN sequence models).

Imports nothing heavy at module level: torch is imported only when a command runs.

Every value is checked before any work (:class:`.train.TrainConfig`), and so are the output paths
(:func:`.train.preflight`): a mistake is one line naming the option and the fix. An option that the
chosen task or model would ignore (``--n-bins`` for SST-2, ``--hidden`` for LITE) is refused rather
than silently dropped.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys

from ..errors import UserError

MODELS = ("lite", "vanilla", "lstm", "gru", "cnn")
TASKS = ("nmnist", "sst2", "recall")

# option -> the tasks / models that use it (the others would silently ignore it, so it is refused there)
TASK_OPTIONS = {"n_bins": ("nmnist",), "length": ("recall",), "n_train": ("recall",), "embed_dropout": ("sst2",),
                "train_limit": ("nmnist", "sst2"), "data_dir": ("nmnist", "sst2")}
MODEL_OPTIONS = {"hidden": ("vanilla", "lstm", "gru"), "channels": ("lite", "cnn"), "kernel": ("lite", "cnn")}
_HINTS = {("train_limit", "recall"): "; use --n-train to set the number of training sequences",
          ("data_dir", "recall"): "; the recall task is generated, not read"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lite-train", help="train a LITE-SNN / vanilla SNN / LSTM / GRU / CNN sequence model",
        description="Train one sequence model on N-MNIST (event frames), SST-2 (text) or the synthetic delayed-recall "
                    "task; checkpoints every epoch to OUT/<task>_<model>.pt and writes OUT/<task>_<model>.json. "
                    "An existing checkpoint is never overwritten: continue it with --resume, or choose another --out.")
    p.add_argument("--task", choices=TASKS, required=True)
    p.add_argument("--model", choices=MODELS, default="lite")
    _common(p)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--length", type=int, default=None, help="recall task: sequence length in time steps (default 100)")
    p.add_argument("--resume", action="store_true",
                   help="continue OUT/<task>_<model>.pt (if it exists) exactly where it stopped; every setting that "
                        "shapes the result must be the same (refused otherwise), --epochs may be raised")
    p.set_defaults(func=_train)

    p = subparsers.add_parser(
        "lite-seqlen", help="sequence-length study: vanilla SNN vs LITE (and LSTM/GRU) on delayed recall",
        description="Train each model on the delayed-recall task at each length and report test accuracy and how much "
                    "gradient reaches the cue steps at initialisation.")
    p.add_argument("--lengths", default="25,50,100,200", help="comma-separated sequence lengths (time steps)")
    p.add_argument("--models", default="vanilla,lite", help=f"comma-separated, from {','.join(MODELS)}")
    _common(p)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--resume", action="store_true",
                   help="continue the study in OUT: finished runs are re-evaluated, interrupted ones continued")
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
    p.add_argument("--n-bins", type=int, default=None, help="N-MNIST: frames (time steps) per recording (default 10)")
    p.add_argument("--steps-per-item", type=int, default=0,
                   help="SNN time steps per word/frame/vector (0 = task default: SST-2 5, others 1)")
    p.add_argument("--hidden", type=int, default=None, help="vanilla SNN / LSTM / GRU state size (default 64)")
    p.add_argument("--channels", type=int, default=None, help="LITE / CNN temporal-conv channels (default 48)")
    p.add_argument("--kernel", type=int, default=None, help="LITE / CNN temporal convolution kernel (items, default 3)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout before the ANN head, in [0, 1)")
    p.add_argument("--embed-dropout", type=float, default=None, help="SST-2: dropout on the word vectors (default 0)")
    p.add_argument("--n-train", type=int, default=None, help="recall task: training sequences (default 2000)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop after the epoch that passes this budget (the checkpoint is kept: continue with --resume)")
    p.add_argument("--json", action="store_true", help="print the final metrics as JSON")


def _check_applies(args, task: str, models, option: str = "--model") -> None:
    """Refuse an option given explicitly that ``task`` / all of ``models`` would ignore."""
    for name, tasks in TASK_OPTIONS.items():
        if getattr(args, name, None) is not None and task not in tasks:
            raise UserError(f"--{name.replace('_', '-')} does not apply to --task {task} (only to "
                            f"{', '.join(tasks)}){_HINTS.get((name, task), '')}; leave it out")
    for name, users in MODEL_OPTIONS.items():
        if getattr(args, name, None) is not None and not any(m in users for m in models):
            raise UserError(f"--{name.replace('_', '-')} does not apply to {option} {','.join(models)} (only to "
                            f"{', '.join(users)}); "
                            "leave it out")


def _config(args, **over):
    from ..lite.train import TrainConfig

    fields = dict(task=getattr(args, "task", "recall"), model=getattr(args, "model", "lite"),
                  data_dir=args.data_dir, out=args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                  seed=args.seed, threads=args.threads, train_limit=args.train_limit, eval_limit=args.eval_limit,
                  steps_per_item=args.steps_per_item, dropout=args.dropout, max_minutes=args.max_minutes,
                  resume=getattr(args, "resume", False))
    fields.update(over)
    for name in ("n_bins", "hidden", "channels", "kernel", "embed_dropout", "n_train", "length"):
        # not given: the TrainConfig default; a size only for the models that use it (lite-seqlen trains several),
        # so that it is not recorded as a setting of the others (where it would block a --resume)
        if name not in over and getattr(args, name, None) is not None and \
                fields["model"] in MODEL_OPTIONS.get(name, MODELS):
            fields[name] = getattr(args, name)
    return TrainConfig(**fields)


def _summary(r: dict) -> str:
    rate = "" if r.get("spike_rate") is None else f", spike rate {r['spike_rate']:.3f}"
    planned = r.get("epochs_planned", r["epochs_run"])
    epochs = (f"{r['epochs_run']} epochs" if r["epochs_run"] >= planned else
              f"{r['epochs_run']} of {planned} epochs (stopped by --max-minutes; add --resume to continue)")
    return (f"{r['task']} {r['model']}: test accuracy {100 * r['test_accuracy']:.2f}% "
            f"(n={r['n']}), {r['params']:,} params ({r['params_body']:,} without embedding), "
            f"{r['time_steps_per_sample']:.1f} time steps, {r['macs_per_sample']:.3g} MACs + "
            f"{r['acs_per_sample']:.3g} ACs = {r['energy_synaptic_J']:.3g} J/sample{rate}; "
            f"{epochs} in {r['train_seconds']:.0f} s -> {r['checkpoint']}")


def _interrupted(command: str, cfg) -> int:
    """Ctrl-C / SIGTERM: one line saying what is kept and how to continue (a resume needs --resume here)."""
    from ..lite.train import checkpoint_path

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the message short
    ckpt = checkpoint_path(cfg) if cfg is not None else None
    if ckpt is not None and ckpt.is_file():
        hint = f"; {ckpt} keeps the last finished epoch: run the same command with --resume to continue"
    else:
        hint = "; no epoch was finished, nothing to resume"
    print(f"stdp-toolkit {command}: interrupted{hint}", file=sys.stderr)
    return 130


def _train(args) -> int:
    from ..lite.train import train

    _check_applies(args, args.task, [args.model])
    cfg = _config(args)
    log = (lambda s: print(s, file=sys.stderr)) if args.json else print
    try:
        r = train(cfg, log=log)
    except KeyboardInterrupt:
        return _interrupted("lite-train", cfg)
    print(json.dumps(r, indent=1) if args.json else _summary(r))
    return 0


def _seqlen(args) -> int:
    from ..lite import seqlen

    try:
        lengths = [int(v) for v in args.lengths.split(",") if v.strip()]
    except ValueError as exc:
        raise UserError(f"--lengths must be comma-separated integers, got {args.lengths!r}") from exc
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    seqlen.check(lengths, models)
    _check_applies(args, "recall", models, "--models")
    configs = [_config(args, task="recall", model=m, length=n) for n in lengths for m in models]
    log = (lambda s: print(s, file=sys.stderr)) if args.json else (lambda s: None)
    running = {}

    def show(r):
        if not args.json:
            print(f"L={r['length']:5d} {r['model']:8s} test accuracy {100 * r['test_accuracy']:6.2f}%  gradient on cue "
                  f"/ mean (init) {r['grad_early_ratio_init']:.3g}  params {r['params']:,}", flush=True)

    try:
        rows = seqlen.run(configs, log=log, on_start=lambda cfg: running.update(cfg=cfg), on_row=show)
    except KeyboardInterrupt:
        return _interrupted("lite-seqlen", running.get("cfg"))
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


def _report(args) -> int:
    from ..lite.report import check_output_file, load_results, markdown_table, plot, seqlen_table, summary_rows, write_text

    for option, path in (("--markdown", args.markdown), ("--plot", args.plot)):
        if path:
            check_output_file(option, path)
    results = load_results(args.runs)
    rows = summary_rows(results)
    table = markdown_table(rows)
    study = seqlen_table(results)
    if study:
        table += "\n\nSequence-length study (delayed recall, chance 25 %):\n\n" + study
    if args.markdown:
        write_text(args.markdown, table + "\n")
    if args.plot:
        plot(results, args.plot)
    print(json.dumps(rows, indent=1) if args.json else table)
    return 0
