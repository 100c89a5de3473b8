"""The thesis's compression curves, with seed spread: accuracy against the number of conductance
levels and against the final pruned fraction, each applied *during* training.

    python bench/compression_curves.py --data-dir ../shared/data --out runs/compression-curves

Every point is a variant of ``networks/dc400-powerlaw-compressed.yaml`` (power-law STDP, 400
neurons) trained on ``--train-samples`` digits (default 20,000, a third of an epoch: the target
point itself, 65 % pruned at 4 bits, is measured on full epochs in docs/benchmarks.md):

* levels curve: quantization only (no pruning), k levels on [0, wmax] from sample 2,000 on, every
  1,000 samples, k in ``--levels``;
* pruning curve: pruning only (float weights), correlation-based, silent inputs first, a cubic
  ramp from sample 2,000 to 60 % of the run, to each final fraction in ``--pruned``;
* the uncompressed network (pruned fraction 0, 32-bit float weights) as the reference of both.

The runs are one study (:func:`stdp_toolkit.study.run_study`: configs x seeds on Dask, each run
resumable in its own folder), so re-running the command after an interruption resumes it. It
writes ``OUT/curves.json``, ``OUT/curves.md`` and ``OUT/figures/compression_curves.png`` (mean ±
sd over seeds as error bars). The pruned fraction and weight memory of each point are read from
the trained networks, not from the settings.
"""
from __future__ import annotations

import argparse
import os
import sys

import yaml

from stdp_toolkit import study
from stdp_toolkit.compression import energy, report
from stdp_toolkit.experiment import RunState
from stdp_toolkit.network.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = os.path.join(ROOT, "networks", "dc400-powerlaw-compressed.yaml")


def variants(base: Config, levels, pruned, train_samples: int, label_samples: int) -> dict[str, tuple[str, float, Config]]:
    """``name -> (curve, x value, config)``; the reference point belongs to both curves."""
    comp = base.to_dict()["compression"]
    start, end = 2000, max(2000, int(0.6 * train_samples))
    common = dict(label_samples=label_samples)
    out = {"reference": ("reference", 0.0, base.replace(name="curve-reference", compression={}, **common))}
    for k in levels:
        quant = dict(comp["quantize"], levels=int(k), start=start)
        out[f"levels{k}"] = ("levels", float(k), base.replace(
            name=f"curve-levels{k}", compression=dict(interval=comp["interval"], quantize=quant), **common))
    for p in pruned:
        prune = dict(comp["prune"], target=float(p), start=start, end=end)
        out[f"pruned{round(100 * p)}"] = ("pruned", float(p), base.replace(
            name=f"curve-pruned{round(100 * p)}", compression=dict(interval=comp["interval"], prune=prune), **common))
    return out


def measure(run_dir: str) -> dict:
    """Pruned fraction and input-weight memory of one trained network, read from its state."""
    run = RunState.load(run_dir)
    s = report.compression_summary(run)
    mem = energy.storage(report.mask_of(run), s["weight_bits"])
    return dict(pruned_fraction=s["pruned_fraction"], weight_bits=s["weight_bits"],
                memory_bits=mem["bits"], bits_per_synapse=mem["bits_per_synapse"])


def summarise(points: dict, runs: list[dict]) -> list[dict]:
    """The study's per-config summary (mean ± sd over seeds, test-set SE) with each point's curve."""
    keys = ("accuracy", "accuracy_proportion", "spikes_per_sample", "pruned_fraction", "weight_bits",
            "bits_per_synapse")
    by_name = {row["config"]: row for row in study.summarise(runs, keys)}
    rows = [dict(by_name[cfg.name], point=key, curve=curve, x=x) for key, (curve, x, cfg) in points.items()]
    ref_bits = by_name[points["reference"][2].name]["bits_per_synapse_mean"]
    for row in rows:
        row["memory_vs_reference"] = ref_bits / row["bits_per_synapse_mean"]
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| point | seeds | pruned (measured) | weight bits | mean-rate vote | proportion vote | test-set SE "
             "| memory vs reference |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        label = {"reference": "uncompressed", "levels": f"{int(r['x'])} levels",
                 "pruned": f"pruned to {r['x']:.0%}"}[r["curve"]]
        lines.append(f"| {label} | {len(r['seeds'])} | {100 * r['pruned_fraction_mean']:.1f} % | "
                     f"{r['weight_bits_mean']:g} | "
                     f"{100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_sd']:.2f} % | "
                     f"{100 * r['accuracy_proportion_mean']:.2f} ± {100 * r['accuracy_proportion_sd']:.2f} % | "
                     f"{100 * r['test_standard_error']:.2f} | {r['memory_vs_reference']:.1f}x |")
    return "\n".join(lines)


def figure(rows: list[dict]):
    import matplotlib.pyplot as plt

    ref = next(r for r in rows if r["curve"] == "reference")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, curve, xlabel in ((axes[0], "levels", "conductance levels (during training)"),
                              (axes[1], "pruned", "final pruned fraction of input synapses (%)")):
        rs = sorted([r for r in rows if r["curve"] == curve] + ([ref] if curve == "pruned" else []),
                    key=lambda r: r["pruned_fraction_mean"] if curve == "pruned" else r["x"])
        xs = [100 * r["pruned_fraction_mean"] if curve == "pruned" else r["x"] for r in rs]
        for key, style, name in (("accuracy", "o-", "mean-rate vote"), ("accuracy_proportion", "s--", "proportion vote")):
            ax.errorbar(xs, [100 * r[key + "_mean"] for r in rs], yerr=[100 * r[key + "_sd"] for r in rs], fmt=style,
                        capsize=3, label=name)
        if curve == "levels":
            ax.set_xscale("log", base=2)
            ax.set_xticks(xs, [str(int(x)) for x in xs])
            ax.axhline(100 * ref["accuracy_mean"], color="grey", lw=0.8, ls=":", label="uncompressed (mean-rate)")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"test accuracy (%), mean ± sd over {len(ref['seeds'])} seeds")
    axes[0].legend(fontsize=8)
    fig.suptitle("dc400 power-law STDP, compression applied during training")
    fig.tight_layout()
    return fig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--train-samples", type=int, default=20000)
    ap.add_argument("--label-samples", type=int, default=5000)
    ap.add_argument("--test-samples", type=int, default=5000)
    ap.add_argument("--levels", default="2,4,8,16,32,256")
    ap.add_argument("--pruned", default="0.5,0.7,0.9")
    ap.add_argument("--workers", type=int)
    args = ap.parse_args()
    from stdp_toolkit import checkpoint, plots

    base = Config.load(BASE)
    points = variants(base, [int(k) for k in args.levels.split(",")], [float(p) for p in args.pruned.split(",")],
                      args.train_samples, args.label_samples)
    cfg_dir = os.path.join(args.out, "configs")
    os.makedirs(cfg_dir, exist_ok=True)
    paths = []
    for _, _, cfg in points.values():
        paths.append(os.path.join(cfg_dir, f"{cfg.name}.yaml"))
        with open(paths[-1], "w") as fh:
            yaml.safe_dump(cfg.to_dict(), fh, sort_keys=False)
    res = study.run_study(paths, [int(s) for s in args.seeds.split(",")], args.out, data_dir=args.data_dir,
                          train_samples=args.train_samples, test_samples=args.test_samples, workers=args.workers)
    runs = [dict(r, **measure(r["run_dir"])) for r in res["runs"]]
    rows = summarise(points, runs)
    checkpoint.write_json(os.path.join(args.out, "curves.json"), dict(
        runs=runs, rows=rows, train_samples=args.train_samples, label_samples=args.label_samples,
        test_samples=args.test_samples))
    table = markdown(rows)
    checkpoint.atomic_write(os.path.join(args.out, "curves.md"), lambda fh: fh.write((table + "\n").encode()))
    plots.save(figure(rows), os.path.join(args.out, "figures", "compression_curves.png"))
    print(table)
    return 0


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    sys.exit(main())
