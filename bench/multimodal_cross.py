"""Cross-modal synapse settings compared on a small multimodal network (quick, ~4 CPU min each).

    python bench/multimodal_cross.py --data-dir ../shared/data --out runs/mm-cross-sweep \
        --variant none='{}' \
        --variant trace20='{"rule_params": {"eta": 0.05, "x_tar": 0.05, "mu": 0.2, "wmax": 10.0}}' \
        --variant trace100='{"rule_params": {"eta": 0.05, "x_tar": 0.05, "mu": 0.2, "wmax": 10.0, "tau_pre": 100.0}}'

Each variant replaces the ``cross_modal`` section of ``--config`` (``{}``: no cross-modal
synapses, the ablation) on ensembles of ``--neurons`` neurons each; trains on paired samples,
labels, and reports every readout clean and with the image distorted, plus the learned
cross-modal weights. One JSON line per variant, also written to OUT/NAME.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from multimodal import train_labelled  # bench/multimodal.py: train, then label once and save
from stdp_toolkit import checkpoint, multimodal as M
from stdp_toolkit.datasets.noise import parse_noise
from stdp_toolkit.network.config import Config


def run_variant(args, name: str, cross: dict, audio_dir: str) -> dict:
    base = Config.load(args.config)
    ens = [dict(name=e.name, n_inputs=e.n_inputs, n_neurons=args.neurons) for e in base.ensemble_list()]
    if cross:
        cross = {**base.cross_modal, **cross}
    cfg = base.replace(name=f"{base.name}-{name}", ensembles=ens, n_neurons=args.neurons * len(ens),
                       cross_modal=cross, label_samples=args.label_samples).validate()
    kw = dict(workers=args.workers, quiet=True)
    train = M.load_pairs(cfg, args.data_dir, audio_dir, "train", args.train_samples, seed=args.seed)
    run = train_labelled(cfg, train, os.path.join(args.out, name), args.seed, args.workers)
    test = M.load_pairs(cfg, args.data_dir, audio_dir, "test", args.test_samples, seed=args.seed)
    out = dict(name=name, cross_modal=cross, neurons_per_ensemble=args.neurons, train_samples=args.train_samples,
               clean={k: v["accuracy"] for k, v in M.evaluate(run, test, **kw)["readouts"].items()})
    for spec in args.noise:
        for p in M.noise_curve(run, args.data_dir, audio_dir, parse_noise(spec), args.test_samples,
                               seed=args.seed, **kw):
            out[f"{p['modality']}:{p['kind']}:{p['level']}"] = {
                k: p[k] for k in ("image", "audio", "both", "both_normalised")}
    if cross:
        w = run.state["w_cross"]
        out["w_cross"] = dict(mean=float(w.mean()), max=float(w.max()), p99=float(np.percentile(w, 99)))
    return out


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
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    audio_dir = M.resolve_audio_dir(args.audio_dir, args.data_dir)
    for spec in args.variant:
        name, _, text = spec.partition("=")
        res = run_variant(args, name, json.loads(text), audio_dir)
        checkpoint.write_json(os.path.join(args.out, f"{name}.json"), res)
        print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
