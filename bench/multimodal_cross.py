"""Cross-modal synapse settings compared on a small multimodal network (about 2 CPU minutes per
variant and seed at 100 + 100 neurons and 3,000 pairs).

    python bench/multimodal_cross.py --data-dir ../shared/data --out runs/mm-cross-sweep --seeds 0,1,2 \
        --variant none='{}' \
        --variant trace20='{"rule_params": {"eta": 0.05, "x_tar": 0.05, "mu": 0.2, "wmax": 10.0}}' \
        --variant trace100='{"rule_params": {"eta": 0.05, "x_tar": 0.05, "mu": 0.2, "wmax": 10.0, "tau_pre": 100.0}}'

Each variant replaces the ``cross_modal`` section of ``--config`` (``{}``: no cross-modal
synapses, the ablation) on ensembles of ``--neurons`` neurons each; trains on paired samples,
labels, and reports every readout clean and with one modality distorted, plus the learned
cross-modal weights (``--test-without-cross``: also the trained network with those weights at 0
when it is labelled and scored, named NAME-off). One JSON line per variant and seed, also
written to OUT/NAME-sSEED.json; a variant and seed whose file exists with the same settings is
read back, not run again, so two processes can share the seeds (``--seeds 0`` and ``--seeds 1``) and a last one with every seed
writes the table: OUT/summary.md, each readout's mean ± sd over the seeds per condition (both votes), and
with --baseline NAME every other variant minus that one, paired by seed.

Settings are compared on the validation split (``--split val``, the default: trained on the
``fit`` pairs, scored on the ``val`` pairs, see stdp_toolkit/multimodal.py); ``--split test``
trains on ``train`` and scores on ``test``, for a setting already chosen.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import numpy as np

from multimodal import train_labelled  # bench/multimodal.py: train, then label once and save
from stdp_toolkit import checkpoint, experiment as E, multimodal as M
from stdp_toolkit.datasets.noise import parse_noise
from stdp_toolkit.network.config import Config


READOUTS = ("image", "audio", "both", "both_normalised")
VOTES = ("", "_proportion")          # a readout's mean-rate vote, and its proportion vote (multimodal.accuracies)
COLUMNS = [k + v for v in VOTES for k in READOUTS]


def run_variant(args, name: str, cross: dict, audio_dir: str, seed: int) -> list[dict]:
    """Train, label and score one variant (``cross``: the whole cross_modal section); with
    ``--test-without-cross`` also the same trained network with its cross-modal weights set to 0
    for labelling and scoring (name NAME-off)."""
    base = Config.load(args.config)
    ens = [dict(name=e.name, n_inputs=e.n_inputs, n_neurons=args.neurons) for e in base.ensemble_list()]
    cfg = base.replace(name=f"{base.name}-{name}", ensembles=ens, n_neurons=args.neurons * len(ens),
                       cross_modal=cross, label_samples=args.label_samples).validate()
    fit_split = "fit" if args.split == "val" else "train"
    train = M.load_pairs(cfg, args.data_dir, audio_dir, fit_split, args.train_samples, seed=seed)
    run = train_labelled(cfg, train, os.path.join(args.out, f"{name}-s{seed}"), seed, args.workers)
    runs = {name: run}
    if cross and args.test_without_cross:
        off = dataclasses.replace(run, state={**run.state, "w_cross": np.zeros_like(run.state["w_cross"])},
                                  assignments=None, proportions=None)
        n = min(cfg.label_samples, len(train))
        runs[f"{name}-off"] = E.label(off, train.x[:n], train.labels[:n], workers=args.workers)
    test = M.load_pairs(cfg, args.data_dir, audio_dir, args.split, args.test_samples, seed=seed)
    results = []
    for key, r in runs.items():
        clean = M.evaluate(r, test, workers=args.workers, quiet=True)["readouts"]
        out = dict(settings(args, key, cross, seed), scored_samples=len(test), clean=M.accuracies(clean))
        for spec in args.noise:
            for p in M.noise_curve(r, args.data_dir, audio_dir, parse_noise(spec), args.test_samples,
                                   seed=seed, split=args.split, workers=args.workers, quiet=True):
                out[f"{p['modality']}:{p['kind']}:{p['level']}"] = {k: p[k] for k in COLUMNS}
        if cross:
            w = run.state["w_cross"]
            out["w_cross"] = dict(mean=float(w.mean()), max=float(w.max()), p99=float(np.percentile(w, 99)))
        results.append(out)
    return results


def settings(args, name: str, cross: dict, seed: int) -> dict:
    """What a stored result must match to be reused."""
    return dict(name=name, cross_modal=cross, neurons_per_ensemble=args.neurons, train_samples=args.train_samples,
                label_samples=args.label_samples, test_samples=args.test_samples, noise=list(args.noise),
                config=args.config, seed=seed, split=args.split, votes=list(VOTES))


def stored(path: str, want: dict) -> dict | None:
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        res = json.load(fh)
    return res if {k: res.get(k) for k in want} == want else None


def summary(results: list[dict], baseline: str | None = None) -> str:
    """Markdown: per variant and condition, each readout's mean ± sd over seeds (percent); with
    ``baseline`` (a variant's name) also every other variant minus it, paired by seed (the same
    scored pairs), with the standard error of that mean difference over the seeds."""
    conds = [k for k in results[0] if k == "clean" or ":" in k]
    head = " | ".join(c.replace("_proportion", " (prop.)") for c in COLUMNS)
    lines = ["Mean-rate vote, then proportion vote (prop.); mean ± sd over seeds, percent.", "",
             f"| variant | condition | seeds | {head} |", "|---" * (3 + len(COLUMNS)) + "|"]
    for name in dict.fromkeys(r["name"] for r in results):
        rs = [r for r in results if r["name"] == name]
        for c in conds:
            cells = []
            for k in COLUMNS:
                v = 100 * np.array([r[c][k] for r in rs])
                cells.append(f"{v.mean():.1f}" + (f" ± {v.std(ddof=1):.1f}" if len(v) > 1 else ""))
            lines.append(f"| {name} | {c} | {len(rs)} | " + " | ".join(cells) + " |")
    base = {r["seed"]: r for r in results if r["name"] == baseline}
    others = [n for n in dict.fromkeys(r["name"] for r in results) if n != baseline] if base else []
    if others:
        lines += ["", f"Minus {baseline}, paired by seed: mean difference (SE of the mean over seeds) and "
                      "each seed's difference, points.", "",
                  "| variant | condition | readout | seeds | difference | SE | per seed |", "|---" * 7 + "|"]
    for name in others:
        rs = [r for r in results if r["name"] == name and r["seed"] in base]
        for c in conds:
            for k in COLUMNS:
                d = 100 * np.array([r[c][k] - base[r["seed"]][c][k] for r in rs])
                se = f"{d.std(ddof=1) / np.sqrt(len(d)):.2f}" if len(d) > 1 else ""
                lines.append(f"| {name} | {c} | {k} | {len(d)} | {d.mean():+.2f} | {se} | "
                             + ", ".join(f"{x:+.2f}" for x in d) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="networks/mm400.yaml")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--audio-dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--variant", action="append", required=True, metavar="NAME=JSON",
                    help="cross_modal settings merged over the config's; '{}' = no cross-modal synapses")
    ap.add_argument("--neurons", type=int, default=100, help="excitatory neurons per ensemble")
    ap.add_argument("--train-samples", type=int, default=3000)
    ap.add_argument("--label-samples", type=int, default=1000)
    ap.add_argument("--test-samples", type=int, default=1000)
    ap.add_argument("--noise", nargs="*", default=["image:pixel:0.3", "image:occlusion:0.5"])
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    ap.add_argument("--test-without-cross", action="store_true",
                    help="also label and score each trained cross-modal variant with its cross-modal weights at 0 "
                         "(what the cross-modal synapses taught each ensemble, without their drive at test time)")
    ap.add_argument("--split", choices=("val", "test"), default="val",
                    help="score on the validation split (train on 'fit'; default) "
                         "or on the test set (train on 'train')")
    ap.add_argument("--baseline", metavar="NAME",
                    help="a variant's name (e.g. the ablation 'none'): the table also gives every other variant "
                         "minus it, paired by seed")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    names = [spec.partition("=")[0] for spec in args.variant]
    if args.baseline and args.baseline not in names + [n + "-off" for n in names]:
        ap.error(f"--baseline {args.baseline!r} is not one of the variants ({', '.join(names)})")
    audio_dir = M.resolve_audio_dir(args.audio_dir, args.data_dir)
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for spec in args.variant:
            name, _, text = spec.partition("=")
            cross = json.loads(text)
            cross = {**Config.load(args.config).cross_modal, **cross} if cross else {}
            names = [name] + ([f"{name}-off"] if cross and args.test_without_cross else [])
            paths = [os.path.join(args.out, f"{n}-s{seed}.json") for n in names]
            got = [stored(p, settings(args, n, cross, seed)) for p, n in zip(paths, names)]
            if any(g is None for g in got):
                got = run_variant(args, name, cross, audio_dir, seed)
                for p, res in zip(paths, got):
                    checkpoint.write_json(p, res)
            for res in got:
                print(json.dumps(res), flush=True)
            results += got
    table = summary(results, args.baseline)
    with open(os.path.join(args.out, "summary.md"), "w") as fh:
        fh.write(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
