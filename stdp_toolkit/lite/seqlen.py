"""The sequence-length study on the delayed-recall task: how far back each model carries the cue.

One run per (length, model), each a :func:`stdp_toolkit.lite.train.train` with its own checkpoint,
so an interrupted study resumes run by run. Every run is checked (values, output paths, existing
checkpoints) before the first one trains.

Example::

    cfgs = [TrainConfig(task="recall", model=m, length=n, out="runs/seqlen") for n in (20, 50) for m in ("lite", "lstm")]
    rows = seqlen.run(cfgs)
"""
from __future__ import annotations

from ..errors import UserError
from .models import MODEL_NAMES
from .train import RECALL_MIN_LENGTH, TrainConfig, preflight, train


def check(lengths: list[int], models: list[str]) -> None:
    """Refuse an empty, unknown, too short or repeated length or model (named as the CLI options)."""
    bad = [m for m in models if m not in MODEL_NAMES]
    if bad or not models or not lengths:
        raise UserError(f"--models must be a comma-separated subset of {','.join(MODEL_NAMES)}; --lengths non-empty")
    short = [n for n in lengths if n < RECALL_MIN_LENGTH]
    if short:
        raise UserError(f"--lengths must all be >= {RECALL_MIN_LENGTH} (5 cue steps, 5 recall steps and at least one "
                        f"between), got {','.join(map(str, short))}")
    for name, given in (("--lengths", lengths), ("--models", models)):
        if len(set(given)) != len(given):
            raise UserError(f"{name} lists a value twice ({','.join(map(str, given))}); give each once")


def run(configs: list[TrainConfig], log=print, on_start=None, on_row=None) -> list[dict]:
    """Train and test every config (recall task); one row per run: accuracy, gradient reaching the cue,
    size, energy and time. ``on_start(cfg)`` and ``on_row(row)`` follow the study as it goes."""
    for cfg in configs:
        preflight(cfg)
    rows = []
    for cfg in configs:
        if on_start is not None:
            on_start(cfg)
        r = train(cfg, log=log)
        row = {"length": cfg.length, "model": cfg.model, "test_accuracy": r["test_accuracy"],
               "grad_early_ratio_init": r["grad_early_ratio_init"],
               "grad_early_ratio_trained": r["grad_early_ratio_trained"], "params": r["params"],
               "energy_synaptic_J": r["energy_synaptic_J"], "train_seconds": r["train_seconds"]}
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows
