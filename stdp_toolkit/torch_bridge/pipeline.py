"""The bridge's workflows, checkpoint file in → checkpoint file out: what each CLI command runs.

ann-train → convert → hybrid-train (STDB) / diet-train → snn-eval → export (brian2 | nir).  The
in-memory recipes they are made of (:func:`convert_ann`, :func:`diet_from_ann`,
:func:`hybrid_from_snn`, :func:`balance_sample`) are what the notebook calls on tensors.

Every workflow checks its inputs before any work, as one :class:`~stdp_toolkit.errors.UserError`:
an option that would have no effect is refused (``alpha`` with the linear surrogate, ...); an
existing checkpoint at ``out`` is never overwritten without ``resume=True``, and ``resume``
refuses a checkpoint trained with other settings or data.  Options are named as the keyword and
as the CLI flag, since both reach here.

Why one module of ~380 lines of code: the six workflows share their checks (outputs, resume,
unused options) and checkpoint layout; each workflow is one function, read top to bottom.

Example::

    from stdp_toolkit.torch_bridge import pipeline as bp
    bp.ann_train("runs/ann.pt", dataset="mnist", arch="mlp", epochs=3, data_dir="../shared/data")
    bp.convert("runs/ann.pt", "runs/snn.pt", timesteps=50, data_dir="../shared/data")
    print(bp.snn_eval("runs/snn.pt", data_dir="../shared/data")["accuracy"])
"""
from __future__ import annotations

import os
import sys
import time
from typing import Callable, Optional, Sequence

import torch

from .. import checkpoint as ckfile
from ..errors import UserError
from ..validation import check_output_dir, check_output_file
from .convert import accuracy_vs_timesteps, ann_activation_thresholds, balance_thresholds
from .data import batches, load_dataset, resolve_dataset_dir
from .models import ARCHITECTURES, MLP, VGG, VGG_CONFIGS, ResNet
from .snn import SpikingNet
from .train import (check_resume, evaluate, file_sha256, fit, load_checkpoint, make_optimizer, model_from_checkpoint,
                    pick_device, rng_state, save_checkpoint, set_rng_state, snn_from_checkpoint, stretch_schedule)

__all__ = ["ann_train", "convert", "hybrid_train", "diet_train", "snn_eval", "export",
           "convert_ann", "hybrid_from_snn", "diet_from_ann", "balance_sample", "load_data"]


# --------------------------------------------------------------------------------------------
# in-memory recipes (the notebook calls these on tensors)
def balance_sample(x_train: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """The ``n`` training images that set thresholds, drawn reproducibly from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return x_train[torch.randperm(len(x_train), generator=g)[:n]]


def convert_ann(ann, x_balance: torch.Tensor, *, timesteps: int = 100, encoding: str = "poisson",
                input_scale: float = 1.0, balance: str = "max", percentile: float = 99.7, scale: float = 0.7,
                balance_steps: int = 100, seed: Optional[int] = None, progress: bool = False):
    """ANN → IF SNN by layer-wise threshold balancing on ``x_balance``; returns (snn, thresholds).

    ``seed`` gives the SNN its own Poisson generator (else torch's global one is drawn from).
    """
    snn = SpikingNet(ann, timesteps=timesteps, encoding=encoding, input_scale=input_scale)
    snn.to(next(ann.parameters()).device)
    if seed is not None:
        snn.generator = torch.Generator().manual_seed(seed)
    th = balance_thresholds(snn, x_balance, balance_steps, balance, percentile, scale, progress=progress)
    return snn, th


def hybrid_from_snn(snn: SpikingNet, x_balance: Optional[torch.Tensor] = None, *, surrogate: str = "stdb",
                    alpha: float = 0.3, beta: float = 0.01, balance_scale: float = 0.7) -> SpikingNet:
    """Ready a converted SNN for STDB fine-tuning at its (reduced) T; re-balances when given images."""
    snn.set_surrogate(surrogate, alpha=alpha, beta=beta)
    if x_balance is not None:
        balance_thresholds(snn, x_balance, snn.timesteps, "max", scale=balance_scale)
    return snn


def diet_from_ann(ann, x_balance: torch.Tensor, *, timesteps: int = 5, percentile: float = 99.7,
                  scale: float = 0.3, leak: float = 1.0, gamma: float = 0.3) -> SpikingNet:
    """DIET-SNN from an ANN: direct input, thresholds = percentile of pre-activations × scale, trainable leak."""
    th = ann_activation_thresholds(ann, x_balance, percentile, scale)
    return SpikingNet(ann, timesteps=timesteps, encoding="direct", thresholds=th, leak=leak, train_threshold=True,
                      train_leak=True, surrogate="linear", gamma=gamma).to(x_balance.device)


# --------------------------------------------------------------------------------------------
# checks shared by the workflows
def _refuse_unused(given: dict, why: str) -> None:
    """Refuse the options in ``given`` (name → value) that are set: they would have no effect."""
    names = [f"{k} (--{k.replace('_', '-')})" for k, v in given.items() if v is not None]
    if names:
        one = len(names) == 1
        raise UserError(f"{', '.join(names)} {'has' if one else 'have'} no effect {why}; drop {'it' if one else 'them'}")


def _or(value, default):
    return default if value is None else value


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _describe(ck: dict) -> str:
    if ck.get("kind") == "ann":
        return "ann-train (ANN)"
    return {"converted": "convert", "hybrid": "hybrid-train", "diet": "diet-train"}.get(ck.get("stage"), "SNN")


def _training_out(out: str, command: str, accepts: Callable[[dict], bool], resume: bool,
                  checkpoint: Optional[str] = None) -> Optional[dict]:
    """Check ``out`` of a training workflow; the checkpoint to continue with ``resume``, else None.

    An existing file is never overwritten without ``resume`` (it may be hours of training).
    """
    check_output_file(out)
    if checkpoint and _same_file(out, checkpoint):
        raise UserError(f"--out {out} is the input --checkpoint; writing it would destroy the input: "
                        "choose another --out")
    if not os.path.exists(out):
        if resume:
            print(f"note: no checkpoint at {out} yet: starting a new run", file=sys.stderr)
        return None
    if not resume:
        raise UserError(f"{out} already exists; add --resume to continue it, or choose another --out "
                        "(delete the file to start over)")
    prev = load_checkpoint(out, hint="start again without --resume")
    if not accepts(prev):
        raise UserError(f"cannot resume {out}: it is a {_describe(prev)} checkpoint, not one that {command} "
                        "writes; choose another --out")
    return prev


def _convert_out(out: str, checkpoint: str) -> None:
    """convert replaces an earlier convert output at ``out`` (reproducible), never anything else."""
    check_output_file(out)
    if _same_file(out, checkpoint):
        raise UserError(f"--out {out} is the input --checkpoint; writing it would destroy the ANN: "
                        "choose another --out")
    if not os.path.exists(out):
        return
    try:
        old = load_checkpoint(out)
    except UserError:
        raise UserError(f"{out} already exists and is not a checkpoint that convert wrote; choose another "
                        "--out (or delete the file)") from None
    if old.get("stage") != "converted":
        raise UserError(f"{out} already exists and holds a {_describe(old)} checkpoint that convert would "
                        "overwrite; choose another --out")


def _setup(device: str, threads: Optional[int], seed: int) -> torch.device:
    dev = pick_device(device)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return dev


def load_data(dataset: str, data_dir: Optional[str], limit_train: Optional[int] = None,
              limit_test: Optional[int] = None, need_train: bool = True) -> dict:
    """``x_train``/``y_train`` (when ``need_train``) and ``x_test``/``y_test`` of a data set, as tensors."""
    data = {}
    if need_train:
        data["x_train"], data["y_train"] = load_dataset(dataset, data_dir, "train", limit_train)
    data["x_test"], data["y_test"] = load_dataset(dataset, data_dir, "test", limit_test)
    return data


def _data_identity(dataset: str, data_dir: Optional[str], data: dict) -> dict:
    """What a resumed run must train and test on: a SHA-256 of the tensors actually used (after the limits)."""
    folder = resolve_dataset_dir(dataset, data_dir)
    return {split: ckfile.data_identity(f"{len(data['y_' + split])} {dataset} {split} samples from {folder}",
                                        data["x_" + split], data["y_" + split]) for split in ("train", "test")}


def _input_identity(path: str) -> dict:
    return {"name": os.path.basename(path), "sha256": file_sha256(path)}


def _restore(prev, model, opt, sched, epochs: int, out: str, device, state_key="model_state"):
    """Load a resumed run's model, optimiser, schedule and RNG; return (start epoch, history)."""
    model.load_state_dict(prev[state_key])
    opt.load_state_dict(prev["optimizer_state"])
    sched.load_state_dict(prev["scheduler_state"])
    target = max(1, epochs)
    if sched.T_max != target:
        print(f"note: {out} was started for {sched.T_max} epoch(s); its cosine learning-rate schedule is "
              f"stretched to end at epoch {target}", file=sys.stderr)
        stretch_schedule(sched, opt, target)
    set_rng_state(prev.get("rng"), device)   # last: the epochs continue from the saved random state
    return prev["epoch"], list(prev["history"])


def _ann_settings(arch: str, width, fc, hidden, dropout, dropout_conv) -> dict:
    """The ANN's settings with defaults filled in; options of another family are refused."""
    if arch not in ARCHITECTURES:
        raise UserError(f"unknown arch {arch!r}: choose one of {', '.join(ARCHITECTURES)}")
    vgg, mlp = arch in VGG_CONFIGS, arch == "mlp"
    if not vgg:
        _refuse_unused(dict(fc=fc, dropout_conv=dropout_conv), f"with --arch {arch} (VGG options)")
    if not mlp:
        _refuse_unused(dict(hidden=hidden), f"with --arch {arch} (an MLP option)")
    else:
        _refuse_unused(dict(width=width), "with --arch mlp (a VGG/ResNet option; size an MLP with --hidden)")
    if vgg:
        return dict(width=_or(width, 0.25), fc=_or(fc, [256]), dropout=_or(dropout, 0.5),
                    dropout_conv=_or(dropout_conv, 0.1))
    if mlp:
        return dict(hidden=_or(hidden, [100]), dropout=_or(dropout, 0.0))
    return dict(width=_or(width, 0.25), dropout=_or(dropout, 0.1))


def _ann(arch: str, channels: int, size: int, s: dict):
    if arch in VGG_CONFIGS:
        return VGG(arch, channels, size, 10, width=s["width"], fc=s["fc"], dropout_conv=s["dropout_conv"],
                   dropout_fc=s["dropout"])
    if arch == "mlp":
        return MLP(channels * size * size, s["hidden"], 10, dropout=s["dropout"], in_channels=channels, image_size=size)
    return ResNet(arch, channels, size, 10, width=s["width"], dropout=s["dropout"])


def _train_settings(dataset, timesteps, optimizer, lr, weight_decay, batch_size, seed, max_batches,
                    limit_train, limit_test, **extra) -> dict:
    return dict(dataset=dataset, timesteps=timesteps, optimizer=optimizer, lr=lr, weight_decay=weight_decay,
                batch_size=batch_size, seed=seed, max_batches=max_batches, limit_train=limit_train,
                limit_test=limit_test, **extra)


# --------------------------------------------------------------------------------------------
# workflows: each returns the metrics dict the CLI prints
def ann_train(out: str, *, dataset: str = "mnist", arch: str = "vgg5", width=None, fc=None, hidden=None,
              dropout=None, dropout_conv=None, epochs: int = 5, batch_size: int = 64, lr: float = 1e-3,
              optimizer: str = "adam", weight_decay: float = 0.0, resume: bool = False, max_batches=None,
              data_dir=None, limit_train=None, limit_test=None, device: str = "auto", threads=None,
              seed: int = 0, progress: bool = True) -> dict:
    """Train a conversion-ready ANN (no bias, average pooling) and checkpoint it after every epoch."""
    settings = _ann_settings(arch, width, fc, hidden, dropout, dropout_conv)
    prev = _training_out(out, "ann-train", lambda ck: ck["kind"] == "ann", resume)
    dev = _setup(device, threads, seed)
    data = load_data(dataset, data_dir, limit_train, limit_test)
    model = _ann(arch, data["x_train"].shape[1], data["x_train"].shape[2], settings)
    settings.update(dataset=dataset, arch=arch, optimizer=optimizer, lr=lr, weight_decay=weight_decay,
                    batch_size=batch_size, seed=seed, max_batches=max_batches, limit_train=limit_train,
                    limit_test=limit_test)
    current = dict(settings=settings, data=_data_identity(dataset, data_dir, data))
    if prev is not None:
        check_resume(out, prev, current, epochs)
    model.to(dev)
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    start, history = _restore(prev, model, opt, sched, epochs, out, dev) if prev is not None else (0, [])
    t_start = time.time() - sum(h["train_seconds"] for h in history)

    def save(epoch, record):
        history.append(record)
        save_checkpoint(out, kind="ann", stage="ann", dataset=dataset, model_config=model.config,
                        model_state=model.state_dict(), optimizer_state=opt.state_dict(),
                        scheduler_state=sched.state_dict(), epoch=epoch, history=history, snn_config=None,
                        resume=current, rng=rng_state(dev), settings=settings)

    fit(model, model, data, epochs=epochs, batch_size=batch_size, optimizer=opt, scheduler=sched, start_epoch=start,
        augment=(dataset == "cifar10"), device=dev, on_epoch_end=save, progress=progress, seed=seed,
        max_batches=max_batches)
    return dict(command="ann-train", dataset=dataset, arch=arch, model_config=model.config,
                parameters=sum(p.numel() for p in model.parameters()),
                test_acc=history[-1]["test_acc"] if history else None, epochs=len(history),
                train_seconds=sum(h["train_seconds"] for h in history), history=history,
                wall_seconds=time.time() - t_start, checkpoint=out)


def convert(checkpoint: str, out: str, *, timesteps: int = 100, curve: Sequence[int] = (10, 25, 50, 75, 100),
            balance: str = "max", percentile=None, scale: float = 0.7, balance_samples: int = 256,
            balance_steps: int = 100, encoding: str = "poisson", input_scale="auto", batch_size: int = 250,
            data_dir=None, limit_train=None, limit_test=None, device: str = "auto", threads=None, seed: int = 0,
            progress: bool = True) -> dict:
    """ANN checkpoint → IF SNN checkpoint by threshold balancing, with accuracy against time steps.

    ``input_scale="auto"`` is the largest ``|pixel|`` of the normalised data (no clipping); 1 is Rathi
    et al.'s encoder ``sign(x)·[rand < |x|]``. An earlier convert output at ``out`` is replaced.
    """
    if balance != "percentile":
        _refuse_unused(dict(percentile=percentile), "with --balance max (add --balance percentile)")
    percentile = _or(percentile, 99.7)
    ck = load_checkpoint(checkpoint)
    if ck["kind"] != "ann":
        raise UserError(f"{checkpoint} is not an ANN checkpoint (it is from {_describe(ck)}); convert takes "
                        "ann-train output")
    _convert_out(out, checkpoint)
    dev = _setup(device, threads, seed)
    ann = model_from_checkpoint(ck).to(dev).eval()
    data = load_data(ck["dataset"], data_dir, limit_train, limit_test)
    t0 = time.time()
    ann_acc = evaluate(ann, data["x_test"], data["y_test"], 500, dev)
    scale_in = max(1.0, float(data["x_train"].abs().max())) if input_scale == "auto" else float(input_scale)
    snn, th = convert_ann(ann, balance_sample(data["x_train"], balance_samples, seed).to(dev), timesteps=timesteps,
                          encoding=encoding, input_scale=scale_in, balance=balance, percentile=percentile,
                          scale=scale, balance_steps=balance_steps, progress=progress)
    t_bal = time.time() - t0
    test = [(xb.to(dev), yb.to(dev)) for xb, yb in batches(data["x_test"], data["y_test"], batch_size)]
    acc = accuracy_vs_timesteps(snn, test, sorted(set(curve) | {timesteps}), progress=progress)
    settings = dict(timesteps=timesteps, curve=list(curve), balance=balance, percentile=percentile, scale=scale,
                    balance_samples=balance_samples, balance_steps=balance_steps, encoding=encoding,
                    input_scale=input_scale, seed=seed, limit_train=limit_train, limit_test=limit_test)
    save_checkpoint(out, kind="snn", stage="converted", dataset=ck["dataset"], model_config=ck["model_config"],
                    model_state=ann.state_dict(), snn_config=snn.snn_config(), epoch=0, history=[],
                    metrics=dict(ann_acc=ann_acc, curve=acc), settings=settings)
    return dict(command="convert", dataset=ck["dataset"], ann_acc=ann_acc, thresholds=th, balance=balance,
                scale=scale, input_scale=scale_in, curve={str(k): v for k, v in acc.items()},
                snn_acc=acc[timesteps], timesteps=timesteps, balance_seconds=t_bal, wall_seconds=time.time() - t0,
                checkpoint=out)


def _snn_training(out, snn, ck, stage, data, dev, metrics, prev, current, *, epochs, batch_size, lr, optimizer,
                  weight_decay, max_batches, seed, progress):
    """Fine-tune an SNN (STDB or DIET), checkpointing after every epoch; returns the history."""
    opt = make_optimizer(optimizer, [p for p in snn.parameters() if p.requires_grad], lr, weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    start, history = _restore(prev, snn, opt, sched, epochs, out, dev, "snn_state") if prev is not None else (0, [])

    def save(epoch, record):
        history.append(record)
        cfg = snn.snn_config() | dict(train_threshold=any(n.threshold.requires_grad for n in snn.neurons),
                                      train_leak=any(n.leak.requires_grad for n in snn.neurons))
        save_checkpoint(out, kind="snn", stage=stage, dataset=ck["dataset"], model_config=ck["model_config"],
                        model_state=snn.ann.state_dict(), snn_state=snn.state_dict(), snn_config=cfg,
                        optimizer_state=opt.state_dict(), scheduler_state=sched.state_dict(), epoch=epoch,
                        history=history, metrics=metrics, resume=current, rng=rng_state(dev),
                        settings=current["settings"])

    fit(snn, snn, data, epochs=epochs, batch_size=batch_size, optimizer=opt, scheduler=sched, start_epoch=start,
        augment=(ck["dataset"] == "cifar10"), device=dev, after_step=snn.clamp_, eval_batch_size=200,
        on_epoch_end=save, progress=progress, seed=seed, history=None, max_batches=max_batches)
    return history


def _initial_accuracy(prev, snn, data, dev, progress):
    """The SNN's test accuracy before fine-tuning (a resumed run keeps the one it measured)."""
    if prev is not None:
        return prev.get("metrics", {}).get("initial_acc")
    snn.eval()  # no dropout while measuring the starting accuracy
    return evaluate(snn, data["x_test"], data["y_test"], 200, dev, progress=progress, desc="initial SNN")


def hybrid_train(checkpoint: str, out: str, *, timesteps: int = 25, surrogate: str = "stdb", alpha=None, beta=None,
                 rebalance: bool = False, balance_scale=None, balance_samples=None, epochs: int = 3,
                 batch_size: int = 64, lr: float = 1e-4, optimizer: str = "adam", weight_decay: float = 5e-4,
                 resume: bool = False, max_batches=None, data_dir=None, limit_train=None, limit_test=None,
                 device: str = "auto", threads=None, seed: int = 0, progress: bool = True) -> dict:
    """Hybrid training: a converted SNN fine-tuned with spike-timing-dependent backprop at reduced T."""
    if surrogate != "stdb":
        _refuse_unused(dict(alpha=alpha, beta=beta), f"with --surrogate {surrogate} (stdb options)")
    if not rebalance:
        _refuse_unused(dict(balance_scale=balance_scale, balance_samples=balance_samples), "without --rebalance")
    alpha, beta = _or(alpha, 0.3), _or(beta, 0.01)
    ck = load_checkpoint(checkpoint)
    if ck["kind"] != "snn":
        raise UserError(f"{checkpoint} holds an ANN, not an SNN: run `stdp-toolkit convert` on it first "
                        "(hybrid-train fine-tunes a converted SNN)")
    prev = _training_out(out, "hybrid-train", lambda c: c.get("stage") == "hybrid", resume, checkpoint)
    dev = _setup(device, threads, seed)
    snn = snn_from_checkpoint(ck, timesteps=timesteps).to(dev)
    data = load_data(ck["dataset"], data_dir, limit_train, limit_test)
    reb = dict(balance_scale=_or(balance_scale, 0.7), balance_samples=_or(balance_samples, 256)) if rebalance else {}
    sur = dict(alpha=alpha, beta=beta) if surrogate == "stdb" else {}
    current = dict(settings=_train_settings(ck["dataset"], timesteps, optimizer, lr, weight_decay, batch_size, seed,
                                            max_batches, limit_train, limit_test, surrogate=surrogate,
                                            rebalance=rebalance, **sur, **reb),
                   data=_data_identity(ck["dataset"], data_dir, data), init=_input_identity(checkpoint))
    t0 = time.time()
    if prev is not None:
        check_resume(out, prev, current, epochs)   # its state is loaded by _snn_training
    x_bal = balance_sample(data["x_train"], reb["balance_samples"], seed).to(dev) if reb and prev is None else None
    hybrid_from_snn(snn, x_bal, surrogate=surrogate, alpha=alpha, beta=beta, balance_scale=reb.get("balance_scale", 0.7))
    init_acc = _initial_accuracy(prev, snn, data, dev, progress)
    history = _snn_training(out, snn, ck, "hybrid", data, dev, dict(initial_acc=init_acc), prev, current,
                            epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                            weight_decay=weight_decay, max_batches=max_batches, seed=seed, progress=progress)
    return dict(command="hybrid-train", dataset=ck["dataset"], timesteps=timesteps, surrogate=surrogate,
                initial_acc=init_acc, test_acc=history[-1]["test_acc"] if history else init_acc,
                epochs=len(history), train_seconds=sum(h["train_seconds"] for h in history),
                thresholds=snn.thresholds(), history=history, wall_seconds=time.time() - t0, checkpoint=out)


def diet_train(checkpoint: str, out: str, *, timesteps: int = 5, percentile=None, scale=None, leak=None,
               gamma: float = 0.3, balance_samples=None, epochs: int = 3, batch_size: int = 64, lr: float = 1e-4,
               optimizer: str = "adam", weight_decay: float = 5e-4, resume: bool = False, max_batches=None,
               data_dir=None, limit_train=None, limit_test=None, device: str = "auto", threads=None, seed: int = 0,
               progress: bool = True) -> dict:
    """DIET-SNN: direct input, trainable leak and threshold, few time steps; from an ANN or an SNN checkpoint."""
    ck = load_checkpoint(checkpoint)
    from_ann = ck["kind"] == "ann"
    if not from_ann:
        _refuse_unused(dict(percentile=percentile, scale=scale, leak=leak, balance_samples=balance_samples),
                       f"when --checkpoint is an SNN (options for a start from an ANN; {checkpoint} keeps its "
                       "thresholds and leaks)")
    prev = _training_out(out, "diet-train", lambda c: c.get("stage") == "diet", resume, checkpoint)
    dev = _setup(device, threads, seed)
    data = load_data(ck["dataset"], data_dir, limit_train, limit_test)
    init = dict(percentile=_or(percentile, 99.7), scale=_or(scale, 0.3), leak=_or(leak, 1.0),
                balance_samples=_or(balance_samples, 512)) if from_ann else {}
    current = dict(settings=_train_settings(ck["dataset"], timesteps, optimizer, lr, weight_decay, batch_size, seed,
                                            max_batches, limit_train, limit_test, gamma=gamma, **init),
                   data=_data_identity(ck["dataset"], data_dir, data), init=_input_identity(checkpoint))
    if prev is not None:
        check_resume(out, prev, current, epochs)
    t0 = time.time()
    if from_ann:
        x_bal = balance_sample(data["x_train"], init["balance_samples"], seed).to(dev)
        snn = diet_from_ann(model_from_checkpoint(ck).to(dev), x_bal, timesteps=timesteps,
                            percentile=init["percentile"], scale=init["scale"], leak=init["leak"], gamma=gamma)
    else:
        snn = snn_from_checkpoint(ck, timesteps=timesteps, encoding="direct").to(dev)
        for n in snn.neurons:
            n.threshold.requires_grad_(True)
            n.leak.requires_grad_(True)
        snn.set_surrogate("linear", gamma=gamma)
    init_acc = _initial_accuracy(prev, snn, data, dev, progress)
    history = _snn_training(out, snn, ck, "diet", data, dev, dict(initial_acc=init_acc), prev, current,
                            epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                            weight_decay=weight_decay, max_batches=max_batches, seed=seed, progress=progress)
    return dict(command="diet-train", dataset=ck["dataset"], timesteps=timesteps, initial_acc=init_acc,
                test_acc=history[-1]["test_acc"] if history else init_acc, epochs=len(history),
                train_seconds=sum(h["train_seconds"] for h in history), thresholds=snn.thresholds(),
                leaks=snn.leaks(), history=history, wall_seconds=time.time() - t0, checkpoint=out)


def _trained_snn(ck: dict, timesteps=None) -> SpikingNet:
    """The SNN of a checkpoint with its trained thresholds and leaks, in eval mode."""
    snn = snn_from_checkpoint(ck, timesteps=timesteps)
    if "snn_state" in ck:
        snn.load_state_dict(ck["snn_state"])
    return snn.eval()


def _snn_checkpoint(path: str, command: str) -> dict:
    ck = load_checkpoint(path)
    if ck["kind"] != "snn":
        raise UserError(f"{command} needs an SNN checkpoint (from convert, hybrid-train or diet-train)")
    return ck


def snn_eval(checkpoint: str, *, timesteps=None, batch_size: int = 200, data_dir=None, limit_test=None,
             device: str = "auto", threads=None, seed: int = 0) -> dict:
    """Accuracy, spike rates, synaptic operations and energy of an SNN checkpoint on the test set."""
    from .metrics import snn_metrics
    ck = _snn_checkpoint(checkpoint, "snn-eval")
    dev = _setup(device, threads, seed)
    data = load_data(ck["dataset"], data_dir, limit_test=limit_test, need_train=False)
    x, y = data["x_test"].to(dev), data["y_test"].to(dev)
    t0 = time.time()
    snn = _trained_snn(ck, timesteps).to(dev)
    ann_acc = evaluate(snn.ann, x, y, 500, dev)
    m = snn_metrics(snn, x, y, batch_size)
    m.update(command="snn-eval", stage=ck.get("stage"), dataset=ck["dataset"], ann_acc_same_weights=ann_acc,
             thresholds=snn.thresholds(), leaks=snn.leaks(), encoding=snn.encoding, wall_seconds=time.time() - t0)
    return m


def export(checkpoint: str, format: str, out: Optional[str] = None, *, samples=None, codegen=None, chunk=None,
           timesteps=None, data_dir=None, limit_test=None, threads=None, seed=None, progress: bool = True) -> dict:
    """Export an SNN checkpoint: ``nir`` writes a NIR graph to ``out``; ``brian2`` builds the Brian2 network,
    runs it on test samples and reports its agreement with PyTorch (raster and JSON in the folder ``out``)."""
    if format not in ("nir", "brian2"):
        raise UserError(f"unknown export format {format!r}: choose nir or brian2")
    if format == "nir":
        # data_dir is accepted (like $STDP_DATA_DIR, it only says where data would be); options that would
        # change a result are refused
        _refuse_unused(dict(samples=samples, codegen=codegen, chunk=chunk, limit_test=limit_test, seed=seed),
                       "with --format nir (brian2 options)")
        if not out:
            raise UserError("--out FILE.nir is required for --format nir")
    ck = _snn_checkpoint(checkpoint, "export")
    if format == "nir":
        check_output_file(out)
    elif out:
        check_output_dir(out)
    seed = _or(seed, 0)
    _setup("cpu", threads, seed)
    snn = _trained_snn(ck, timesteps)
    if format == "nir":
        from .export_nir import to_nir, write_nir
        graph = to_nir(snn)
        write_nir(graph, out)
        return dict(command="export", format="nir", out=out, nodes=sorted(graph.nodes),
                    edges=[list(e) for e in graph.edges])
    from .export_brian2 import compare_with_brian2
    data = load_data(ck["dataset"], data_dir, limit_test=limit_test, need_train=False)
    n = min(_or(samples, 200), len(data["y_test"]))
    chunk = chunk or (50 if ck["model_config"]["family"] == "mlp" else 4)
    if out:
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create --out {out}: {exc.strerror}; choose another --out") from None
    res = compare_with_brian2(snn, data["x_test"][:n], data["y_test"][:n], codegen=codegen or "numpy", chunk=chunk,
                              seed=seed, progress=progress, raster_path=os.path.join(out, "raster.png") if out else None)
    if out:
        ckfile.write_json(os.path.join(out, "agreement.json"), res)
    return dict(command="export", format="brian2") | res
