"""Collect the ``<task>_<model>.json`` results of :func:`.train.train` into tables and plots."""
from __future__ import annotations

import json
from pathlib import Path

from ...errors import UserError

TASK_ORDER = {"nmnist": 0, "sst2": 1, "recall": 2}
MODEL_ORDER = {"lite": 0, "vanilla": 1, "lstm": 2, "gru": 3, "cnn": 4}


def load_results(runs_dirs) -> list[dict]:
    """All result files in one or more folders (a single path or a list)."""
    dirs = [Path(runs_dirs)] if isinstance(runs_dirs, (str, Path)) else [Path(d) for d in runs_dirs]
    paths = []
    for runs_dir in dirs:
        if not runs_dir.is_dir():
            raise UserError(f"runs directory {runs_dir} does not exist; train first (stdp-toolkit lite-train --out DIR)")
        paths += sorted(runs_dir.glob("*.json"))
    runs_dir = ", ".join(map(str, dirs))
    results = []
    for path in paths:
        try:
            r = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON ({exc}); delete it and re-run that training") from exc
        if isinstance(r, dict) and "task" in r and "test_accuracy" in r:
            results.append(r)
    if not results:
        raise UserError(f"no result files (*.json from lite-train) in {runs_dir}")
    results.sort(key=lambda r: (TASK_ORDER.get(r["task"], 9), r.get("data", {}).get("length", 0),
                                MODEL_ORDER.get(r["model"], 9)))
    return results


def summary_rows(results: list[dict]) -> list[dict]:
    rows = []
    for r in results:
        rows.append({
            "task": r["task"] + (f" L={r['data']['length']}" if r["task"] == "recall" else ""),
            "model": r["model"] + "".join(f" [{k}={v}]" for k, v in r.get("config", {}).get("extra", {}).items()),
            "spiking": r["spiking"],
            "test_accuracy": r["test_accuracy"], "val_accuracy": r.get("val_accuracy"),
            "params": r["params"], "params_body": r["params_body"],
            "time_steps": r["time_steps_per_sample"],
            "macs": r["macs_per_sample"], "acs": r["acs_per_sample"],
            "energy_synaptic_J": r["energy_synaptic_J"], "energy_total_J": r["energy_total_J"],
            "spike_rate": r.get("spike_rate"), "epochs": r["epochs_run"], "train_seconds": r["train_seconds"],
            "grad_early_ratio_init": r.get("grad_early_ratio_init"),
        })
    return rows


def markdown_table(rows: list[dict]) -> str:
    head = ("| task | model | test acc % | params (body) | time steps | MACs | ACs | energy/sample (synaptic) "
            "| energy incl. neuron updates | spike rate | epochs | train time |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        rate = "-" if r["spike_rate"] is None else f"{r['spike_rate']:.3f}"
        lines.append(
            f"| {r['task']} | {r['model']}{' (SNN)' if r['spiking'] else ''} | {100 * r['test_accuracy']:.2f} "
            f"| {r['params']:,} ({r['params_body']:,}) | {r['time_steps']:.1f} | {r['macs']:.3g} | {r['acs']:.3g} "
            f"| {_joules(r['energy_synaptic_J'])} | {_joules(r['energy_total_J'])} | {rate} | {r['epochs']} "
            f"| {r['train_seconds'] / 60:.1f} min |")
    return "\n".join(lines)


def seqlen_table(results: list[dict]) -> str:
    """The sequence-length study: accuracy and how much gradient reaches the cue, per length and model."""
    rec = [r for r in results if r["task"] == "recall"]
    if not rec:
        return ""
    lines = ["| length | model | test acc % | gradient on cue / mean, at init | same, trained | epochs x sequences | train time |",
             "|---|---|---|---|---|---|---|"]
    for r in rec:
        cfg = r.get("config", {})
        lines.append(f"| {r['data']['length']} | {r['model']}{' (SNN)' if r['spiking'] else ''} "
                     f"| {100 * r['test_accuracy']:.1f} | {r.get('grad_early_ratio_init', float('nan')):.3g} "
                     f"| {r.get('grad_early_ratio_trained', float('nan')):.3g} | {r['epochs_run']} x {cfg.get('n_train')} "
                     f"| {r['train_seconds'] / 60:.1f} min |")
    return "\n".join(lines)


def _joules(j: float) -> str:
    for unit, scale in (("mJ", 1e-3), ("µJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if j >= scale:
            return f"{j / scale:.3g} {unit}"
    return f"{j:.3g} J"


def plot(results: list[dict], path) -> Path:
    """Left: accuracy vs estimated energy per sample for each task; right: sequence-length study."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    markers = {"lite": "*", "vanilla": "o", "lstm": "s", "gru": "D", "cnn": "^"}
    for ax, task in zip(axes[:2], ("nmnist", "sst2")):
        sel = [r for r in results if r["task"] == task]
        for r in sel:
            ax.scatter(r["energy_synaptic_J"], 100 * r["test_accuracy"], marker=markers.get(r["model"], "x"), s=90,
                       label=f"{r['model']} ({r['params_body'] / 1e3:.0f}k body params)")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("estimated energy / sample (J, synaptic, 45 nm)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title({"nmnist": "N-MNIST subset", "sst2": "SST-2"}[task])
        if sel:
            ax.legend(fontsize=7)
    ax = axes[2]
    rec = [r for r in results if r["task"] == "recall"]
    for model in sorted({r["model"] for r in rec}, key=lambda m: MODEL_ORDER.get(m, 9)):
        pts = sorted((r["data"]["length"], 100 * r["test_accuracy"]) for r in rec if r["model"] == model)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=markers.get(model, "x"), label=model)
    if rec:
        ax.axhline(25, color="grey", ls=":", label="chance")
        ax.set_xscale("log")
        lengths = sorted({r["data"]["length"] for r in rec})
        ax.set_xticks(lengths)
        ax.set_xticklabels([str(n) for n in lengths])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
    ax.set_xlabel("sequence length (time steps)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("delayed recall: sequence-length study")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
