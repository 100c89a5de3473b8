"""``stdp-toolkit`` sub-commands of the PyTorch bridge.

ann-train → convert → hybrid-train (STDB) / diet-train → snn-eval → export (brian2 | nir).
This module must import without torch: torch is imported inside the handlers.

Every user mistake is one line before any work: option values are checked by the argparse
``type=`` functions below (exit 2 with ``argument --x: ...``), option combinations, input
checkpoints and output paths by the handlers (:class:`~stdp_toolkit.errors.UserError`, also exit 2).
Options that would be ignored (``--hidden`` for a VGG, ``--alpha`` with the linear surrogate, ...)
are refused instead.  Training commands never overwrite an existing checkpoint at ``--out``
without ``--resume``, and ``--resume`` refuses a checkpoint trained with other settings or data.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ..errors import UserError
from ..validation import COUNT, SEED, check_output_dir, check_output_file, option_type

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


def register(subparsers) -> None:
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

    p = subparsers.add_parser("snn-eval", help="accuracy, spike rates, synaptic ops and energy of an SNN checkpoint")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--timesteps", type=COUNT, default=None)
    p.add_argument("--batch-size", type=COUNT, default=200)
    _common(p, train_data=False)
    p.set_defaults(func=cmd_snn_eval)

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


# --------------------------------------------------------------------------------------------
# checks shared by the handlers
def _given(args, *names):
    """The options among ``names`` (attribute names) that the user gave (their default is None)."""
    return ["--" + n.replace("_", "-") for n in names if getattr(args, n, None) is not None]


def _refuse_unused(args, names, why):
    given = _given(args, *names)
    if given:
        raise UserError(f"{', '.join(given)} {'has' if len(given) == 1 else 'have'} no effect {why}; drop "
                        f"{'it' if len(given) == 1 else 'them'}")


def _default(args, name, value):
    if getattr(args, name) is None:
        setattr(args, name, value)
    return getattr(args, name)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _describe(ck: dict) -> str:
    if ck.get("kind") == "ann":
        return "ann-train (ANN)"
    return {"converted": "convert", "hybrid": "hybrid-train", "diet": "diet-train"}.get(ck.get("stage"), "SNN")


def _training_out(args, command: str, accepts) -> dict | None:
    """Check ``--out`` of a training command; the checkpoint to continue with ``--resume``, else None.

    An existing file is never overwritten without ``--resume`` (it may be hours of training).
    """
    from ..torch_bridge.train import load_checkpoint

    check_output_file(args.out)
    if getattr(args, "checkpoint", None) and _same_file(args.out, args.checkpoint):
        raise UserError(f"--out {args.out} is the input --checkpoint; writing it would destroy the input: "
                        "choose another --out")
    if not os.path.exists(args.out):
        if args.resume:
            print(f"note: no checkpoint at {args.out} yet: starting a new run", file=sys.stderr)
        return None
    if not args.resume:
        raise UserError(f"{args.out} already exists; add --resume to continue it, or choose another --out "
                        "(delete the file to start over)")
    prev = load_checkpoint(args.out, hint="start again without --resume")
    if not accepts(prev):
        raise UserError(f"cannot resume {args.out}: it is a {_describe(prev)} checkpoint, not one that {command} "
                        "writes; choose another --out")
    return prev


def _setup(args):
    import torch

    from ..torch_bridge.train import pick_device
    _default(args, "seed", 0)
    device = pick_device(getattr(args, "device", "cpu"))
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    return device


def _emit(args, result: dict) -> None:
    if args.json:
        print(json.dumps(result, indent=None, default=float))
    else:
        for k, v in result.items():
            if isinstance(v, float):
                v = f"{v:.4f}"
            elif isinstance(v, list) and v and isinstance(v[0], float):
                v = "[" + ", ".join(f"{a:.4g}" for a in v) + "]"
            print(f"{k}: {v}")


def _load_data(args, name, need_train=True):
    from ..torch_bridge.data import load_dataset
    data = {}
    if need_train:
        data["x_train"], data["y_train"] = load_dataset(name, args.data_dir, "train", args.limit_train)
    data["x_test"], data["y_test"] = load_dataset(name, args.data_dir, "test", args.limit_test)
    return data


def _data_identity(args, name: str, data: dict) -> dict:
    """What a resumed run must train and test on: a SHA-256 of the tensors actually used (after --limit-*)."""
    from ..checkpoint import data_identity
    from ..torch_bridge.data import resolve_dataset_dir
    folder = resolve_dataset_dir(name, args.data_dir)
    return {split: data_identity(f"{len(data['y_' + split])} {name} {split} samples from {folder}",
                                 data["x_" + split], data["y_" + split]) for split in ("train", "test")}


def _input_identity(path: str) -> dict:
    from ..torch_bridge.train import file_sha256
    return {"name": os.path.basename(path), "sha256": file_sha256(path)}


def _restore(prev, model, opt, sched, args, device, state_key="model_state"):
    """Load a resumed run's model, optimiser, schedule and RNG; return (start epoch, history)."""
    from ..torch_bridge.train import set_rng_state, stretch_schedule
    model.load_state_dict(prev[state_key])
    opt.load_state_dict(prev["optimizer_state"])
    sched.load_state_dict(prev["scheduler_state"])
    target = max(1, args.epochs)
    if sched.T_max != target:
        print(f"note: {args.out} was started for {sched.T_max} epoch(s); its cosine learning-rate schedule is "
              f"stretched to end at epoch {target}", file=sys.stderr)
        stretch_schedule(sched, opt, target)
    set_rng_state(prev.get("rng"), device)   # last: the epochs continue from the saved random state
    return prev["epoch"], list(prev["history"])


# --------------------------------------------------------------------------------------------
def cmd_ann_train(args) -> int:
    import torch

    from ..torch_bridge.models import MLP, VGG, VGG_CONFIGS, ResNet
    from ..torch_bridge.train import check_resume, fit, make_optimizer, rng_state, save_checkpoint
    vgg, mlp = args.arch in VGG_CONFIGS, args.arch == "mlp"
    if not vgg:
        _refuse_unused(args, ("fc", "dropout_conv"), f"with --arch {args.arch} (VGG options)")
    if not mlp:
        _refuse_unused(args, ("hidden",), f"with --arch {args.arch} (an MLP option)")
    else:
        _refuse_unused(args, ("width",), "with --arch mlp (a VGG/ResNet option; size an MLP with --hidden)")
    prev = _training_out(args, "ann-train", lambda ck: ck["kind"] == "ann")
    device = _setup(args)
    data = _load_data(args, args.dataset)
    c, s = data["x_train"].shape[1], data["x_train"].shape[2]
    if vgg:
        settings = dict(width=_default(args, "width", 0.25), fc=_default(args, "fc", [256]),
                        dropout=_default(args, "dropout", 0.5), dropout_conv=_default(args, "dropout_conv", 0.1))
        model = VGG(args.arch, c, s, 10, width=args.width, fc=args.fc, dropout_conv=args.dropout_conv,
                    dropout_fc=args.dropout)
    elif mlp:
        settings = dict(hidden=_default(args, "hidden", [100]), dropout=_default(args, "dropout", 0.0))
        model = MLP(c * s * s, args.hidden, 10, dropout=args.dropout, in_channels=c, image_size=s)
    else:
        settings = dict(width=_default(args, "width", 0.25), dropout=_default(args, "dropout", 0.1))
        model = ResNet(args.arch, c, s, 10, width=args.width, dropout=args.dropout)
    settings.update(dataset=args.dataset, arch=args.arch, optimizer=args.optimizer, lr=args.lr,
                    weight_decay=args.weight_decay, batch_size=args.batch_size, seed=args.seed,
                    max_batches=args.max_batches, limit_train=args.limit_train, limit_test=args.limit_test)
    current = dict(settings=settings, data=_data_identity(args, args.dataset, data))
    if prev is not None:
        check_resume(args.out, prev, current, args.epochs)
    model.to(device)
    opt = make_optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    start, history = _restore(prev, model, opt, sched, args, device) if prev is not None else (0, [])
    t_start = time.time() - sum(h["train_seconds"] for h in history)

    def save(epoch, record):
        history.append(record)
        save_checkpoint(args.out, kind="ann", stage="ann", dataset=args.dataset, model_config=model.config,
                        model_state=model.state_dict(), optimizer_state=opt.state_dict(),
                        scheduler_state=sched.state_dict(), epoch=epoch, history=history, snn_config=None,
                        resume=current, rng=rng_state(device), args=vars(args) | {"func": None})

    fit(model, model, data, epochs=args.epochs, batch_size=args.batch_size, optimizer=opt,
        scheduler=sched, start_epoch=start, augment=(args.dataset == "cifar10"), device=device,
        on_epoch_end=save, progress=not args.no_progress, seed=args.seed, max_batches=args.max_batches)
    result = dict(command="ann-train", dataset=args.dataset, arch=args.arch, model_config=model.config,
                  parameters=sum(p.numel() for p in model.parameters()),
                  test_acc=history[-1]["test_acc"] if history else None, epochs=len(history),
                  train_seconds=sum(h["train_seconds"] for h in history), history=history,
                  wall_seconds=time.time() - t_start, checkpoint=args.out)
    _emit(args, result)
    return 0


def _convert_out(args) -> None:
    """convert replaces an earlier convert output at --out (reproducible), never anything else."""
    from ..torch_bridge.train import load_checkpoint
    check_output_file(args.out)
    if _same_file(args.out, args.checkpoint):
        raise UserError(f"--out {args.out} is the input --checkpoint; writing it would destroy the ANN: "
                        "choose another --out")
    if not os.path.exists(args.out):
        return
    try:
        old = load_checkpoint(args.out)
    except UserError:
        raise UserError(f"{args.out} already exists and is not a checkpoint that convert wrote; choose another "
                        "--out (or delete the file)") from None
    if old.get("stage") != "converted":
        raise UserError(f"{args.out} already exists and holds a {_describe(old)} checkpoint that convert would "
                        "overwrite; choose another --out")


def cmd_convert(args) -> int:
    import torch

    from ..torch_bridge.convert import accuracy_vs_timesteps, balance_thresholds
    from ..torch_bridge.data import batches
    from ..torch_bridge.snn import SpikingNet
    from ..torch_bridge.train import evaluate, load_checkpoint, model_from_checkpoint, save_checkpoint
    if args.balance != "percentile":
        _refuse_unused(args, ("percentile",), "with --balance max (add --balance percentile)")
    _default(args, "percentile", 99.7)
    ck = load_checkpoint(args.checkpoint)
    if ck["kind"] != "ann":
        raise UserError(f"{args.checkpoint} is not an ANN checkpoint (it is from {_describe(ck)}); convert takes "
                        "ann-train output")
    _convert_out(args)
    device = _setup(args)
    ann = model_from_checkpoint(ck).to(device).eval()
    data = _load_data(args, ck["dataset"])
    t0 = time.time()
    ann_acc = evaluate(ann, data["x_test"], data["y_test"], 500, device)
    g = torch.Generator().manual_seed(args.seed)
    idx = torch.randperm(len(data["y_train"]), generator=g)[:args.balance_samples]
    if args.input_scale == "auto":
        input_scale = max(1.0, float(data["x_train"].abs().max()))
    else:
        input_scale = float(args.input_scale)
    snn = SpikingNet(ann, timesteps=args.timesteps, encoding=args.encoding, input_scale=input_scale).to(device)
    th = balance_thresholds(snn, data["x_train"][idx].to(device), args.balance_steps, args.balance,
                            args.percentile, args.scale, progress=not args.no_progress)
    t_bal = time.time() - t0
    curve_ts = sorted(set(args.curve + [args.timesteps]))
    test = [(xb.to(device), yb.to(device)) for xb, yb in batches(data["x_test"], data["y_test"], args.batch_size)]
    curve = accuracy_vs_timesteps(snn, test, curve_ts, progress=not args.no_progress)
    save_checkpoint(args.out, kind="snn", stage="converted", dataset=ck["dataset"], model_config=ck["model_config"],
                    model_state=ann.state_dict(), snn_config=snn.snn_config(), epoch=0, history=[],
                    metrics=dict(ann_acc=ann_acc, curve=curve), args=vars(args) | {"func": None})
    result = dict(command="convert", dataset=ck["dataset"], ann_acc=ann_acc, thresholds=th,
                  balance=args.balance, scale=args.scale, input_scale=input_scale, curve={str(k): v for k, v in curve.items()},
                  snn_acc=curve[args.timesteps], timesteps=args.timesteps,
                  balance_seconds=t_bal, wall_seconds=time.time() - t0, checkpoint=args.out)
    _emit(args, result)
    return 0


def _snn_training(args, snn, ck, stage, data, device, extra, prev, current):
    import torch

    from ..torch_bridge.train import fit, make_optimizer, rng_state, save_checkpoint
    opt = make_optimizer(args.optimizer, [p for p in snn.parameters() if p.requires_grad], args.lr, args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, args.epochs))
    start, history = _restore(prev, snn, opt, sched, args, device, "snn_state") if prev is not None else (0, [])

    def save(epoch, record):
        history.append(record)
        cfg = snn.snn_config() | dict(train_threshold=any(n.threshold.requires_grad for n in snn.neurons),
                                      train_leak=any(n.leak.requires_grad for n in snn.neurons))
        save_checkpoint(args.out, kind="snn", stage=stage, dataset=ck["dataset"], model_config=ck["model_config"],
                        model_state=snn.ann.state_dict(), snn_state=snn.state_dict(), snn_config=cfg,
                        optimizer_state=opt.state_dict(), scheduler_state=sched.state_dict(), epoch=epoch,
                        history=history, metrics=extra, resume=current, rng=rng_state(device),
                        args=vars(args) | {"func": None})

    fit(snn, snn, data, epochs=args.epochs, batch_size=args.batch_size, optimizer=opt, scheduler=sched,
        start_epoch=start, augment=(ck["dataset"] == "cifar10"), device=device, after_step=snn.clamp_,
        eval_batch_size=200, on_epoch_end=save, progress=not args.no_progress, seed=args.seed,
        history=None, max_batches=args.max_batches)
    return history


def _train_settings(args, ck, **extra) -> dict:
    return dict(dataset=ck["dataset"], timesteps=args.timesteps, optimizer=args.optimizer, lr=args.lr,
                weight_decay=args.weight_decay, batch_size=args.batch_size, seed=args.seed,
                max_batches=args.max_batches, limit_train=args.limit_train, limit_test=args.limit_test, **extra)


def cmd_hybrid_train(args) -> int:
    import torch

    from ..torch_bridge.convert import balance_thresholds
    from ..torch_bridge.train import check_resume, evaluate, load_checkpoint, snn_from_checkpoint
    if args.surrogate != "stdb":
        _refuse_unused(args, ("alpha", "beta"), f"with --surrogate {args.surrogate} (stdb options)")
    if not args.rebalance:
        _refuse_unused(args, ("balance_scale", "balance_samples"), "without --rebalance")
    _default(args, "alpha", 0.3)
    _default(args, "beta", 0.01)
    ck = load_checkpoint(args.checkpoint)
    if ck["kind"] != "snn":
        raise UserError(f"{args.checkpoint} holds an ANN, not an SNN: run `stdp-toolkit convert` on it first "
                        "(hybrid-train fine-tunes a converted SNN)")
    prev = _training_out(args, "hybrid-train", lambda c: c.get("stage") == "hybrid")
    device = _setup(args)
    snn = snn_from_checkpoint(ck, timesteps=args.timesteps).to(device)
    snn.set_surrogate(args.surrogate, alpha=args.alpha, beta=args.beta)
    data = _load_data(args, ck["dataset"])
    rebalance = dict(balance_scale=_default(args, "balance_scale", 0.7),
                     balance_samples=_default(args, "balance_samples", 256)) if args.rebalance else {}
    surrogate = dict(alpha=args.alpha, beta=args.beta) if args.surrogate == "stdb" else {}
    current = dict(settings=_train_settings(args, ck, surrogate=args.surrogate, rebalance=args.rebalance,
                                            **surrogate, **rebalance),
                   data=_data_identity(args, ck["dataset"], data), init=_input_identity(args.checkpoint))
    t0 = time.time()
    if prev is not None:
        check_resume(args.out, prev, current, args.epochs)
        init_acc = prev.get("metrics", {}).get("initial_acc")   # the run's start; its state is loaded below
    else:
        if args.rebalance:
            g = torch.Generator().manual_seed(args.seed)
            idx = torch.randperm(len(data["y_train"]), generator=g)[:args.balance_samples]
            balance_thresholds(snn, data["x_train"][idx].to(device), args.timesteps, "max", scale=args.balance_scale)
        snn.eval()  # no dropout while measuring the starting accuracy
        init_acc = evaluate(snn, data["x_test"], data["y_test"], 200, device, progress=not args.no_progress,
                            desc="initial SNN")
    history = _snn_training(args, snn, ck, "hybrid", data, device, dict(initial_acc=init_acc), prev, current)
    result = dict(command="hybrid-train", dataset=ck["dataset"], timesteps=args.timesteps, surrogate=args.surrogate,
                  initial_acc=init_acc, test_acc=history[-1]["test_acc"] if history else init_acc,
                  epochs=len(history), train_seconds=sum(h["train_seconds"] for h in history),
                  thresholds=snn.thresholds(), history=history, wall_seconds=time.time() - t0, checkpoint=args.out)
    _emit(args, result)
    return 0


def cmd_diet_train(args) -> int:
    import torch

    from ..torch_bridge.convert import ann_activation_thresholds
    from ..torch_bridge.snn import SpikingNet
    from ..torch_bridge.train import check_resume, evaluate, load_checkpoint, model_from_checkpoint, snn_from_checkpoint
    ck = load_checkpoint(args.checkpoint)
    from_ann = ck["kind"] == "ann"
    if not from_ann:
        _refuse_unused(args, ("percentile", "scale", "leak", "balance_samples"),
                       f"when --checkpoint is an SNN (options for a start from an ANN; {args.checkpoint} keeps "
                       "its thresholds and leaks)")
    prev = _training_out(args, "diet-train", lambda c: c.get("stage") == "diet")
    device = _setup(args)
    data = _load_data(args, ck["dataset"])
    init = dict(percentile=_default(args, "percentile", 99.7), scale=_default(args, "scale", 0.3),
                leak=_default(args, "leak", 1.0), balance_samples=_default(args, "balance_samples", 512)) \
        if from_ann else {}
    current = dict(settings=_train_settings(args, ck, gamma=args.gamma, **init),
                   data=_data_identity(args, ck["dataset"], data), init=_input_identity(args.checkpoint))
    if prev is not None:
        check_resume(args.out, prev, current, args.epochs)
    t0 = time.time()
    if from_ann:
        ann = model_from_checkpoint(ck).to(device)
        g = torch.Generator().manual_seed(args.seed)
        idx = torch.randperm(len(data["y_train"]), generator=g)[:args.balance_samples]
        th = ann_activation_thresholds(ann, data["x_train"][idx].to(device), args.percentile, args.scale)
        snn = SpikingNet(ann, timesteps=args.timesteps, encoding="direct", thresholds=th, leak=args.leak,
                         train_threshold=True, train_leak=True, surrogate="linear", gamma=args.gamma).to(device)
    else:
        snn = snn_from_checkpoint(ck, timesteps=args.timesteps, encoding="direct").to(device)
        for n in snn.neurons:
            n.threshold.requires_grad_(True)
            n.leak.requires_grad_(True)
        snn.set_surrogate("linear", gamma=args.gamma)
    if prev is not None:
        init_acc = prev.get("metrics", {}).get("initial_acc")
    else:
        snn.eval()  # no dropout while measuring the starting accuracy
        init_acc = evaluate(snn, data["x_test"], data["y_test"], 200, device, progress=not args.no_progress,
                            desc="initial SNN")
    history = _snn_training(args, snn, ck, "diet", data, device, dict(initial_acc=init_acc), prev, current)
    result = dict(command="diet-train", dataset=ck["dataset"], timesteps=args.timesteps, initial_acc=init_acc,
                  test_acc=history[-1]["test_acc"] if history else init_acc, epochs=len(history),
                  train_seconds=sum(h["train_seconds"] for h in history), thresholds=snn.thresholds(),
                  leaks=snn.leaks(), history=history, wall_seconds=time.time() - t0, checkpoint=args.out)
    _emit(args, result)
    return 0


def cmd_snn_eval(args) -> int:
    from ..torch_bridge.metrics import snn_metrics
    from ..torch_bridge.train import evaluate, load_checkpoint, snn_from_checkpoint
    ck = load_checkpoint(args.checkpoint)
    if ck["kind"] == "ann":
        raise UserError("snn-eval needs an SNN checkpoint (from convert, hybrid-train or diet-train)")
    device = _setup(args)
    data = _load_data(args, ck["dataset"], need_train=False)
    x, y = data["x_test"].to(device), data["y_test"].to(device)
    t0 = time.time()
    snn = snn_from_checkpoint(ck, timesteps=args.timesteps).to(device)
    if "snn_state" in ck:
        snn.load_state_dict(ck["snn_state"])
    snn.eval()
    ann_acc = evaluate(snn.ann, x, y, 500, device)
    m = snn_metrics(snn, x, y, args.batch_size)
    m.update(command="snn-eval", stage=ck.get("stage"), dataset=ck["dataset"], ann_acc_same_weights=ann_acc,
             thresholds=snn.thresholds(), leaks=snn.leaks(), encoding=snn.encoding, wall_seconds=time.time() - t0)
    _emit(args, m)
    return 0


def cmd_export(args) -> int:
    from .. import checkpoint
    from ..torch_bridge.train import load_checkpoint, snn_from_checkpoint
    if args.format == "nir":
        # --data-dir is accepted (like $STDP_DATA_DIR, it only says where data would be); options that would
        # change a result are refused
        _refuse_unused(args, ("samples", "codegen", "chunk", "limit_test", "seed"), "with --format nir (brian2 options)")
        if not args.out:
            raise UserError("--out FILE.nir is required for --format nir")
    ck = load_checkpoint(args.checkpoint)
    if ck["kind"] != "snn":
        raise UserError("export needs an SNN checkpoint (from convert, hybrid-train or diet-train)")
    if args.format == "nir":
        check_output_file(args.out)
    elif args.out:
        check_output_dir(args.out)
    _setup(args)
    snn = snn_from_checkpoint(ck, timesteps=args.timesteps)
    if "snn_state" in ck:
        snn.load_state_dict(ck["snn_state"])
    snn.eval()
    if args.format == "nir":
        from ..torch_bridge.export_nir import to_nir, write_nir
        graph = to_nir(snn)
        write_nir(graph, args.out)
        result = dict(command="export", format="nir", out=args.out, nodes=sorted(graph.nodes),
                      edges=[list(e) for e in graph.edges])
    else:
        from ..torch_bridge.export_brian2 import compare_with_brian2
        data = _load_data(args, ck["dataset"], need_train=False)
        n = min(_default(args, "samples", 200), len(data["y_test"]))
        chunk = args.chunk or (50 if ck["model_config"]["family"] == "mlp" else 4)
        if args.out:
            try:
                os.makedirs(args.out, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create --out {args.out}: {exc.strerror}; choose another --out") from None
        res = compare_with_brian2(snn, data["x_test"][:n], data["y_test"][:n], codegen=args.codegen or "numpy",
                                  chunk=chunk, seed=args.seed, progress=not args.no_progress,
                                  raster_path=os.path.join(args.out, "raster.png") if args.out else None)
        if args.out:
            checkpoint.write_json(os.path.join(args.out, "agreement.json"), res)
        result = dict(command="export", format="brian2") | res
    _emit(args, result)
    return 0
