"""``stdp-toolkit`` sub-commands of the PyTorch bridge.

ann-train → convert → hybrid-train (STDB) / diet-train → snn-eval → export (brian2 | nir).
This module must import without torch: torch is imported inside the handlers.
"""
from __future__ import annotations

import argparse
import json
import os
import time

from ..errors import UserError

COMMANDS = ("ann-train", "convert", "hybrid-train", "diet-train", "snn-eval", "export")


# --------------------------------------------------------------------------------------------
# shared options
def _common(p: argparse.ArgumentParser, data: bool = True) -> None:
    if data:
        p.add_argument("--data-dir", default=None,
                       help="folder with the data set (or its parent, e.g. the shared data folder); default $STDP_DATA_DIR")
        p.add_argument("--limit-train", type=int, default=None, help="use only the first N training samples")
        p.add_argument("--limit-test", type=int, default=None, help="use only the first N test samples")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default: CUDA when available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _train_opts(p, epochs, batch, lr, opt, wd):
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=batch)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=opt)
    p.add_argument("--weight-decay", type=float, default=wd)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint at --out")
    p.add_argument("--max-batches", type=int, default=None, help="stop each epoch after N batches (quick runs)")


def register(subparsers) -> None:
    p = subparsers.add_parser("ann-train", help="train a conversion-ready ANN (VGG/ResNet/MLP, no bias, avg pool)",
                              description="Train an ANN suited to ANN→SNN conversion and save a checkpoint.")
    p.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist")
    p.add_argument("--arch", default="vgg5", help="vgg5, vgg9, vgg11, vgg16, resnet8, resnet14, resnet20 or mlp")
    p.add_argument("--width", type=float, default=0.25, help="channel multiplier of the VGG/ResNet (1 = paper size)")
    p.add_argument("--fc", default="256", help="hidden FC sizes of a VGG, comma separated")
    p.add_argument("--hidden", default="100", help="hidden sizes of an MLP, comma separated")
    p.add_argument("--dropout", type=float, default=None, help="dropout (FC / MLP); convs use --dropout-conv")
    p.add_argument("--dropout-conv", type=float, default=0.1)
    p.add_argument("--out", required=True, help="checkpoint file to write (e.g. runs/mnist/ann.pt)")
    _train_opts(p, epochs=5, batch=64, lr=1e-3, opt="adam", wd=0.0)
    _common(p)
    p.set_defaults(func=cmd_ann_train)

    p = subparsers.add_parser("convert", help="ANN → SNN by layer-wise threshold balancing; accuracy vs time steps",
                              description="Convert a trained ANN to an IF SNN (Poisson input) by threshold balancing.")
    p.add_argument("--checkpoint", required=True, help="ANN checkpoint from ann-train")
    p.add_argument("--out", required=True, help="SNN checkpoint to write")
    p.add_argument("--timesteps", type=int, default=100, help="T stored with the SNN (and the last point of the curve)")
    p.add_argument("--curve", default="10,25,50,75,100", help="time steps at which to report accuracy")
    p.add_argument("--balance", choices=("max", "percentile"), default="max")
    p.add_argument("--percentile", type=float, default=99.7)
    p.add_argument("--scale", type=float, default=0.7, help="multiply all balanced thresholds by this")
    p.add_argument("--balance-samples", type=int, default=256, help="training images used for balancing")
    p.add_argument("--balance-steps", type=int, default=100, help="time steps simulated per layer while balancing")
    p.add_argument("--encoding", choices=("poisson", "direct"), default="poisson")
    p.add_argument("--input-scale", default="auto",
                   help="amplitude of Poisson input spikes: 'auto' = max |pixel| of the normalised data (no "
                        "clipping), 1 = Rathi et al.'s encoder sign(x)*[rand<|x|] (clips |x|>1)")
    p.add_argument("--batch-size", type=int, default=250)
    _common(p)
    p.set_defaults(func=cmd_convert)

    p = subparsers.add_parser("hybrid-train", help="fine-tune a converted SNN with spike-timing-dependent backprop",
                              description="Hybrid training: initialise from a converted SNN, fine-tune with STDB at reduced T.")
    p.add_argument("--checkpoint", required=True, help="converted SNN checkpoint (from convert)")
    p.add_argument("--out", required=True)
    p.add_argument("--timesteps", type=int, default=25)
    p.add_argument("--surrogate", choices=("stdb", "linear"), default="stdb")
    p.add_argument("--alpha", type=float, default=0.3)
    p.add_argument("--beta", type=float, default=0.01)
    p.add_argument("--rebalance", action="store_true",
                   help="re-run threshold balancing at the new T before fine-tuning (uses the options below)")
    p.add_argument("--balance-scale", type=float, default=0.7)
    p.add_argument("--balance-samples", type=int, default=256)
    _train_opts(p, epochs=3, batch=64, lr=1e-4, opt="adam", wd=5e-4)
    _common(p)
    p.set_defaults(func=cmd_hybrid_train)

    p = subparsers.add_parser("diet-train", help="DIET-SNN: direct input, trainable leak and threshold, few steps",
                              description="Train a DIET-SNN initialised from an ANN (thresholds = percentile × scale).")
    p.add_argument("--checkpoint", required=True, help="ANN checkpoint (from ann-train) or an SNN checkpoint to continue")
    p.add_argument("--out", required=True)
    p.add_argument("--timesteps", type=int, default=5)
    p.add_argument("--percentile", type=float, default=99.7)
    p.add_argument("--scale", type=float, default=0.3, help="threshold = percentile of ANN pre-activation × scale")
    p.add_argument("--leak", type=float, default=1.0, help="initial leak of every layer")
    p.add_argument("--gamma", type=float, default=0.3, help="linear surrogate scale")
    p.add_argument("--balance-samples", type=int, default=512)
    _train_opts(p, epochs=3, batch=64, lr=1e-4, opt="adam", wd=5e-4)
    _common(p)
    p.set_defaults(func=cmd_diet_train)

    p = subparsers.add_parser("snn-eval", help="accuracy, spike rates, synaptic ops and energy of an SNN checkpoint")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--timesteps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=200)
    _common(p)
    p.set_defaults(func=cmd_snn_eval)

    p = subparsers.add_parser("export", help="export a trained SNN to NIR (.nir) or a Brian2 network",
                              description="Export an SNN checkpoint. nir: writes a NIR graph file. brian2: builds the "
                                          "Brian2 network, runs it on test samples and reports agreement with PyTorch.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--format", choices=("nir", "brian2"), required=True)
    p.add_argument("--out", default=None, help="nir: output .nir file; brian2: folder for a raster plot + agreement JSON")
    p.add_argument("--samples", type=int, default=200, help="brian2: test samples to compare")
    p.add_argument("--codegen", default="numpy", help="brian2 code generation target (numpy or cython)")
    p.add_argument("--chunk", type=int, default=None,
                   help="brian2: samples simulated together (default 50 for an MLP, 4 for a VGG)")
    p.add_argument("--timesteps", type=int, default=None)
    _common(p)
    p.set_defaults(func=cmd_export)


# --------------------------------------------------------------------------------------------
def _setup(args):
    import torch

    from .train import pick_device
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    return pick_device(args.device)


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
    from .data import load_dataset
    data = {}
    if need_train:
        data["x_train"], data["y_train"] = load_dataset(name, args.data_dir, "train", args.limit_train)
    data["x_test"], data["y_test"] = load_dataset(name, args.data_dir, "test", args.limit_test)
    return data


def _ints(text: str):
    try:
        return [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise UserError(f"expected comma-separated integers, got {text!r}") from None


def _check_positive(**values):
    for k, v in values.items():
        if v is not None and v <= 0:
            raise UserError(f"--{k.replace('_', '-')} must be positive, got {v}")


# --------------------------------------------------------------------------------------------
def cmd_ann_train(args) -> int:
    import torch

    from .models import MLP, VGG, VGG_CONFIGS, ResNet
    from .train import fit, load_checkpoint, make_optimizer, save_checkpoint
    _check_positive(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, width=args.width)
    device = _setup(args)
    data = _load_data(args, args.dataset)
    c, s = data["x_train"].shape[1], data["x_train"].shape[2]
    if args.arch in VGG_CONFIGS:
        model = VGG(args.arch, c, s, 10, width=args.width, fc=_ints(args.fc), dropout_conv=args.dropout_conv,
                    dropout_fc=0.5 if args.dropout is None else args.dropout)
    elif args.arch.startswith("resnet"):
        model = ResNet(args.arch, c, s, 10, width=args.width, dropout=0.1 if args.dropout is None else args.dropout)
    elif args.arch == "mlp":
        model = MLP(c * s * s, _ints(args.hidden), 10, dropout=0.0 if args.dropout is None else args.dropout,
                    in_channels=c, image_size=s)
    else:
        raise UserError(f"unknown --arch {args.arch!r}: use vgg5/9/11/16, resnet8/14/20 or mlp")
    model.to(device)
    opt = make_optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    start, history = 0, []
    if args.resume and os.path.isfile(args.out):
        ck = load_checkpoint(args.out)
        model.load_state_dict(ck["model_state"])
        opt.load_state_dict(ck["optimizer_state"])
        sched.load_state_dict(ck["scheduler_state"])
        start, history = ck["epoch"], ck["history"]
    t_start = time.time() - sum(h["train_seconds"] for h in history)

    def save(epoch, record):
        save_checkpoint(args.out, kind="ann", stage="ann", dataset=args.dataset, model_config=model.config,
                        model_state=model.state_dict(), optimizer_state=opt.state_dict(),
                        scheduler_state=sched.state_dict(), epoch=epoch, history=history_ref, snn_config=None,
                        args=vars(args) | {"func": None})

    history_ref = history
    history = fit(model, model, data, epochs=args.epochs, batch_size=args.batch_size, optimizer=opt,
                  scheduler=sched, start_epoch=start, augment=(args.dataset == "cifar10"), device=device,
                  on_epoch_end=lambda e, r: (history_ref.append(r), save(e, r)), progress=not args.no_progress,
                  seed=args.seed, history=history, max_batches=args.max_batches)
    result = dict(command="ann-train", dataset=args.dataset, arch=args.arch, model_config=model.config,
                  parameters=sum(p.numel() for p in model.parameters()),
                  test_acc=history_ref[-1]["test_acc"] if history_ref else None, epochs=len(history_ref),
                  train_seconds=sum(h["train_seconds"] for h in history_ref), history=history_ref,
                  wall_seconds=time.time() - t_start, checkpoint=args.out)
    _emit(args, result)
    return 0


def cmd_convert(args) -> int:
    import torch

    from .convert import accuracy_vs_timesteps, balance_thresholds
    from .data import batches
    from .snn import SpikingNet
    from .train import evaluate, load_checkpoint, model_from_checkpoint, save_checkpoint
    _check_positive(timesteps=args.timesteps, scale=args.scale, balance_samples=args.balance_samples,
                    balance_steps=args.balance_steps)
    device = _setup(args)
    ck = load_checkpoint(args.checkpoint)
    if ck["kind"] != "ann":
        raise UserError(f"{args.checkpoint} is not an ANN checkpoint (it is {ck['kind']}); convert takes ann-train output")
    ann = model_from_checkpoint(ck).to(device).eval()
    data = _load_data(args, ck["dataset"])
    t0 = time.time()
    ann_acc = evaluate(ann, data["x_test"], data["y_test"], 500, device)
    g = torch.Generator().manual_seed(args.seed)
    idx = torch.randperm(len(data["y_train"]), generator=g)[:args.balance_samples]
    if args.input_scale == "auto":
        input_scale = max(1.0, float(data["x_train"].abs().max()))
    else:
        try:
            input_scale = float(args.input_scale)
        except ValueError:
            raise UserError(f"--input-scale must be 'auto' or a number, got {args.input_scale!r}") from None
        _check_positive(input_scale=input_scale)
    snn = SpikingNet(ann, timesteps=args.timesteps, encoding=args.encoding, input_scale=input_scale).to(device)
    th = balance_thresholds(snn, data["x_train"][idx].to(device), args.balance_steps, args.balance,
                            args.percentile, args.scale, progress=not args.no_progress)
    t_bal = time.time() - t0
    curve_ts = sorted(set(_ints(args.curve) + [args.timesteps]))
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


def _snn_training(args, snn, ck, stage, data, device, extra):
    import torch

    from .train import fit, load_checkpoint, make_optimizer, save_checkpoint
    opt = make_optimizer(args.optimizer, [p for p in snn.parameters() if p.requires_grad], args.lr, args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, args.epochs))
    start, history = 0, []
    if args.resume and os.path.isfile(args.out):
        prev = load_checkpoint(args.out)
        snn.load_state_dict(prev["snn_state"])
        opt.load_state_dict(prev["optimizer_state"])
        sched.load_state_dict(prev["scheduler_state"])
        start, history = prev["epoch"], prev["history"]

    def save(epoch, record):
        history.append(record)
        cfg = snn.snn_config() | dict(train_threshold=any(n.threshold.requires_grad for n in snn.neurons),
                                      train_leak=any(n.leak.requires_grad for n in snn.neurons))
        save_checkpoint(args.out, kind="snn", stage=stage, dataset=ck["dataset"], model_config=ck["model_config"],
                        model_state=snn.ann.state_dict(), snn_state=snn.state_dict(), snn_config=cfg,
                        optimizer_state=opt.state_dict(), scheduler_state=sched.state_dict(), epoch=epoch,
                        history=history, metrics=extra, args=vars(args) | {"func": None})

    fit(snn, snn, data, epochs=args.epochs, batch_size=args.batch_size, optimizer=opt, scheduler=sched,
        start_epoch=start, augment=(ck["dataset"] == "cifar10"), device=device, after_step=snn.clamp_,
        eval_batch_size=200, on_epoch_end=save, progress=not args.no_progress, seed=args.seed,
        history=None, max_batches=args.max_batches)
    return history


def cmd_hybrid_train(args) -> int:
    import torch

    from .convert import balance_thresholds
    from .train import evaluate, load_checkpoint, snn_from_checkpoint
    _check_positive(timesteps=args.timesteps, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size)
    device = _setup(args)
    ck = load_checkpoint(args.checkpoint)
    snn = snn_from_checkpoint(ck, timesteps=args.timesteps).to(device)
    snn.set_surrogate(args.surrogate, alpha=args.alpha, beta=args.beta)
    data = _load_data(args, ck["dataset"])
    t0 = time.time()
    if args.rebalance:
        g = torch.Generator().manual_seed(args.seed)
        idx = torch.randperm(len(data["y_train"]), generator=g)[:args.balance_samples]
        balance_thresholds(snn, data["x_train"][idx].to(device), args.timesteps, "max", scale=args.balance_scale)
    snn.eval()  # no dropout while measuring the starting accuracy
    init_acc = evaluate(snn, data["x_test"], data["y_test"], 200, device, progress=not args.no_progress,
                        desc="initial SNN")
    history = _snn_training(args, snn, ck, "hybrid", data, device, dict(initial_acc=init_acc))
    result = dict(command="hybrid-train", dataset=ck["dataset"], timesteps=args.timesteps, surrogate=args.surrogate,
                  initial_acc=init_acc, test_acc=history[-1]["test_acc"] if history else init_acc,
                  epochs=len(history), train_seconds=sum(h["train_seconds"] for h in history),
                  thresholds=snn.thresholds(), history=history, wall_seconds=time.time() - t0, checkpoint=args.out)
    _emit(args, result)
    return 0


def cmd_diet_train(args) -> int:
    import torch

    from .convert import ann_activation_thresholds
    from .snn import SpikingNet
    from .train import evaluate, load_checkpoint, model_from_checkpoint, snn_from_checkpoint
    _check_positive(timesteps=args.timesteps, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                    scale=args.scale)
    if not 0 <= args.leak <= 1:
        raise UserError(f"--leak must be in [0, 1], got {args.leak}")
    device = _setup(args)
    ck = load_checkpoint(args.checkpoint)
    data = _load_data(args, ck["dataset"])
    t0 = time.time()
    if ck["kind"] == "ann":
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
    snn.eval()  # no dropout while measuring the starting accuracy
    init_acc = evaluate(snn, data["x_test"], data["y_test"], 200, device, progress=not args.no_progress,
                        desc="initial SNN")
    history = _snn_training(args, snn, ck, "diet", data, device, dict(initial_acc=init_acc))
    result = dict(command="diet-train", dataset=ck["dataset"], timesteps=args.timesteps, initial_acc=init_acc,
                  test_acc=history[-1]["test_acc"] if history else init_acc, epochs=len(history),
                  train_seconds=sum(h["train_seconds"] for h in history), thresholds=snn.thresholds(),
                  leaks=snn.leaks(), history=history, wall_seconds=time.time() - t0, checkpoint=args.out)
    _emit(args, result)
    return 0


def cmd_snn_eval(args) -> int:
    from .metrics import snn_metrics
    from .train import evaluate, load_checkpoint, model_from_checkpoint, snn_from_checkpoint
    device = _setup(args)
    ck = load_checkpoint(args.checkpoint)
    data = _load_data(args, ck["dataset"], need_train=False)
    x, y = data["x_test"].to(device), data["y_test"].to(device)
    t0 = time.time()
    if ck["kind"] == "ann":
        raise UserError("snn-eval needs an SNN checkpoint (from convert, hybrid-train or diet-train)")
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
    from .train import load_checkpoint, snn_from_checkpoint
    device = _setup(args)
    ck = load_checkpoint(args.checkpoint)
    if ck["kind"] != "snn":
        raise UserError("export needs an SNN checkpoint (from convert, hybrid-train or diet-train)")
    snn = snn_from_checkpoint(ck, timesteps=args.timesteps)
    if "snn_state" in ck:
        snn.load_state_dict(ck["snn_state"])
    snn.eval()
    if args.format == "nir":
        from .export_nir import to_nir, write_nir
        if not args.out:
            raise UserError("--out FILE.nir is required for --format nir")
        graph = to_nir(snn)
        write_nir(graph, args.out)
        result = dict(command="export", format="nir", out=args.out, nodes=sorted(graph.nodes),
                      edges=[list(e) for e in graph.edges])
    else:
        from .export_brian2 import compare_with_brian2
        data = _load_data(args, ck["dataset"], need_train=False)
        n = min(args.samples, len(data["y_test"]))
        chunk = args.chunk or (50 if ck["model_config"]["family"] == "mlp" else 4)
        _check_positive(chunk=chunk, samples=n)
        res = compare_with_brian2(snn, data["x_test"][:n], data["y_test"][:n], codegen=args.codegen, chunk=chunk,
                                  progress=not args.no_progress,
                                  raster_path=os.path.join(args.out, "raster.png") if args.out else None)
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            with open(os.path.join(args.out, "agreement.json"), "w") as fh:
                json.dump(res, fh, indent=1)
        result = dict(command="export", format="brian2") | res
    _emit(args, result)
    return 0
