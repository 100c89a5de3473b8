"""Multimodal image + spoken-digit network: accuracy, noise robustness, ablation and speed.

    python bench/multimodal.py --data-dir ../shared/data --out runs/bench-mm \
        [--config networks/mm400.yaml --ablation networks/mm400-nocross.yaml --train-samples 60000]

1. trains the multimodal network (cross-modal STDP synapses) and its ablation (no cross-modal
   synapses: two independent ensembles, i.e. the unimodal image and audio networks side by side),
   on the same paired samples and seed; resumable (re-run the same command);
2. labels both on paired training samples and evaluates the image-only, audio-only and joint
   readouts on paired test samples (MNIST test set, FSDD test recordings);
3. noise curves: image pixel noise and occlusion, audio white noise at given SNRs;
4. speed: CPU ms per training sample of one chunk of the multimodal network against a unimodal
   network with the same total number of excitatory neurons (builds excluded).
Prints one JSON object and writes it to OUT/results.json, with the curves' figure in OUT.
``--only cross|ablation|speed`` runs one part (two parts can run side by side on two cores) and
writes OUT/results-PART.json; ``--only summary`` merges the parts into results.json and the figure.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from stdp_toolkit import checkpoint, experiment as E, multimodal as M
from stdp_toolkit.datasets.noise import parse_noise
from stdp_toolkit.network.config import Config


def train_labelled(cfg, train, out, seed, workers):
    run = E.train(cfg, train.x, train.labels, out, seed=seed)
    if run.assignments is None:
        n = min(cfg.label_samples, len(train))
        run = E.label(run, train.x[:n], train.labels[:n], workers=workers)
        run.save(out)
    return run


def speed(cfg: Config, x, n: int) -> dict:
    """CPU ms per training sample of one learning chunk of ``n`` samples (build excluded)."""
    from stdp_toolkit.backends import Simulator
    from stdp_toolkit.network.state import initial_state

    cfg = cfg.replace(chunk_presentations=n)
    sim = Simulator(cfg, learning=True, backend="standalone")
    c0 = E.child_cpu_seconds()
    r = sim.run(x[:n], initial_state(cfg, 0), seed=1)
    return dict(neurons=cfg.n_neurons, input_synapses=cfg.n_input_synapses,
                ms_per_sample_cpu=1e3 * (E.child_cpu_seconds() - c0) / r.consumed,
                spikes_per_sample=float(r.counts.sum(1).mean()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="networks/mm400.yaml")
    ap.add_argument("--ablation", default="networks/mm400-nocross.yaml")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--audio-dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--train-samples", type=int, default=60000)
    ap.add_argument("--label-samples", type=int, help="default: the config's label_samples")
    ap.add_argument("--only", choices=("cross", "ablation", "speed", "summary"))
    ap.add_argument("--test-samples", type=int, default=10000)
    ap.add_argument("--noise-samples", type=int, default=2000)
    ap.add_argument("--noise", nargs="+", default=["image:pixel:0,0.2,0.4,0.6", "image:occlusion:0.25,0.5",
                                                    "audio:snr:10,0,-5"])
    ap.add_argument("--speed-samples", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-speakers", nargs="+", metavar="NAME",
                    help="speaker-independent FSDD split: these speakers' recordings are the test words, "
                         "the other speakers' the training words (default: the official split)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    audio_dir = M.resolve_audio_dir(args.audio_dir, args.data_dir)
    specs = [parse_noise(s) for s in args.noise]
    parts = [args.only] if args.only else ["cross", "ablation", "speed"]
    for part in parts:
        if part in ("cross", "ablation"):
            res = network_part(args, part, args.config if part == "cross" else args.ablation, audio_dir, specs)
        elif part == "speed":
            res = speed_part(args, audio_dir)
        else:
            continue
        checkpoint.write_json(os.path.join(args.out, f"results-{part}.json"), res)
        print(json.dumps(res, indent=1), flush=True)
    if args.only in (None, "summary"):
        results = {"networks": {}}
        for part in ("cross", "ablation", "speed"):
            with open(os.path.join(args.out, f"results-{part}.json")) as fh:
                res = json.load(fh)
            if part == "speed":
                results["speed"] = res
            else:
                results["networks"][part] = res
        checkpoint.write_json(os.path.join(args.out, "results.json"), results)
        figure(results, os.path.join(args.out, "noise_curves.png"))
        print(json.dumps(results, indent=1))
    return 0


def network_part(args, tag, path, audio_dir, specs) -> dict:
    kw = dict(workers=args.workers, quiet=True)
    cfg = Config.load(path)
    if args.label_samples:
        cfg = cfg.replace(label_samples=args.label_samples)
    split = dict(seed=args.seed, test_speakers=args.test_speakers)
    train = M.load_pairs(cfg, args.data_dir, audio_dir, "train", args.train_samples, **split)
    run = train_labelled(cfg, train, os.path.join(args.out, tag), args.seed, args.workers)
    test = M.load_pairs(cfg, args.data_dir, audio_dir, "test", args.test_samples, **split)
    res = M.evaluate(run, test, **kw)
    curves = [p for s in specs for p in M.noise_curve(run, args.data_dir, audio_dir, s, args.noise_samples,
                                                    **split, **kw)]
    return dict(command=" ".join(sys.argv), config=path, neurons=cfg.n_neurons, train_samples=args.train_samples,
                audio_split=f"speakers {', '.join(args.test_speakers)} held out" if args.test_speakers else "official",
                test_audio=test.source,
                label_samples=cfg.label_samples, train_cpu_seconds=run.extra.get("train_cpu_children_seconds"),
                train_seconds=run.train_seconds, readouts=res["readouts"], test_samples=res["test_samples"],
                eval_seconds=res["seconds"], noise=curves)


def speed_part(args, audio_dir) -> dict:
    """Multimodal network vs a unimodal one with the same number of excitatory neurons."""
    cfg = Config.load(args.config)
    pairs = M.load_pairs(cfg, args.data_dir, audio_dir, "train", args.speed_samples, seed=args.seed)
    uni = Config(name="unimodal-same-size", n_neurons=cfg.n_neurons, method=cfg.method).validate()
    out = dict(command=" ".join(sys.argv), multimodal=speed(cfg, pairs.x, args.speed_samples),
               unimodal=speed(uni, pairs.x[:, :784], args.speed_samples))
    out["ratio"] = out["multimodal"]["ms_per_sample_cpu"] / out["unimodal"]["ms_per_sample_cpu"]
    return out


# (network, readout, label) of each noise curve; the audio ensemble alone is drawn once, from the ablation
CURVES = (("ablation", "image", "image only"), ("ablation", "audio", "audio only"),
          ("ablation", "both", "both, no cross-modal synapses"),
          ("ablation", "both_normalised", "both normalised, no cross-modal"),
          ("ablation", "both_normalised_proportion", "joint (normalised proportion vote), no cross-modal"),
          ("cross", "image", "image, cross-modal STDP"), ("cross", "both", "both, cross-modal STDP"),
          ("cross", "both_normalised", "both normalised, cross-modal"),
          ("cross", "both_normalised_proportion", "joint (normalised proportion vote), cross-modal"))


def figure(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from stdp_toolkit import plots

    nets = results["networks"]
    curves = {}
    for net, readout, label in CURVES:
        for p in nets[net]["noise"]:
            if readout in p:    # runs evaluated before the proportion vote was recorded lack it
                curves.setdefault(f"{p['modality']} {p['kind']} | {label}", []).append((p["level"], p[readout]))
    plots.save(plots.noise_curves(curves, title="Multimodal network under noise"), path)


if __name__ == "__main__":
    sys.exit(main())
