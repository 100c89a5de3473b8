"""Training and evaluation of the sequence models on N-MNIST, SST-2 and the synthetic recall task.

One loop for all: Adam (lr 1e-3 as in the authors' draft), cross-entropy, gradient clipping, leak
clamped to [0, 1] after each step; a checkpoint (model, optimiser, schedule, epoch, history, config,
data identity and random states; atomic and checksummed) after every epoch, so ``--resume`` continues an
interrupted run exactly where it stopped, and refuses one made with other settings or data; an existing
checkpoint is never overwritten without ``--resume``; the epoch with the best validation accuracy is
kept for the final test (SST-2: dev split; N-MNIST has no validation split, so the last epoch is used;
synthetic: a separate validation draw).

Why one module of ~360 lines of code: the three tasks share the loop, the checkpoint and its resume
checks; their data loading is the part that differs, and it is kept short here (the readers are in
:mod:`stdp_toolkit.lite.events`, :mod:`stdp_toolkit.lite.text` and :mod:`stdp_toolkit.lite.synthetic`).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from .. import checkpoint
from ..datasets import paths
from ..errors import UserError
from ..torch_bridge.train import rng_state, set_rng_state, stretch_schedule
from .metrics import count_params, energy_report
from .models import MODEL_KEYWORDS, MODEL_NAMES, SPIKING, SeqSpec, build_model, check_model_keywords, count_ops

TASKS = ("nmnist", "sst2", "recall")
CHECKPOINT_KIND = "lite-snn"
MAX_THREADS = 1024
MAX_SEED = 2**63 - 1
RECALL_MIN_LENGTH = 11      # make_recall: cue_steps + recall_steps + 1
# TrainConfig fields that do not change what is trained: they may differ when a run is resumed.
# ``epochs`` may be raised (or lowered to no fewer than the epochs already trained); ``data_dir`` may
# move, because the data themselves are compared (their SHA-256) instead of their folder; ``threads`` may
# change, though more threads can change the last bits of float sums (same threads: bit-identical).
OPERATIONAL = ("data_dir", "out", "epochs", "threads", "resume", "max_minutes", "log_every")


@dataclass
class TrainConfig:
    task: str
    model: str
    data_dir: Optional[str] = None
    out: str = "runs/lite"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    schedule: str = "cosine"   # cosine | none
    weight_decay: float = 0.0
    seed: int = 0
    threads: int = 1
    # data sizes
    train_limit: Optional[int] = None
    eval_limit: Optional[int] = None
    n_bins: int = 10           # nmnist frames
    shift: int = 2             # nmnist: random translation (pixels) during training
    max_len: int = 48          # sst2 words
    min_freq: int = 1          # sst2 vocabulary
    steps_per_item: int = 0    # 0 = task default (sst2: 5, others: 1)
    length: int = 100          # recall task
    n_train: int = 2000        # recall task
    n_val: int = 500
    # model sizes
    hidden: int = 64
    channels: int = 48
    embed_dim: int = 100
    dropout: float = 0.0
    embed_dropout: float = 0.0
    kernel: int = 3            # LITE / CNN temporal kernel
    resume: bool = False
    max_minutes: Optional[float] = None
    log_every: int = 0          # log every N training batches (0 = per epoch only)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Every value checked here, before any work: one line naming the option and what it must be."""
        from .. import validation as v

        if self.task not in TASKS:
            raise UserError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.model not in MODEL_NAMES:
            raise UserError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        if self.schedule not in ("cosine", "none"):
            raise UserError(f"--schedule must be 'cosine' or 'none', not {self.schedule!r}")
        for name in ("epochs", "batch_size", "n_bins", "max_len", "length", "n_train", "n_val", "hidden",
                     "channels", "embed_dim", "kernel", "min_freq"):
            setattr(self, name, v.integer(_opt(name), getattr(self, name), low=1, what="option"))
        for name in ("train_limit", "eval_limit"):
            if getattr(self, name) is not None:
                setattr(self, name, v.integer(_opt(name), getattr(self, name), low=1, what="option",
                                              fix="leave it out to use all items"))
        for name in ("steps_per_item", "shift", "log_every"):
            setattr(self, name, v.integer(_opt(name), getattr(self, name), low=0, what="option"))
        self.threads = v.integer("--threads", self.threads, low=1, high=MAX_THREADS, what="option")
        self.seed = v.integer("--seed", self.seed, low=0, high=MAX_SEED, what="option")
        self.lr = v.number("--lr", self.lr, low=0.0, low_open=True, what="option")
        self.weight_decay = v.number("--weight-decay", self.weight_decay, low=0.0, what="option")
        for name in ("dropout", "embed_dropout"):
            setattr(self, name, v.number(_opt(name), getattr(self, name), low=0.0, high=1.0, high_open=True,
                                         what="option", kind="a probability"))
        if self.max_minutes is not None:
            self.max_minutes = v.number("--max-minutes", self.max_minutes, low=0.0, low_open=True, what="option",
                                        fix="leave it out to train all --epochs")
        if self.task == "recall" and self.length < RECALL_MIN_LENGTH:
            raise UserError(f"option --length must be >= {RECALL_MIN_LENGTH} for the recall task (5 cue steps, "
                            f"5 recall steps and at least one step between), got {self.length}")
        if not isinstance(self.extra, dict):
            raise UserError(f"extra must be a dict of model options, got {type(self.extra).__name__}")
        check_model_keywords(self.model, self.extra)
        if not isinstance(self.resume, bool):
            raise UserError(f"resume must be True or False, got {self.resume!r}")


def _opt(name: str) -> str:
    return "--" + name.replace("_", "-")


# ---------------------------------------------------------------------------------------------
# data
@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor
    lengths: Optional[torch.Tensor] = None


def load_task(cfg: TrainConfig):
    """Return ``(spec, {"train","val","test"} -> Split or None, info dict)``."""
    if cfg.task == "nmnist":
        from .events import load_nmnist

        tr = load_nmnist(cfg.data_dir, "train", cfg.n_bins, cfg.train_limit)
        te = load_nmnist(cfg.data_dir, "test", cfg.n_bins, cfg.eval_limit)
        spec = SeqSpec("frames", 10, steps_per_item=cfg.steps_per_item or 1)
        splits = {"train": Split(torch.from_numpy(tr.frames), torch.from_numpy(tr.labels)), "val": None,
                  "test": Split(torch.from_numpy(te.frames), torch.from_numpy(te.labels))}
        info = {"n_train": len(tr.labels), "n_test": len(te.labels), "n_bins": cfg.n_bins,
                "mean_events_per_sample": float(tr.n_events.mean())}
        return spec, splits, info
    if cfg.task == "sst2":
        from .text import load_sst2

        vocab, sp = load_sst2(cfg.data_dir, cfg.max_len, cfg.min_freq, cfg.train_limit, cfg.eval_limit, cfg.seed)
        spec = SeqSpec("tokens", 2, vocab_size=len(vocab), embed_dim=cfg.embed_dim,
                       steps_per_item=cfg.steps_per_item or 5, embed_dropout=cfg.embed_dropout)

        def mk(s):
            return Split(torch.from_numpy(s.ids), torch.from_numpy(s.labels), torch.from_numpy(s.lengths))

        splits = {"train": mk(sp["train"]), "val": mk(sp["dev"]), "test": mk(sp["test"])}
        info = {"vocab_size": len(vocab), "n_train": len(sp["train"].labels), "n_dev": len(sp["dev"].labels),
                "n_test": len(sp["test"].labels), "vocab": vocab.itos,
                "mean_words_test": float(sp["test"].lengths.mean())}
        return spec, splits, info
    from .synthetic import make_recall

    n_eval = cfg.eval_limit or 1000
    mk = lambda n, seed: Split(*(torch.from_numpy(a) for a in make_recall(n, cfg.length, seed=seed)))  # noqa: E731
    spec = SeqSpec("vectors", 4, in_dim=17, steps_per_item=cfg.steps_per_item or 1, readout="last", recall_steps=5)
    splits = {"train": mk(cfg.n_train, cfg.seed * 3 + 1), "val": mk(cfg.n_val, cfg.seed * 3 + 2),
              "test": mk(n_eval, cfg.seed * 3 + 3)}
    return spec, splits, {"length": cfg.length, "n_train": cfg.n_train, "chance": 0.25}


def _batches(split: Split, batch_size: int, shuffle: bool, rng: np.random.Generator):
    n = len(split.y)
    if split.lengths is not None:  # bucket by length: sort, cut into batches, shuffle the batches
        order = np.argsort(split.lengths.numpy() + (rng.random(n) if shuffle else 0), kind="stable")
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
    chunks = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if shuffle:
        rng.shuffle(chunks)
    for idx in chunks:
        idx = torch.from_numpy(np.asarray(idx))
        x, y = split.x[idx], split.y[idx]
        lengths = None
        if split.lengths is not None:
            lengths = split.lengths[idx]
            x = x[:, : int(lengths.max())]
        yield x, y, lengths


def _augment_frames(x: torch.Tensor, shift: int, rng: np.random.Generator) -> torch.Tensor:
    if shift <= 0:
        return x
    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        dy, dx = (int(v) for v in rng.integers(-shift, shift + 1, 2))
        out[i] = torch.roll(x[i], shifts=(dy, dx), dims=(-2, -1))
    return out


@torch.no_grad()
def evaluate(model, split: Split, batch_size: int = 64, count: bool = True) -> dict:
    model.eval()
    rng = np.random.default_rng(0)
    correct, n, loss = 0, 0, 0.0
    ctx = count_ops(model) if count else None
    counter = ctx.__enter__() if ctx else None
    try:
        for x, y, lengths in _batches(split, batch_size, False, rng):
            logits = model(x, lengths)
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            n += len(y)
    finally:
        if ctx:
            ctx.__exit__(None, None, None)
    out = {"accuracy": correct / max(n, 1), "loss": loss / max(n, 1), "n": n}
    if counter is not None:
        out.update(energy_report(counter))
    return out


def model_kwargs(cfg: TrainConfig) -> dict:
    """The sizes that ``cfg.model`` takes (``hidden`` for vanilla/LSTM/GRU, ``channels``/``kernel`` for LITE/CNN),
    then ``cfg.extra``."""
    sizes = {"hidden": cfg.hidden, "channels": cfg.channels, "kernel": cfg.kernel, "dropout": cfg.dropout}
    return {k: v for k, v in sizes.items() if k in MODEL_KEYWORDS[cfg.model]} | cfg.extra


def checkpoint_path(cfg: TrainConfig) -> Path:
    tag = f"{cfg.task}_{cfg.model}" + (f"_L{cfg.length}" if cfg.task == "recall" else "")
    return Path(cfg.out) / f"{tag}.pt"


def check_output(cfg: TrainConfig) -> Path:
    """Make sure ``--out`` can take the checkpoint and the result file; return the checkpoint path.

    Run before any work: ``--out`` is (or can be created as) a writable folder, not a file and not
    under a file, and neither ``<tag>.pt`` nor ``<tag>.json`` in it is a folder. Creates ``--out``.
    """
    from ..validation import check_output_dir

    out = Path(check_output_dir(str(cfg.out), "--out"))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out {out}: {exc.strerror}; choose another --out") from None
    ckpt = checkpoint_path(cfg)
    for path in (ckpt, ckpt.with_suffix(".json")):
        if path.is_dir():
            raise UserError(f"{path} is a folder, but the run writes a file there; move it away or choose "
                            "another --out")
    return ckpt


def _show(value) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def resume_mismatch(saved: dict, cfg: TrainConfig) -> list[str]:
    """The settings that differ between a checkpoint's config and ``cfg`` ("lr: 0.001 -> 0.01")."""
    new = asdict(cfg)
    keys = [k for k in new if k not in OPERATIONAL] + sorted(k for k in saved if k not in new and k not in OPERATIONAL)
    return [f"{k.replace('_', '-')}: {_show(saved.get(k))} -> {_show(new.get(k))}"
            for k in keys if saved.get(k) != new.get(k)]


def preflight(cfg: TrainConfig) -> Optional[dict]:
    """All checks that need no data: output paths, an existing checkpoint. Returns its contents to resume.

    Without ``resume`` an existing checkpoint is refused (it is never overwritten); with it, the
    checkpoint is loaded (checksum verified) and every setting that shapes the result must match.
    """
    ckpt = check_output(cfg)
    if not ckpt.exists():
        return None
    if not cfg.resume:
        raise UserError(f"{ckpt} holds a trained model; add --resume to continue it or choose another --out")
    state = checkpoint.load_torch(str(ckpt), CHECKPOINT_KIND, hint="train again")
    try:
        saved, done = state["config"], int(state["epoch"]) + 1
        if not isinstance(saved, dict):
            raise TypeError("config")
    except (KeyError, TypeError, ValueError):
        raise UserError(f"checkpoint {ckpt} lacks its config or epoch; delete it and train again") from None
    diff = resume_mismatch(saved, cfg)
    if diff:
        raise UserError(f"cannot resume {ckpt}: it was trained with other settings ({'; '.join(diff)}); "
                        "use the same settings to resume, or choose another --out for a new run")
    if cfg.epochs < done:
        raise UserError(f"cannot resume {ckpt}: it has already trained {done} epochs, more than --epochs "
                        f"{cfg.epochs}; give --epochs {done} or more")
    return state


def _data_identity(cfg: TrainConfig, splits: dict) -> dict:
    """SHA-256 over the data that shape the weights: the training split (after limits) and the validation split."""
    arrays = []
    for name in ("train", "val"):
        s = splits.get(name)
        if s is not None:
            arrays += [t.numpy() for t in (s.x, s.y, s.lengths) if t is not None]
    where = "synthetic" if cfg.task == "recall" else paths.data_dir(cfg.data_dir) or "?"
    ident = checkpoint.data_identity(f"{cfg.task} ({where})", *arrays)
    ident["n_train"] = int(len(splits["train"].y))
    return ident


def _rng_state(rng: np.random.Generator) -> dict:
    """Every random state that training draws from: numpy (shuffling, augmentation), torch (dropout)."""
    return {"numpy": rng.bit_generator.state, **rng_state(torch.device("cpu"))}


def _set_rng_state(rng: np.random.Generator, state: dict) -> None:
    rng.bit_generator.state = state["numpy"]
    set_rng_state(state, torch.device("cpu"))


def _build(cfg: TrainConfig, spec):
    try:
        return build_model(cfg.model, spec, **model_kwargs(cfg))
    except (MemoryError, RuntimeError) as exc:
        if "alloc" not in str(exc) and not isinstance(exc, MemoryError):
            raise
        raise UserError(f"the {cfg.model} model does not fit in memory; use smaller --hidden / --channels") from None


def _restore(state: dict, model, opt, sched, rng, cfg: TrainConfig, ckpt, log):
    """Load a checkpoint's model, optimiser, schedule and random state; (start epoch, history, best, seconds)."""
    try:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None:
            sched.load_state_dict(state["scheduler"])
        start_epoch, history, best = state["epoch"] + 1, state["history"], state["best"]
        train_seconds = float(state.get("train_seconds", 0.0))
        _set_rng_state(rng, state["rng"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UserError(f"checkpoint {ckpt} does not fit this model ({exc.__class__.__name__}); "
                        "delete it and train again, or choose another --out") from None
    if sched is not None and sched.T_max != cfg.epochs:
        log(f"--epochs {sched.T_max} -> {cfg.epochs}: the cosine learning-rate schedule continues as if planned "
            f"for {cfg.epochs} epochs")
        stretch_schedule(sched, opt, cfg.epochs)
    log(f"resumed {ckpt} at epoch {start_epoch}" + ("" if start_epoch < cfg.epochs else
                                                     f": all {cfg.epochs} epochs were trained, evaluating"))
    return start_epoch, history, best, train_seconds


def _train_epoch(model, opt, split, cfg: TrainConfig, rng, epoch: int, log) -> dict:
    """One pass over the training split; its history record (a diverged loss stops the run)."""
    model.train()
    t0 = time.time()
    tot, correct, n = 0.0, 0, 0
    for step, (x, y, lengths) in enumerate(_batches(split, cfg.batch_size, True, rng), 1):
        if cfg.task == "nmnist":
            x = _augment_frames(x, cfg.shift, rng)
        logits = model(x, lengths)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.clamp_()
        tot += float(loss.detach()) * len(y)
        correct += int((logits.argmax(1) == y).sum())
        n += len(y)
        if cfg.log_every and step % cfg.log_every == 0:
            log(f"  epoch {epoch} batch {step}: loss {tot / n:.4f} acc {correct / n:.3f} ({time.time() - t0:.0f} s)")
    if not math.isfinite(tot):   # never checkpoint (or report) a model whose weights went to NaN/inf
        raise UserError(f"training diverged in epoch {epoch}: the loss became {tot / n}; lower --lr and train "
                        "again with another --out (the checkpoint keeps the last good epoch)")
    return {"epoch": epoch, "train_loss": tot / n, "train_accuracy": correct / n, "seconds": time.time() - t0}


def train(cfg: TrainConfig, log=print) -> dict:
    """Train, checkpoint every epoch, evaluate; write ``<out>/<task>_<model>.json``; return the metrics.

    Checkpoints (atomic, checksummed) hold the model, optimiser, schedule, history, config, the
    training data's identity and every random state: an interrupted run (Ctrl-C, ``--max-minutes``)
    resumed with the same settings ends bit for bit where an uninterrupted one does. ``resume``
    refuses other settings or data; a larger ``epochs`` on resume continues the cosine schedule as if
    planned that long (bit-identical to such a run only with ``schedule="none"``).
    """
    state = preflight(cfg)
    ckpt = checkpoint_path(cfg)
    if cfg.resume and state is None:
        log(f"no checkpoint at {ckpt} yet: starting a new run")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    spec, splits, info = load_task(cfg)
    data_id = _data_identity(cfg, splits)
    if state is not None and (state.get("data") or {}).get("sha256") != data_id["sha256"]:
        old = state.get("data") or {}
        raise UserError(f"cannot resume {ckpt}: it was trained on other data ({old.get('name')}, "
                        f"{old.get('n_train')} training items; now {data_id['name']}, {data_id['n_train']}); "
                        "use the data it was trained on, or choose another --out for a new run")
    model = _build(cfg, spec)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # recall task: how much gradient reaches the cue (first 5 steps), before training (kept on resume) and after
    probe = (splits["val"].x[:128], splits["val"].y[:128]) if cfg.task == "recall" else None
    grad_probe = dict((state or {}).get("grad_probe") or {})
    if probe is not None and not grad_probe:
        grad_probe["grad_early_ratio_init"], grad_probe["grad_early_abs_init"] = early_step_gradient(model, *probe)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
             if cfg.schedule == "cosine" else None)
    start_epoch, history, best = 0, [], {"val_accuracy": -1.0, "epoch": -1, "state": None}
    train_seconds = 0.0
    if state is not None:
        start_epoch, history, best, train_seconds = _restore(state, model, opt, sched, rng, cfg, ckpt, log)
    deadline = time.time() + 60 * cfg.max_minutes if cfg.max_minutes else None
    for epoch in range(start_epoch, cfg.epochs):
        rec = _train_epoch(model, opt, splits["train"], cfg, rng, epoch, log)
        if sched is not None:
            sched.step()
        train_seconds += rec["seconds"]
        if splits["val"] is not None:
            rec["val_accuracy"] = evaluate(model, splits["val"], count=False)["accuracy"]
            if rec["val_accuracy"] > best["val_accuracy"]:   # the model selected on the validation split
                best = {"val_accuracy": rec["val_accuracy"], "epoch": epoch,
                        "state": {k: v.clone() for k, v in model.state_dict().items()}}
        history.append(rec)
        run = dict(config=asdict(cfg), spec=asdict(spec), vocab=info.get("vocab"), data=data_id, grad_probe=grad_probe)
        checkpoint.save_torch(str(ckpt), {
            "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "history": history,
            "scheduler": sched.state_dict() if sched is not None else None, "best": best,
            "train_seconds": train_seconds, "rng": _rng_state(rng), **run}, kind=CHECKPOINT_KIND)
        log(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rec.items()}))
        if deadline and time.time() > deadline and epoch + 1 < cfg.epochs:
            log(f"stopping after epoch {epoch}: --max-minutes {cfg.max_minutes} reached; add --resume to continue")
            break
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    test = evaluate(model, splits["test"])
    if probe is not None:
        grad_probe["grad_early_ratio_trained"], grad_probe["grad_early_abs_trained"] = early_step_gradient(model, *probe)
    result = _result(cfg, model, test, best, history, train_seconds, info, data_id, ckpt, grad_probe)
    checkpoint.write_json(str(ckpt.with_suffix(".json")), result)
    return result


def _result(cfg, model, test, best, history, train_seconds, info, data_id, ckpt, grad_probe) -> dict:
    """The run's metrics (what ``<task>_<model>.json`` holds)."""
    return {
        "task": cfg.task, "model": cfg.model, "spiking": cfg.model in SPIKING,
        "test_accuracy": test["accuracy"], "selected_epoch": best["epoch"] if best["state"] is not None else len(history) - 1,
        "val_accuracy": best["val_accuracy"] if best["state"] is not None else None,
        "epochs_run": len(history), "epochs_planned": cfg.epochs, "train_seconds": train_seconds,
        **count_params(model), **{k: v for k, v in test.items() if k not in ("accuracy",)},
        "leaks": [float(m.leak.detach()) for m in model.modules() if type(m).__name__ == "LIF"],
        "thresholds": [float(m.threshold.detach()) for m in model.modules() if type(m).__name__ == "LIF"],
        "config": asdict(cfg), "data": {k: v for k, v in info.items() if k != "vocab"}, "data_identity": data_id,
        "history": history, "checkpoint": str(ckpt), "torch_threads": cfg.threads, **grad_probe,
    }


def early_step_gradient(model, x: torch.Tensor, y: torch.Tensor, early: int = 5) -> tuple[float, float]:
    """How much gradient reaches the first ``early`` input steps (the cue of the recall task).

    Returns ``(ratio, absolute)``: mean ``|dLoss/dx|`` over the first ``early`` steps divided by its mean over all
    steps, and that early mean itself. Vector inputs ``(B, S, D)`` only.
    """
    model.train()
    x = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (g,) = torch.autograd.grad(loss, x)
    g = g.abs().mean(dim=(0, 2))
    return float(g[:early].mean() / g.mean().clamp(min=1e-30)), float(g[:early].mean())


__all__ = ["TrainConfig", "train", "evaluate", "load_task", "early_step_gradient", "checkpoint_path", "check_output",
           "preflight", "resume_mismatch", "TASKS", "OPERATIONAL", "CHECKPOINT_KIND"]
