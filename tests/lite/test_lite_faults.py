"""Nothing silently wrong in lite-train / lite-seqlen / lite-report: checkpoints, resume, outputs, values.

Every user mistake is exit 2 and one line on stderr; a resumed run equals an uninterrupted one bit for bit.
Tiny delayed-recall runs (length 12, 32 sequences, 8 channels) keep each test around a second.
"""
import errno
import json
import math
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from stdp_toolkit import checkpoint  # noqa: E402
from stdp_toolkit.cli import main  # noqa: E402
from stdp_toolkit.errors import UserError  # noqa: E402
from stdp_toolkit.lite import synthetic  # noqa: E402
from stdp_toolkit.lite import train as train_mod  # noqa: E402
from stdp_toolkit.lite.train import TrainConfig, train  # noqa: E402

TINY = ["lite-train", "--task", "recall", "--model", "lite", "--length", "12", "--n-train", "32", "--eval-limit", "16",
        "--channels", "8", "--batch-size", "8", "--dropout", "0.3"]
CKPT = "recall_lite_L12.pt"


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _user_error(capsys, argv, *words):
    """Exit 2, exactly one line on stderr containing every word, no traceback."""
    code, _, err = _run(capsys, argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


def _tiny_cfg(out, **kw):
    base = dict(task="recall", model="lite", length=12, n_train=32, n_val=16, eval_limit=16, channels=8,
                batch_size=8, dropout=0.3, out=str(out))
    base.update(kw)
    return TrainConfig(**base)


def _assert_same_run(a, b):
    """Two final checkpoints hold the same weights, optimiser state, best epoch and random states."""
    sa, sb = (checkpoint.load_torch(str(p), "lite-snn") for p in (a, b))
    assert sa["epoch"] == sb["epoch"]
    assert sa["model"].keys() == sb["model"].keys()
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k
    for pid, st in sa["optimizer"]["state"].items():
        for k, v in st.items():
            assert torch.equal(v, sb["optimizer"]["state"][pid][k]), (pid, k)
    assert sa["optimizer"]["param_groups"][0]["lr"] == sb["optimizer"]["param_groups"][0]["lr"]
    assert sa["best"]["epoch"] == sb["best"]["epoch"] and sa["best"]["val_accuracy"] == sb["best"]["val_accuracy"]
    for k in sa["best"]["state"]:
        assert torch.equal(sa["best"]["state"][k], sb["best"]["state"][k]), k
    assert sa["rng"]["numpy"] == sb["rng"]["numpy"]
    assert torch.equal(sa["rng"]["torch"], sb["rng"]["torch"])
    assert [h["train_loss"] for h in sa["history"]] == [h["train_loss"] for h in sb["history"]]


# ------------------------------------------------------------------------------------------------
# resume is bit-identical
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Three epochs in one go (the CLI's cosine schedule, dropout on)."""
    out = tmp_path_factory.mktemp("ref")
    assert main(TINY + ["--epochs", "3", "--out", str(out)]) == 0
    return out


def test_interrupted_then_resumed_is_bit_identical(reference, tmp_path, capsys, monkeypatch):
    real = checkpoint.save_torch

    def save_then_interrupt(path, obj, kind):
        real(path, obj, kind)
        if obj["epoch"] == 1:   # Ctrl-C right after the second epoch's checkpoint
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save_torch", save_then_interrupt)
    code, _, err = _run(capsys, TINY + ["--epochs", "3", "--out", str(tmp_path)])
    assert code == 130 and "--resume" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "recall_lite_L12.json").exists()
    monkeypatch.setattr(checkpoint, "save_torch", real)
    code, out, _ = _run(capsys, TINY + ["--epochs", "3", "--out", str(tmp_path), "--resume"])
    assert code == 0 and "resumed" in out and "at epoch 2" in out
    _assert_same_run(reference / CKPT, tmp_path / CKPT)
    ra, rb = (json.loads((d / "recall_lite_L12.json").read_text()) for d in (reference, tmp_path))
    assert ra["test_accuracy"] == rb["test_accuracy"] and ra["grad_early_ratio_init"] == rb["grad_early_ratio_init"]
    assert ra["grad_early_ratio_trained"] == rb["grad_early_ratio_trained"]


def test_max_minutes_stop_leaves_a_resumable_checkpoint(reference, tmp_path, capsys):
    code, out, _ = _run(capsys, TINY + ["--epochs", "3", "--out", str(tmp_path), "--max-minutes", "1e-9"])
    assert code == 0 and "1 of 3 epochs" in out and "--resume" in out
    r = json.loads((tmp_path / "recall_lite_L12.json").read_text())
    assert r["epochs_run"] == 1 and r["epochs_planned"] == 3
    assert main(TINY + ["--epochs", "3", "--out", str(tmp_path), "--resume"]) == 0
    _assert_same_run(reference / CKPT, tmp_path / CKPT)


def test_extending_epochs_equals_one_go_without_schedule(tmp_path):
    quiet = dict(log=lambda s: None)
    train(_tiny_cfg(tmp_path / "a", epochs=3, schedule="none"), **quiet)
    train(_tiny_cfg(tmp_path / "b", epochs=2, schedule="none"), **quiet)
    r = train(_tiny_cfg(tmp_path / "b", epochs=3, schedule="none", resume=True), **quiet)
    assert r["epochs_run"] == 3
    _assert_same_run(tmp_path / "a" / CKPT, tmp_path / "b" / CKPT)


def test_extending_epochs_stretches_the_cosine_schedule(tmp_path):
    logs = []
    train(_tiny_cfg(tmp_path, epochs=2), log=logs.append)
    train(_tiny_cfg(tmp_path, epochs=4, resume=True), log=logs.append)
    assert any("cosine" in s and "4 epochs" in s for s in logs), logs
    st = checkpoint.load_torch(str(tmp_path / CKPT), "lite-snn")
    lr = st["optimizer"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(1e-3 * (1 + math.cos(math.pi * 4 / 4)) / 2, abs=1e-12)   # end of a 4-epoch cosine
    assert math.isclose(st["optimizer"]["param_groups"][0]["initial_lr"], 1e-3)


def test_resume_with_nothing_left_only_evaluates(reference, tmp_path, capsys):
    import shutil

    shutil.copy(reference / CKPT, tmp_path / CKPT)
    before = (tmp_path / CKPT).read_bytes()
    code, out, _ = _run(capsys, TINY + ["--epochs", "3", "--out", str(tmp_path), "--resume"])
    assert code == 0 and "all 3 epochs were trained" in out
    assert (tmp_path / CKPT).read_bytes() == before


# ------------------------------------------------------------------------------------------------
# resume refuses other settings and other data; no silent overwrite
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, shown", [
    (["--lr", "0.01"], "lr: 0.001 -> 0.01"),
    (["--seed", "5"], "seed: 0 -> 5"),
    (["--dropout", "0.1"], "dropout: 0.3 -> 0.1"),
    (["--batch-size", "4"], "batch-size: 8 -> 4"),
    (["--eval-limit", "8"], "eval-limit: 16 -> 8"),
])
def test_resume_refuses_changed_settings(reference, tmp_path, capsys, change, shown):
    import shutil

    shutil.copy(reference / CKPT, tmp_path / CKPT)
    argv = TINY + ["--epochs", "3", "--out", str(tmp_path), "--resume"]
    for i in range(0, len(change), 2):
        if change[i] in argv:
            j = argv.index(change[i])
            argv = argv[:j] + argv[j + 2:]
    _user_error(capsys, argv + change, "cannot resume", shown, "another --out")


def test_resume_refuses_other_data(tmp_path, monkeypatch):
    train(_tiny_cfg(tmp_path, epochs=1), log=lambda s: None)
    real = synthetic.make_recall

    def other(n, length, seed=0, **kw):
        x, y = real(n, length, seed=seed, **kw)
        return x, (y + 1) % 4   # same sizes, other content

    monkeypatch.setattr(synthetic, "make_recall", other)
    with pytest.raises(UserError, match="trained on other data"):
        train(_tiny_cfg(tmp_path, epochs=2, resume=True), log=lambda s: None)


def test_resume_refuses_fewer_epochs_than_trained(reference, tmp_path, capsys):
    import shutil

    shutil.copy(reference / CKPT, tmp_path / CKPT)
    _user_error(capsys, TINY + ["--epochs", "2", "--out", str(tmp_path), "--resume"], "already trained 3 epochs",
                "--epochs 3 or more")


def test_no_overwrite_without_resume(reference, tmp_path, capsys):
    import shutil

    shutil.copy(reference / CKPT, tmp_path / CKPT)
    before = (tmp_path / CKPT).read_bytes()
    _user_error(capsys, TINY + ["--epochs", "3", "--out", str(tmp_path)],
                "holds a trained model; add --resume to continue it or choose another --out")
    assert (tmp_path / CKPT).read_bytes() == before


def test_seqlen_checks_every_run_before_training(tmp_path, capsys):
    args = ["lite-seqlen", "--lengths", "12", "--n-train", "16", "--eval-limit", "8", "--epochs", "1",
            "--channels", "8", "--out", str(tmp_path)]
    assert main(args + ["--models", "lite"]) == 0
    capsys.readouterr()
    both = args + ["--models", "vanilla,lite", "--hidden", "8"]   # --hidden: vanilla's size, not lite's
    _user_error(capsys, both, "recall_lite_L12.pt holds a trained model")
    assert not (tmp_path / "recall_vanilla_L12.pt").exists()   # refused before the first run trained
    assert main(both + ["--resume"]) == 0
    assert (tmp_path / "recall_vanilla_L12.pt").exists()


# ------------------------------------------------------------------------------------------------
# damaged checkpoints
# ------------------------------------------------------------------------------------------------
def test_byte_flips_are_caught_or_harmless(reference, tmp_path):
    good = (reference / CKPT).read_bytes()
    orig = checkpoint.load_torch(str(reference / CKPT), "lite-snn")
    path = tmp_path / CKPT
    n = len(good)
    positions = sorted({int(i * (n - 1) / 47) for i in range(48)} | {0, 1, n // 2, n - 2, n - 1})
    caught = 0
    for pos in positions:
        bad = bytearray(good)
        bad[pos] ^= 0xFF
        path.write_bytes(bytes(bad))
        try:
            got = checkpoint.load_torch(str(path), "lite-snn")
        except UserError as exc:
            assert "\n" not in str(exc)
            caught += 1
            continue
        for k in orig["model"]:   # a flip in padding: loads, and loads exactly the same
            assert torch.equal(orig["model"][k], got["model"][k]), (pos, k)
        assert got["epoch"] == orig["epoch"] and got["rng"]["numpy"] == orig["rng"]["numpy"]
    assert caught > len(positions) // 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "plain-torch", "other-kind"])
def test_damaged_checkpoint_resume_is_one_line(reference, tmp_path, capsys, damage):
    good = (reference / CKPT).read_bytes()
    path = tmp_path / CKPT
    if damage == "flip":
        bad = bytearray(good)
        bad[len(good) // 2] ^= 0x01
        path.write_bytes(bytes(bad))
    elif damage == "truncate":
        path.write_bytes(good[: len(good) // 3])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "plain-torch":   # what earlier versions wrote: a bare torch.save, never unpickled unchecked
        torch.save({"model": {}, "epoch": 0}, path)
    else:
        checkpoint.save_torch(str(path), {"epoch": 0}, kind="torch-bridge")
    _user_error(capsys, TINY + ["--epochs", "3", "--out", str(tmp_path), "--resume"], str(path))


# ------------------------------------------------------------------------------------------------
# output paths
# ------------------------------------------------------------------------------------------------
def test_out_is_a_file(tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("x")
    _user_error(capsys, TINY + ["--epochs", "1", "--out", str(f)], "is a file, not a folder")
    _user_error(capsys, TINY + ["--epochs", "1", "--out", str(f / "sub" / "dir")], "is a file, not a folder")
    assert f.read_text() == "x"


def test_checkpoint_path_is_a_folder(tmp_path, capsys):
    (tmp_path / CKPT).mkdir()
    _user_error(capsys, TINY + ["--epochs", "1", "--out", str(tmp_path)], "is a folder")
    (tmp_path / CKPT).rmdir()
    (tmp_path / "recall_lite_L12.json").mkdir()
    _user_error(capsys, TINY + ["--epochs", "1", "--out", str(tmp_path)], "recall_lite_L12.json is a folder")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write read-only folders")
def test_read_only_out(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        _user_error(capsys, TINY + ["--epochs", "1", "--out", str(ro)], "Permission denied")
        _user_error(capsys, TINY + ["--epochs", "1", "--out", str(ro / "sub")], "--out")
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.EDQUOT])
def test_unwritable_out_is_one_line(tmp_path, capsys, monkeypatch, code):
    import tempfile

    def refuse(*a, **k):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    _user_error(capsys, TINY + ["--epochs", "1", "--out", str(tmp_path / "new")], os.strerror(code),
                "choose another --out")
    assert not (tmp_path / "new").exists()


def test_full_disk_is_one_line_and_leaves_no_temporaries(tmp_path, capsys, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    _user_error(capsys, TINY + ["--epochs", "1", "--out", str(tmp_path)], "No space left on device")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------------------------
# values checked before any work
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra, words", [
    (["--epochs", "0"], ["--epochs", ">= 1"]),
    (["--batch-size", "0"], ["--batch-size"]),
    (["--lr", "0"], ["--lr", "> 0"]),
    (["--lr=-1e-3"], ["--lr"]),
    (["--lr", "nan"], ["--lr", "nan"]),
    (["--lr", "inf"], ["--lr", "inf"]),
    (["--seed", "-1"], ["--seed", ">= 0"]),
    (["--threads", "0"], ["--threads"]),
    (["--eval-limit", "0"], ["--eval-limit"]),
    (["--channels", "0"], ["--channels"]),
    (["--kernel", "0"], ["--kernel"]),
    (["--dropout", "1"], ["--dropout", "< 1"]),
    (["--dropout", "-0.1"], ["--dropout"]),
    (["--dropout", "nan"], ["--dropout"]),
    (["--n-train", "0"], ["--n-train"]),
    (["--length", "5"], ["--length", ">= 11"]),
    (["--steps-per-item", "-1"], ["--steps-per-item"]),
    (["--max-minutes", "0"], ["--max-minutes"]),
    (["--max-minutes", "nan"], ["--max-minutes"]),
    (["--hidden", "16"], ["--hidden does not apply to --model lite"]),
    (["--n-bins", "4"], ["--n-bins does not apply to --task recall"]),
    (["--embed-dropout", "0.1"], ["--embed-dropout does not apply"]),
    (["--train-limit", "10"], ["--train-limit does not apply", "--n-train"]),
    (["--data-dir", "."], ["--data-dir does not apply"]),
])
def test_bad_values_are_one_line_before_any_work(tmp_path, capsys, extra, words):
    out = tmp_path / "out"
    _user_error(capsys, TINY + ["--epochs", "1", "--out", str(out)] + extra, *words)
    assert not out.exists()


@pytest.mark.parametrize("argv, words", [
    (["lite-train", "--task", "nmnist", "--train-limit", "0"], ["--train-limit"]),
    (["lite-train", "--task", "nmnist", "--n-bins", "0"], ["--n-bins"]),
    (["lite-train", "--task", "sst2", "--embed-dropout", "1.5"], ["--embed-dropout"]),
    (["lite-train", "--task", "sst2", "--model", "gru", "--hidden", "0"], ["--hidden"]),
    (["lite-seqlen", "--lengths", "5,20"], ["--lengths", ">= 11"]),
    (["lite-seqlen", "--lengths", "20,20"], ["twice"]),
    (["lite-seqlen", "--models", "lite", "--hidden", "8"], ["--hidden does not apply to --models lite"]),
    (["lite-seqlen", "--lr", "0"], ["--lr"]),
])
def test_bad_values_other_commands(tmp_path, capsys, argv, words):
    out = tmp_path / "out"
    _user_error(capsys, argv + ["--out", str(out)], *words)
    assert not out.exists()


def test_user_error_in_a_real_process_has_no_traceback(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    p = subprocess.run([sys.executable, "-m", "stdp_toolkit.cli"] + TINY + ["--out", str(f)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0 and "is a file" in p.stderr


# ------------------------------------------------------------------------------------------------
# lite-report
# ------------------------------------------------------------------------------------------------
def test_report_bad_outputs_and_inputs(reference, tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("x")
    runs = str(reference)
    _user_error(capsys, ["lite-report", "--runs", runs, "--markdown", str(tmp_path)], "--markdown", "is a folder")
    _user_error(capsys, ["lite-report", "--runs", runs, "--plot", str(f / "p.png")], "--plot", "is a file")
    _user_error(capsys, ["lite-report", "--runs", runs, "--plot", str(tmp_path / "p.xyz")], "--plot", ".png")
    _user_error(capsys, ["lite-report", "--runs", str(f)], "--runs", "is a file")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.json").write_text(json.dumps({"task": "recall", "model": "lite", "test_accuracy": 0.5}))
    _user_error(capsys, ["lite-report", "--runs", str(bad)], "x.json", "not a complete lite-train result", "params")
    (bad / "x.json").write_bytes(b"\xff\xfe{")
    _user_error(capsys, ["lite-report", "--runs", str(bad)], "x.json")


def test_report_marks_runs_cut_short(tmp_path, capsys):
    assert main(TINY + ["--epochs", "3", "--out", str(tmp_path), "--max-minutes", "1e-9"]) == 0
    capsys.readouterr()
    md = tmp_path / "t.md"
    code, out, _ = _run(capsys, ["lite-report", "--runs", str(tmp_path), "--markdown", str(md)])
    assert code == 0 and "1 of 3 (stopped)" in out and "1 of 3 (stopped)" in md.read_text()


def test_report_odd_values_and_full_disk(reference, tmp_path, capsys, monkeypatch):
    good = json.loads((reference / "recall_lite_L12.json").read_text())
    bad = tmp_path / "bad"
    bad.mkdir()
    for change in ({"spike_rate": "high"}, {"params": None}, {"data": [12]}):
        (bad / "x.json").write_text(json.dumps({**good, **change}))
        _user_error(capsys, ["lite-report", "--runs", str(bad)], "x.json", "not valid")
    (bad / "x.json").write_text(json.dumps({**good, "config": "odd"}))   # optional parts: tolerated
    assert main(["lite-report", "--runs", str(bad)]) == 0
    capsys.readouterr()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    for option, name in (("--markdown", "t.md"), ("--plot", "p.png")):
        _user_error(capsys, ["lite-report", "--runs", str(reference), option, str(tmp_path / name)],
                    "No space left on device")
        assert not (tmp_path / name).exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")] == []


def test_diverged_training_is_one_line_and_not_checkpointed(tmp_path, capsys, monkeypatch):
    real = train_mod.F.cross_entropy
    monkeypatch.setattr(train_mod.F, "cross_entropy", lambda logits, y, **k: real(logits, y, **k) * float("nan"))
    _user_error(capsys, TINY + ["--epochs", "2", "--out", str(tmp_path)], "diverged in epoch 0", "lower --lr")
    assert not (tmp_path / CKPT).exists()


def test_interrupt_before_any_epoch_says_nothing_to_resume(tmp_path, capsys, monkeypatch):
    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "_batches", interrupt)
    code, _, err = _run(capsys, TINY + ["--epochs", "2", "--out", str(tmp_path)])
    assert code == 130 and "nothing to resume" in err and len(err.strip().splitlines()) == 1, err
