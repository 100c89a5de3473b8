"""Collect the ``<task>_<model>.json`` results of :func:`.train.train` into tables and plots."""
from __future__ import annotations

import json
from pathlib import Path

from ..checkpoint import atomic_write
from ..errors import UserError
from ..validation import is_number

TASK_ORDER = {"nmnist": 0, "sst2": 1, "recall": 2}
MODEL_ORDER = {"lite": 0, "vanilla": 1, "lstm": 2, "gru": 3, "cnn": 4}


# keys every result file must have (numbers unless listed in _TEXT), as written by ``train.train``
REQUIRED = ("task", "model", "spiking", "test_accuracy", "params", "params_body", "time_steps_per_sample",
            "macs_per_sample", "acs_per_sample", "energy_synaptic_J", "energy_total_J", "epochs_run", "train_seconds")
_TEXT = ("task", "model", "spiking")
OPTIONAL_NUMBERS = ("val_accuracy", "spike_rate", "epochs_planned", "grad_early_ratio_init", "grad_early_ratio_trained")
PLOT_FORMATS = (".png", ".pdf", ".svg", "")


def check_output_file(option: str, path) -> Path:
    """One line if ``path`` cannot be written as a file: a folder, under a file, not writable, not a plot format."""
    from ..validation import check_output_file as check

    path = Path(path)
    if option == "--plot" and path.suffix.lower() not in PLOT_FORMATS:
        raise UserError(f"--plot {path}: cannot draw a {path.suffix!r} file; give a name ending in "
                        f"{', '.join(s for s in PLOT_FORMATS if s)}")
    check(str(path), option)
    return path


def write_text(path, text: str) -> None:
    """Atomically write a text file (one line on a full disk or a permission problem)."""
    atomic_write(str(path), lambda fh: fh.write(text.encode()))


def _bad_result(r: dict) -> str:
    missing = [k for k in REQUIRED if k not in r]
    if missing:
        return f"it lacks {', '.join(missing)}"
    wrong = [k for k in REQUIRED if k not in _TEXT and not is_number(r[k])]
    wrong += [k for k in ("task", "model") if not isinstance(r[k], str)]
    wrong += [k for k in OPTIONAL_NUMBERS if r.get(k) is not None and not is_number(r[k])]
    data = r.get("data")
    if r["task"] == "recall" and not (isinstance(data, dict) and is_number(data.get("length"))):
        wrong.append("data.length")
    return f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not valid" if wrong else ""


def load_results(runs_dirs) -> list[dict]:
    """All result files in one or more folders (a single path or a list)."""
    dirs = [Path(runs_dirs)] if isinstance(runs_dirs, (str, Path)) else [Path(d) for d in runs_dirs]
    paths = []
    for runs_dir in dirs:
        if runs_dir.exists() and not runs_dir.is_dir():
            raise UserError(f"--runs {runs_dir} is a file; give the folder(s) that lite-train wrote (--out DIR)")
        if not runs_dir.is_dir():
            raise UserError(f"runs directory {runs_dir} does not exist; train first (stdp-toolkit lite-train --out DIR)")
        paths += sorted(p for p in runs_dir.glob("*.json") if not p.name.startswith(".tmp-"))
    runs_dir = ", ".join(map(str, dirs))
    results = []
    for path in paths:
        try:
            r = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON ({exc}); delete it and re-run that training") from None
        except UnicodeDecodeError:
            raise UserError(f"{path}: not a text (UTF-8) JSON file; delete it and re-run that training") from None
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror}") from None
        if isinstance(r, dict) and "task" in r and "test_accuracy" in r:
            problem = _bad_result(r)
            if problem:
                raise UserError(f"{path} is not a complete lite-train result ({problem}); delete it and re-run "
                                "that training")
            results.append(r)
    if not results:
        raise UserError(f"no result files (*.json from lite-train) in {runs_dir}")
    results.sort(key=lambda r: (TASK_ORDER.get(r["task"], 9), _length(r),
                                MODEL_ORDER.get(r["model"], 9)))
    return results


def _length(r: dict) -> float:
    data = r.get("data")
    return data.get("length", 0) if isinstance(data, dict) and is_number(data.get("length", 0)) else 0


def _config(r: dict) -> dict:
    return r["config"] if isinstance(r.get("config"), dict) else {}


def _extra(r: dict) -> dict:
    extra = _config(r).get("extra")
    return extra if isinstance(extra, dict) else {}


def _planned(r: dict):
    """The epochs a run was set to train (older result files: from their config)."""
    planned = r.get("epochs_planned", _config(r).get("epochs"))
    return planned if is_number(planned) else r["epochs_run"]


def summary_rows(results: list[dict]) -> list[dict]:
    rows = []
    for r in results:
        rows.append({
            "task": r["task"] + (f" L={r['data']['length']}" if r["task"] == "recall" else ""),
            "model": r["model"] + "".join(f" [{k}={v}]" for k, v in _extra(r).items()),
            "spiking": r["spiking"],
            "test_accuracy": r["test_accuracy"], "val_accuracy": r.get("val_accuracy"),
            "params": r["params"], "params_body": r["params_body"],
            "time_steps": r["time_steps_per_sample"],
            "macs": r["macs_per_sample"], "acs": r["acs_per_sample"],
            "energy_synaptic_J": r["energy_synaptic_J"], "energy_total_J": r["energy_total_J"],
            "spike_rate": r.get("spike_rate"), "epochs": r["epochs_run"],
            "epochs_planned": _planned(r),
            "train_seconds": r["train_seconds"],
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
            f"| {_joules(r['energy_synaptic_J'])} | {_joules(r['energy_total_J'])} | {rate} | {_epochs(r)} "
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
        cfg = _config(r)
        lines.append(f"| {r['data']['length']} | {r['model']}{' (SNN)' if r['spiking'] else ''} "
                     f"| {100 * r['test_accuracy']:.1f} | {_num(r.get('grad_early_ratio_init')):.3g} "
                     f"| {_num(r.get('grad_early_ratio_trained')):.3g} | {r['epochs_run']} x {cfg.get('n_train')} "
                     f"| {r['train_seconds'] / 60:.1f} min |")
    return "\n".join(lines)


def _num(v) -> float:
    return float(v) if is_number(v) else float("nan")


def _epochs(r: dict) -> str:
    """Epochs run; "3 of 10 (stopped)" for a run cut short by --max-minutes, which must not pass as finished."""
    planned = r.get("epochs_planned") if is_number(r.get("epochs_planned")) else r["epochs"]
    return str(r["epochs"]) if r["epochs"] >= planned else f"{r['epochs']} of {planned} (stopped)"


def _joules(j: float) -> str:
    for unit, scale in (("mJ", 1e-3), ("µJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if j >= scale:
            return f"{j / scale:.3g} {unit}"
    return f"{j:.3g} J"


def plot(results: list[dict], path) -> Path:
    """Left: accuracy vs estimated energy per sample for each task; right: sequence-length study."""
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
    try:  # atomic: a full disk or a permission problem is one line and leaves no half-written image
        atomic_write(str(path), lambda fh: fig.savefig(fh, dpi=110, format=path.suffix[1:].lower() or "png"))
    finally:
        plt.close(fig)
    return path
