"""``stdp-toolkit`` sub-commands of the PyTorch bridge: argument parsing and printing only.

ann-train → convert → hybrid-train (STDB) / diet-train → snn-eval → export (brian2 | nir); each
runs the workflow of the same name in :mod:`stdp_toolkit.torch_bridge.pipeline`.  This module must
import without torch: the pipeline is imported inside the handlers.

Every user mistake is one line before any work: option values are checked by the argparse
``type=`` functions below (exit 2 with ``argument --x: ...``), option combinations, input
checkpoints and output paths by the workflows (:class:`~stdp_toolkit.errors.UserError`, also exit 2).
"""
from __future__ import annotations

import argparse
import json

from ..validation import COUNT, SEED, option_type

# models.ARCHITECTURES, repeated here so that building the parser needs no torch (a test keeps them equal)
ARCHITECTURES = ("vgg5", "vgg9", "vgg11", "vgg16", "resnet8", "resnet14", "resnet20", "mlp")


# --------------------------------------------------------------------------------------------
# option types: each raises argparse.ArgumentTypeError, which argparse prints as one line
POSITIVE = option_type(False, low=0.0, low_open=True)              # lr, scales, width
NON_NEGATIVE = option_type(False, low=0.0)                         # weight decay, beta
DROPOUT = option_type(False, low=0.0, high=1.0, high_open=True)    # a probability < 1
UNIT = option_type(False, low=0.0, high=1.0)                       # a leak
PERCENTILE = option_type(False, low=0.0, low_open=True, high=100.0)


def INT_LIST(text) -> list:
    """Comma-separated whole numbers >= 1 (``10,25,50``), at least one."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers >= 1 such as 10,25,50, got {text!r}")
    return values


INT_LIST.__name__ = "list"


def DEVICE(text) -> str:
    """auto, cpu, cuda or cuda:N (availability is checked when the command starts)."""
    import re

    t = str(text).strip().lower()
    if t in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", t):
        return t
    raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N, got {text!r}")


def INPUT_SCALE(text):
    """'auto' or a finite number > 0."""
    if str(text).strip().lower() == "auto":
        return "auto"
    return POSITIVE(text)


# --------------------------------------------------------------------------------------------
# shared options
def _common(p: argparse.ArgumentParser, train_data: bool = True, test_data: bool = True, device: bool = True) -> None:
    if train_data or test_data:
        p.add_argument("--data-dir", default=None,
                       help="folder with the data set (or its parent, e.g. the shared data folder); default $STDP_DATA_DIR")
    if train_data:
        p.add_argument("--limit-train", type=COUNT, default=None, help="use only the first N training samples")
    if test_data:
        p.add_argument("--limit-test", type=COUNT, default=None, help="use only the first N test samples")
    if device:
        p.add_argument("--device", type=DEVICE, default="auto",
                       help="auto (CUDA when available), cpu, cuda or cuda:N")
    p.add_argument("--threads", type=COUNT, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=SEED, default=None, help="random seed, 0 .. 2^32-1 (default 0)")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _train_opts(p, epochs, batch, lr, opt, wd):
    p.add_argument("--epochs", type=COUNT, default=epochs)
    p.add_argument("--batch-size", type=COUNT, default=batch)
    p.add_argument("--lr", type=POSITIVE, default=lr)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=opt)
    p.add_argument("--weight-decay", type=NON_NEGATIVE, default=wd)
    p.add_argument("--resume", action="store_true",
                   help="continue the checkpoint at --out (same options and data; a larger --epochs trains on); "
                        "without it an existing --out is refused")
    p.add_argument("--max-batches", type=COUNT, default=None, help="stop each epoch after N batches (quick runs)")


def _add_ann_train(subparsers) -> None:
    p = subparsers.add_parser("ann-train", help="train a conversion-ready ANN (VGG/ResNet/MLP, no bias, avg pool)",
                              description="Train an ANN suited to ANN→SNN conversion and save a checkpoint.")
    p.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist")
    p.add_argument("--arch", choices=ARCHITECTURES, default="vgg5", metavar="ARCH",
                   help="vgg5, vgg9, vgg11, vgg16, resnet8, resnet14, resnet20 or mlp")
    p.add_argument("--width", type=POSITIVE, default=None,
                   help="VGG/ResNet: channel multiplier (1 = paper size; default 0.25)")
    p.add_argument("--fc", type=INT_LIST, default=None, help="VGG: hidden FC sizes, comma separated (default 256)")
    p.add_argument("--hidden", type=INT_LIST, default=None, help="MLP: hidden sizes, comma separated (default 100)")
    p.add_argument("--dropout", type=DROPOUT, default=None,
                   help="dropout in [0, 1) of the FC layers (VGG 0.5), the blocks (ResNet 0.1) or the MLP (0)")
    p.add_argument("--dropout-conv", type=DROPOUT, default=None, help="VGG: dropout of the convolutions (default 0.1)")
    p.add_argument("--out", required=True, help="checkpoint file to write (e.g. runs/mnist/ann.pt)")
    _train_opts(p, epochs=5, batch=64, lr=1e-3, opt="adam", wd=0.0)
    _common(p)
    p.set_defaults(func=cmd_ann_train)


def _add_convert(subparsers) -> None:
    p = subparsers.add_parser("convert", help="ANN → SNN by layer-wise threshold balancing; accuracy vs time steps",
                              description="Convert a trained ANN to an IF SNN (Poisson input) by threshold balancing.")
    p.add_argument("--checkpoint", required=True, help="ANN checkpoint from ann-train")
    p.add_argument("--out", required=True,
                   help="SNN checkpoint to write (an earlier convert output there is replaced; any other file is refused)")
    p.add_argument("--timesteps", type=COUNT, default=100, help="T stored with the SNN (and the last point of the curve)")
    p.add_argument("--curve", type=INT_LIST, default="10,25,50,75,100", help="time steps at which to report accuracy")
    p.add_argument("--balance", choices=("max", "percentile"), default="max")
    p.add_argument("--percentile", type=PERCENTILE, default=None, help="with --balance percentile: in (0, 100] (99.7)")
    p.add_argument("--scale", type=POSITIVE, default=0.7, help="multiply all balanced thresholds by this")
    p.add_argument("--balance-samples", type=COUNT, default=256, help="training images used for balancing")
    p.add_argument("--balance-steps", type=COUNT, default=100, help="time steps simulated per layer while balancing")
    p.add_argument("--encoding", choices=("poisson", "direct"), default="poisson")
    p.add_argument("--input-scale", type=INPUT_SCALE, default="auto",
                   help="amplitude of Poisson input spikes: 'auto' = max |pixel| of the normalised data (no "
                        "clipping), 1 = Rathi et al.'s encoder sign(x)*[rand<|x|] (clips |x|>1)")
    p.add_argument("--batch-size", type=COUNT, default=250)
    _common(p)
    p.set_defaults(func=cmd_convert)


def _add_hybrid_train(subparsers) -> None:
    p = subparsers.add_parser("hybrid-train", help="fine-tune a converted SNN with spike-timing-dependent backprop",
                              description="Hybrid training: initialise from a converted SNN, fine-tune with STDB at reduced T.")
    p.add_argument("--checkpoint", required=True, help="converted SNN checkpoint (from convert)")
    p.add_argument("--out", required=True)
    p.add_argument("--timesteps", type=COUNT, default=25)
    p.add_argument("--surrogate", choices=("stdb", "linear"), default="stdb")
    p.add_argument("--alpha", type=POSITIVE, default=None, help="stdb: surrogate scale (0.3)")
    p.add_argument("--beta", type=NON_NEGATIVE, default=None, help="stdb: decay per step since the last spike (0.01)")
    p.add_argument("--rebalance", action="store_true",
                   help="re-run threshold balancing at the new T before fine-tuning (uses the options below)")
    p.add_argument("--balance-scale", type=POSITIVE, default=None, help="with --rebalance (0.7)")
    p.add_argument("--balance-samples", type=COUNT, default=None, help="with --rebalance (256)")
    _train_opts(p, epochs=3, batch=64, lr=1e-4, opt="adam", wd=5e-4)
    _common(p)
    p.set_defaults(func=cmd_hybrid_train)


def _add_diet_train(subparsers) -> None:
    p = subparsers.add_parser("diet-train", help="DIET-SNN: direct input, trainable leak and threshold, few steps",
                              description="Train a DIET-SNN initialised from an ANN (thresholds = percentile × scale).")
    p.add_argument("--checkpoint", required=True, help="ANN checkpoint (from ann-train) or an SNN checkpoint to continue")
    p.add_argument("--out", required=True)
    p.add_argument("--timesteps", type=COUNT, default=5)
    p.add_argument("--percentile", type=PERCENTILE, default=None, help="from an ANN: in (0, 100] (99.7)")
    p.add_argument("--scale", type=POSITIVE, default=None,
                   help="from an ANN: threshold = percentile of ANN pre-activation × scale (0.3)")
    p.add_argument("--leak", type=UNIT, default=None, help="from an ANN: initial leak of every layer, in [0, 1] (1.0)")
    p.add_argument("--gamma", type=POSITIVE, default=0.3, help="linear surrogate scale")
    p.add_argument("--balance-samples", type=COUNT, default=None, help="from an ANN: images for the percentiles (512)")
    _train_opts(p, epochs=3, batch=64, lr=1e-4, opt="adam", wd=5e-4)
    _common(p)
    p.set_defaults(func=cmd_diet_train)


def _add_snn_eval(subparsers) -> None:
    p = subparsers.add_parser("snn-eval", help="accuracy, spike rates, synaptic ops and energy of an SNN checkpoint")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--timesteps", type=COUNT, default=None)
    p.add_argument("--batch-size", type=COUNT, default=200)
    _common(p, train_data=False)
    p.set_defaults(func=cmd_snn_eval)


def _add_export(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a trained SNN to NIR (.nir) or a Brian2 network",
                              description="Export an SNN checkpoint. nir: writes a NIR graph file. brian2: builds the "
                                          "Brian2 network, runs it on test samples and reports agreement with PyTorch "
                                          "(both on the CPU).")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--format", choices=("nir", "brian2"), required=True)
    p.add_argument("--out", default=None, help="nir: output .nir file; brian2: folder for a raster plot + agreement JSON")
    p.add_argument("--samples", type=COUNT, default=None, help="brian2: test samples to compare (200)")
    p.add_argument("--codegen", choices=("numpy", "cython"), default=None, help="brian2: code generation target (numpy)")
    p.add_argument("--chunk", type=COUNT, default=None,
                   help="brian2: samples simulated together (default 50 for an MLP, 4 for a VGG)")
    p.add_argument("--timesteps", type=COUNT, default=None)
    _common(p, train_data=False, device=False)
    p.set_defaults(func=cmd_export)


def register(subparsers) -> None:
    """Add this module's commands to the CLI's sub-parsers."""
    for add in (_add_ann_train, _add_convert, _add_hybrid_train, _add_diet_train, _add_snn_eval, _add_export):
        add(subparsers)


# --------------------------------------------------------------------------------------------
# handlers: each runs one workflow of stdp_toolkit.torch_bridge.pipeline and prints its metrics
def _run(workflow: str, args, *positional: str) -> int:
    """Call ``pipeline.<workflow>`` with the options the user gave (None = not given: the workflow's default)."""
    import inspect

    from ..torch_bridge import pipeline
    fn = getattr(pipeline, workflow)
    params = inspect.signature(fn).parameters
    kw = {k: v for k, v in vars(args).items() if k in params and k not in positional and v is not None}
    if "progress" in params:
        kw["progress"] = not args.no_progress
    result = fn(*(getattr(args, k) for k in positional), **kw)
    if args.json:
        print(json.dumps(result, indent=None, default=float))
    else:
        for k, v in result.items():
            if isinstance(v, float):
                v = f"{v:.4f}"
            elif isinstance(v, list) and v and isinstance(v[0], float):
                v = "[" + ", ".join(f"{a:.4g}" for a in v) + "]"
            print(f"{k}: {v}")
    return 0


def cmd_ann_train(args) -> int:
    return _run("ann_train", args, "out")


def cmd_convert(args) -> int:
    return _run("convert", args, "checkpoint", "out")


def cmd_hybrid_train(args) -> int:
    return _run("hybrid_train", args, "checkpoint", "out")


def cmd_diet_train(args) -> int:
    return _run("diet_train", args, "checkpoint", "out")


def cmd_snn_eval(args) -> int:
    return _run("snn_eval", args, "checkpoint")


def cmd_export(args) -> int:
    return _run("export", args, "checkpoint", "format")
