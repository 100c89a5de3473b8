"""Nothing silently wrong in the bridge commands: every user mistake is one line, never a wrong result.

Checkpoints (checksummed, resume checks settings and data, resume is bit-identical), option values
(checked by argparse before any work), output paths (checked before any work, full disk is one line)
and data (labels, empty sets, limits).  All on a small synthetic MNIST-format data set: seconds each.
"""
import errno
import os
import random
import shutil
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from stdp_toolkit.cli import main
from stdp_toolkit.errors import UserError
from stdp_toolkit.cli import bridge as bridge_cli
from stdp_toolkit.torch_bridge import pipeline as bridge_pipeline
from stdp_toolkit.torch_bridge import train as bridge_train
from stdp_toolkit.torch_bridge.data import load_dataset
from stdp_toolkit.torch_bridge.train import load_checkpoint, pick_device


# --------------------------------------------------------------------------------------------
# helpers
def _idx(shape, data: bytes, magic=0x08):
    return struct.pack(">HBB", 0, magic, len(shape)) + struct.pack(f">{len(shape)}I", *shape) + data


def _write_mnist(folder, n_train=240, n_test=60, seed=0, labels_train=None):
    """MNIST IDX files of class-dependent noisy blobs (learnable, so training moves the weights)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n, labels in (("train", n_train, labels_train), ("t10k", n_test, None)):
        y = rng.integers(0, 10, n).astype(np.uint8) if labels is None else np.asarray(labels, np.uint8)
        x = rng.integers(0, 60, (len(y), 28, 28)).astype(np.uint8)
        for i, c in enumerate(y):
            r = 2 + 2 * (int(c) % 10)
            x[i, r:r + 6, 4:24] = 220
        with open(os.path.join(folder, f"{prefix}-images-idx3-ubyte"), "wb") as fh:
            fh.write(_idx(x.shape, x.tobytes()))
        with open(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"), "wb") as fh:
            fh.write(_idx(y.shape, y.tobytes()))
    return str(folder)


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    return _write_mnist(tmp_path_factory.mktemp("data") / "mnist")


def _run(capsys, argv):
    """(exit code, stdout, stderr) of the CLI; argparse errors (SystemExit) included."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _assert_one_line(code, err, *fragments):
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for f in fragments:
        assert f in err, err


def _common(mnist_dir):
    return ["--data-dir", mnist_dir, "--threads", "1", "--no-progress", "--json"]


def _ann(capsys, mnist_dir, out, *extra, epochs=1):
    argv = ["ann-train", "--arch", "mlp", "--hidden", "16", "--epochs", epochs, "--batch-size", "50",
            "--limit-train", "200", "--limit-test", "50", "--out", out, *extra] + _common(mnist_dir)
    return _run(capsys, argv)


@pytest.fixture(scope="module")
def ann_pt(mnist_dir, tmp_path_factory):
    """A 1-epoch MLP checkpoint (module-wide; tests copy it before changing it)."""
    out = str(tmp_path_factory.mktemp("ann") / "ann.pt")
    assert main(["ann-train", "--arch", "mlp", "--hidden", "16", "--epochs", "1", "--batch-size", "50",
                 "--limit-train", "200", "--limit-test", "50", "--out", out, "--dropout", "0.2"]
                + _common(mnist_dir)) == 0
    return out


@pytest.fixture(scope="module")
def conv_pt(mnist_dir, ann_pt, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("conv") / "conv.pt")
    assert main(["convert", "--checkpoint", ann_pt, "--out", out, "--timesteps", "4", "--curve", "2",
                 "--balance-samples", "16", "--balance-steps", "4", "--limit-train", "200", "--limit-test", "50"]
                + _common(mnist_dir)) == 0
    return out


def _same(a, b) -> bool:
    """Exact equality of nested checkpoint contents (tensors bit for bit)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.shape == b.shape and torch.equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


# --------------------------------------------------------------------------------------------
# 1. checkpoints
def test_byte_flips_are_detected_never_silently_loaded(ann_pt, tmp_path):
    ref = load_checkpoint(ann_pt)
    raw = open(ann_pt, "rb").read()
    rng = random.Random(0)
    detected = 0
    for pos in rng.sample(range(len(raw)), 30):
        bad = bytearray(raw)
        bad[pos] ^= 1 << rng.randrange(8)
        path = tmp_path / "flipped.pt"
        path.write_bytes(bytes(bad))
        try:
            ck = load_checkpoint(str(path))
        except UserError as exc:
            assert "\n" not in str(exc)
            detected += 1
        else:   # a flip in bytes nothing reads (zip padding, a name torch ignores) must change nothing
            assert _same(ck, ref), f"byte {pos} flipped silently changed the checkpoint"
    assert detected >= 20


def test_damaged_or_foreign_checkpoints_are_one_line(capsys, ann_pt, tmp_path, mnist_dir):
    truncated = tmp_path / "trunc.pt"
    truncated.write_bytes(open(ann_pt, "rb").read()[:1000])
    old = tmp_path / "old.pt"   # a plain torch.save file (the format before checksums)
    torch.save({"format": bridge_train.CHECKPOINT_FORMAT, "kind": "ann"}, old)
    for path, fragment in ((truncated, "corrupt"), (old, "not a stdp-toolkit checkpoint"),
                           (tmp_path, "is a folder"), (tmp_path / "missing.pt", "checkpoint not found")):
        code, _, err = _run(capsys, ["snn-eval", "--checkpoint", path] + _common(mnist_dir))
        _assert_one_line(code, err, fragment)


def test_existing_out_is_not_overwritten_without_resume(capsys, ann_pt, mnist_dir, tmp_path):
    out = tmp_path / "ann.pt"
    shutil.copy(ann_pt, out)
    before = out.read_bytes()
    code, _, err = _ann(capsys, mnist_dir, out)
    _assert_one_line(code, err, "already exists", "--resume")
    assert out.read_bytes() == before


def test_resume_refuses_other_settings_or_data(capsys, ann_pt, mnist_dir, tmp_path):
    out = tmp_path / "ann.pt"
    shutil.copy(ann_pt, out)
    code, _, err = _ann(capsys, mnist_dir, out, "--dropout", "0.2", "--resume", "--lr", "0.01", "--seed", "3",
                        epochs=2)
    _assert_one_line(code, err, "lr: 0.001 -> 0.01", "seed: 0 -> 3")
    code, _, err = _ann(capsys, mnist_dir, out, "--dropout", "0.2", "--resume", "--limit-train", "150", epochs=2)
    _assert_one_line(code, err, "limit_train: 200 -> 150", "train data")
    # same options, other data of the same size
    other = _write_mnist(tmp_path / "other" / "mnist", seed=5)
    code, _, err = _run(capsys, ["ann-train", "--arch", "mlp", "--hidden", "16", "--epochs", "2", "--batch-size", "50",
                                 "--limit-train", "200", "--limit-test", "50", "--out", out, "--dropout", "0.2",
                                 "--resume"] + _common(other))
    _assert_one_line(code, err, "train data", "test data")
    assert "lr:" not in err
    # the same epochs again: nothing left to do, the finished run is reported
    code, text, err = _ann(capsys, mnist_dir, out, "--dropout", "0.2", "--resume", epochs=1)
    assert code == 0 and '"epochs": 1' in text
    # not a checkpoint at all
    foreign = tmp_path / "c.pt"
    torch.save({}, foreign)
    code, _, err = _ann(capsys, mnist_dir, foreign, "--resume")
    _assert_one_line(code, err, "not a stdp-toolkit checkpoint")


def test_resume_refuses_fewer_epochs_and_another_commands_checkpoint(capsys, ann_pt, conv_pt, mnist_dir, tmp_path):
    out = tmp_path / "ann.pt"
    shutil.copy(ann_pt, out)
    code, out_text, err = _ann(capsys, mnist_dir, out, "--dropout", "0.2", "--resume", epochs=2)
    assert code == 0 and "stretched" in err
    code, _, err = _ann(capsys, mnist_dir, out, "--dropout", "0.2", "--resume", epochs=1)
    _assert_one_line(code, err, "already trained 2 epochs", "--epochs 2")
    conv = tmp_path / "conv.pt"
    shutil.copy(conv_pt, conv)
    code, _, err = _ann(capsys, mnist_dir, conv, "--resume")
    _assert_one_line(code, err, "it is a convert checkpoint")


def test_resume_refuses_another_start_checkpoint(capsys, ann_pt, mnist_dir, tmp_path):
    out = tmp_path / "diet.pt"

    def diet(checkpoint, epochs, *extra):
        return _run(capsys, ["diet-train", "--checkpoint", checkpoint, "--timesteps", "3", "--epochs", epochs,
                             "--max-batches", "2", "--batch-size", "50", "--limit-train", "200", "--limit-test", "50",
                             "--out", out, *extra] + _common(mnist_dir))

    assert diet(ann_pt, 1)[0] == 0
    other = tmp_path / "other_ann.pt"
    assert _ann(capsys, mnist_dir, other, "--seed", "1")[0] == 0
    code, _, err = diet(other, 2, "--resume")
    _assert_one_line(code, err, "--checkpoint: ann.pt", "other_ann.pt")


class _Stop(Exception):
    """Stands for a crash or kill right after the first epoch's checkpoint."""


def _interrupted_after_first_epoch(monkeypatch):
    real = bridge_pipeline.fit

    def fit(*args, on_epoch_end=None, **kw):
        def stop(epoch, record):
            on_epoch_end(epoch, record)
            raise _Stop

        return real(*args, on_epoch_end=stop, **kw)

    monkeypatch.setattr(bridge_pipeline, "fit", fit)


@pytest.mark.parametrize("command", ["ann-train", "hybrid-train", "diet-train"])
def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(command, capsys, ann_pt, conv_pt, mnist_dir,
                                                              tmp_path, monkeypatch):
    def argv(out):
        if command == "ann-train":
            head = ["ann-train", "--arch", "mlp", "--hidden", "16", "--dropout", "0.3"]
        elif command == "hybrid-train":   # Poisson input and dropout: both draw from the torch RNG
            head = ["hybrid-train", "--checkpoint", conv_pt, "--timesteps", "4"]
        else:
            head = ["diet-train", "--checkpoint", ann_pt, "--timesteps", "3"]
        return head + ["--epochs", "3", "--batch-size", "50", "--limit-train", "200", "--limit-test", "50",
                       "--out", out] + _common(mnist_dir)

    full = tmp_path / "full.pt"
    assert _run(capsys, argv(full))[0] == 0
    part = tmp_path / "part.pt"
    with monkeypatch.context() as m:
        _interrupted_after_first_epoch(m)
        with pytest.raises(_Stop):
            main([str(a) for a in argv(part)])
    assert load_checkpoint(str(part))["epoch"] == 1
    code, _, err = _run(capsys, argv(part) + ["--resume"])
    assert code == 0, err
    a, b = load_checkpoint(str(full)), load_checkpoint(str(part))
    key = "model_state" if command == "ann-train" else "snn_state"
    assert b["epoch"] == 3 and _same(a[key], b[key])
    assert _same(a["optimizer_state"], b["optimizer_state"])
    assert _same(a["rng"], b["rng"])
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]
    first = load_checkpoint(str(tmp_path / "part.pt"))
    assert not _same(first[key], load_checkpoint(ann_pt)["model_state"])   # training did move the weights


def test_convert_never_overwrites_its_input_or_a_trained_checkpoint(capsys, ann_pt, conv_pt, mnist_dir, tmp_path):
    base = ["convert", "--timesteps", "4", "--curve", "2", "--balance-samples", "8", "--balance-steps", "2",
            "--limit-test", "20"] + _common(mnist_dir)
    ann = tmp_path / "ann.pt"
    shutil.copy(ann_pt, ann)
    before = ann.read_bytes()
    code, _, err = _run(capsys, base + ["--checkpoint", ann, "--out", ann])
    _assert_one_line(code, err, "is the input --checkpoint")
    other = tmp_path / "trained.pt"
    shutil.copy(ann_pt, other)
    code, _, err = _run(capsys, base + ["--checkpoint", ann, "--out", other])
    _assert_one_line(code, err, "already exists", "ann-train")
    junk = tmp_path / "notes.pt"
    junk.write_text("my notes")
    code, _, err = _run(capsys, base + ["--checkpoint", ann, "--out", junk])
    _assert_one_line(code, err, "not a checkpoint that convert wrote")
    assert junk.read_text() == "my notes" and ann.read_bytes() == before
    conv = tmp_path / "conv.pt"   # an earlier convert output is replaced (it can be made again)
    shutil.copy(conv_pt, conv)
    assert _run(capsys, base + ["--checkpoint", ann, "--out", conv])[0] == 0


# --------------------------------------------------------------------------------------------
# 2. option values: argparse refuses them in one line (exit 2) before any work
BAD_VALUES = {
    "ann-train": [("--device", "tpu"), ("--device", "cuda:x"), ("--dropout", "1.5"), ("--dropout", "1"),
                  ("--dropout", "-0.1"), ("--dropout-conv", "1"), ("--limit-train", "0"), ("--limit-train", "-5"),
                  ("--limit-test", "0"), ("--epochs", "0"), ("--epochs", "1.5"), ("--batch-size", "0"),
                  ("--threads", "0"), ("--lr", "0"), ("--lr", "-1"), ("--lr", "nan"), ("--lr", "inf"),
                  ("--lr", "abc"), ("--weight-decay", "-1"), ("--weight-decay", "nan"), ("--seed", "-1"),
                  ("--seed", str(2**32)), ("--fc", ","), ("--fc", ""), ("--hidden", "10,,5"), ("--hidden", "0"),
                  ("--hidden", "a"), ("--width", "0"), ("--width", "nan"), ("--max-batches", "0"),
                  ("--arch", "vgg99"), ("--optimizer", "rmsprop")],
    "convert": [("--percentile", "0"), ("--percentile", "101"), ("--scale", "0"), ("--scale", "inf"),
                ("--balance-samples", "0"), ("--balance-steps", "-1"), ("--timesteps", "0"), ("--curve", ","),
                ("--curve", ""), ("--curve", "5,-1"), ("--input-scale", "0"), ("--input-scale", "abc"),
                ("--batch-size", "0")],
    "hybrid-train": [("--alpha", "0"), ("--beta", "-1"), ("--balance-scale", "0"), ("--balance-samples", "0"),
                     ("--timesteps", "0")],
    "diet-train": [("--leak", "1.5"), ("--leak", "nan"), ("--gamma", "0"), ("--percentile", "-3"),
                   ("--scale", "-1")],
    "snn-eval": [("--timesteps", "0"), ("--batch-size", "0"), ("--limit-test", "-5"), ("--device", "tpu"),
                 ("--limit-train", "10")],
    "export": [("--samples", "0"), ("--chunk", "0"), ("--codegen", "fortran"), ("--device", "cpu"),
               ("--limit-train", "10")],
}
REQUIRED = {"ann-train": ["--out", "x.pt"], "convert": ["--checkpoint", "a.pt", "--out", "x.pt"],
            "hybrid-train": ["--checkpoint", "a.pt", "--out", "x.pt"],
            "diet-train": ["--checkpoint", "a.pt", "--out", "x.pt"], "snn-eval": ["--checkpoint", "a.pt"],
            "export": ["--checkpoint", "a.pt", "--format", "nir", "--out", "x.nir"]}


@pytest.mark.parametrize("command,option,value",
                         [(c, o, v) for c, items in BAD_VALUES.items() for o, v in items])
def test_bad_option_values_are_one_line_before_any_work(command, option, value, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # the (missing) a.pt proves no work started: the value is refused first
    code, out, err = _run(capsys, [command] + REQUIRED[command] + [f"{option}={value}"])
    _assert_one_line(code, err, option)
    assert out == "" and not os.listdir(tmp_path)


IGNORED = [
    (["ann-train", "--out", "x.pt", "--arch", "mlp", "--fc", "10"], "--fc"),
    (["ann-train", "--out", "x.pt", "--arch", "mlp", "--width", "0.5"], "--width"),
    (["ann-train", "--out", "x.pt", "--arch", "vgg5", "--hidden", "10"], "--hidden"),
    (["ann-train", "--out", "x.pt", "--arch", "resnet8", "--dropout-conv", "0.2"], "--dropout-conv"),
    (["convert", "--checkpoint", "a.pt", "--out", "x.pt", "--percentile", "99"], "--percentile"),
    (["hybrid-train", "--checkpoint", "a.pt", "--out", "x.pt", "--balance-scale", "0.5"], "--rebalance"),
    (["hybrid-train", "--checkpoint", "a.pt", "--out", "x.pt", "--surrogate", "linear", "--alpha", "1"], "--alpha"),
    (["export", "--checkpoint", "a.pt", "--format", "nir", "--out", "x.nir", "--samples", "5"], "--samples"),
    (["export", "--checkpoint", "a.pt", "--format", "nir", "--out", "x.nir", "--seed", "5"], "--seed"),
]


@pytest.mark.parametrize("argv,option", IGNORED, ids=[" ".join(a[-2:]) for a, _ in IGNORED])
def test_options_that_would_be_ignored_are_refused(argv, option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, argv)
    _assert_one_line(code, err, option, "no effect")


def test_diet_from_an_snn_refuses_ann_only_options(capsys, conv_pt, mnist_dir, tmp_path):
    code, _, err = _run(capsys, ["diet-train", "--checkpoint", conv_pt, "--out", tmp_path / "d.pt", "--leak", "0.5"]
                        + _common(mnist_dir))
    _assert_one_line(code, err, "--leak", "no effect")


def test_device_names(monkeypatch):
    assert pick_device("cpu").type == "cpu"
    for bad in ("tpu", "cuda:x", "gpu"):
        with pytest.raises(UserError, match="auto, cpu, cuda or cuda:N"):
            pick_device(bad)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="CUDA is not available"):
        pick_device("cuda:1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(UserError, match="1 CUDA device"):
        pick_device("cuda:3")


def test_architecture_list_matches_the_models():
    from stdp_toolkit.torch_bridge.models import ARCHITECTURES
    assert bridge_cli.ARCHITECTURES == ARCHITECTURES


def test_build_model_refuses_an_unknown_option():
    from stdp_toolkit.torch_bridge.models import MLP, VGG, build_model
    mlp = MLP(hidden=[8])
    assert build_model(mlp.config).config == mlp.config
    with pytest.raises(UserError) as err:   # a misspelt size is not the default size
        build_model(dict(mlp.config, hiden=[128]))
    message = str(err.value)
    assert "\n" not in message and "'hiden'" in message and "in_features, hidden, num_classes" in message
    with pytest.raises(UserError, match="the vgg model has no option 'hidden'; its options are arch, "):
        build_model(dict(VGG(width=0.25).config, hidden=[8]))
    with pytest.raises(UserError, match="unknown model family 'lstm'"):
        build_model({"family": "lstm"})


# --------------------------------------------------------------------------------------------
# 3. output paths: checked before any work
def _read_only_folder(tmp_path):
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d
    return "/sys"   # root writes through permission bits; sysfs refuses new files


def test_bad_out_paths_fail_before_any_work(capsys, tmp_path, ann_pt):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    no_data = ["--data-dir", tmp_path / "no-such-data"]   # the out path must be refused before the data is read
    cases = [(tmp_path, "is a folder"), (a_file / "ann.pt", "which is a file, not a folder"),
             (os.path.join(_read_only_folder(tmp_path), "run", "ann.pt"), "cannot write")]
    try:
        for out, fragment in cases:
            code, _, err = _run(capsys, ["ann-train", "--arch", "mlp", "--out", out] + no_data)
            _assert_one_line(code, err, fragment)
            code, _, err = _run(capsys, ["diet-train", "--checkpoint", ann_pt, "--out", out] + no_data)
            _assert_one_line(code, err, fragment)
    finally:
        if os.geteuid() != 0:
            (tmp_path / "ro").chmod(0o755)


def test_export_out_paths(capsys, conv_pt, tmp_path, mnist_dir):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, _, err = _run(capsys, ["export", "--checkpoint", conv_pt, "--format", "brian2", "--out", a_file])
    _assert_one_line(code, err, "is a file, not a folder")
    code, _, err = _run(capsys, ["export", "--checkpoint", conv_pt, "--format", "nir", "--out", tmp_path])
    _assert_one_line(code, err, "is a folder")
    pytest.importorskip("nir")
    nir_out = tmp_path / "sub" / "snn.nir"
    code, out, err = _run(capsys, ["export", "--checkpoint", conv_pt, "--format", "nir", "--out", nir_out, "--json"])
    assert code == 0 and nir_out.is_file(), err


def test_export_brian2_writes_into_a_new_folder(capsys, conv_pt, tmp_path, mnist_dir):
    pytest.importorskip("brian2")
    out = tmp_path / "new" / "brian2"
    code, text, err = _run(capsys, ["export", "--checkpoint", conv_pt, "--format", "brian2", "--samples", "2",
                                    "--seed", "3", "--out", out] + _common(mnist_dir))
    assert code == 0, err
    assert (out / "raster.png").is_file() and (out / "agreement.json").is_file()


def test_full_disk_at_save_is_one_line(capsys, mnist_dir, tmp_path, monkeypatch):
    from stdp_toolkit import checkpoint

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint.os, "fsync", no_space)
    out = tmp_path / "run" / "ann.pt"
    code, _, err = _ann(capsys, mnist_dir, out)
    _assert_one_line(code, err, "No space left on device")
    assert not out.exists() and not [f for f in os.listdir(out.parent) if f.startswith(".tmp-")]


# --------------------------------------------------------------------------------------------
# 4. data
def test_labels_out_of_range_and_empty_sets_are_one_line(capsys, tmp_path):
    bad = _write_mnist(tmp_path / "bad" / "mnist", n_train=20, n_test=10, labels_train=[3] * 19 + [12])
    with pytest.raises(UserError, match="labels outside 0..9"):
        load_dataset("mnist", bad, "train")
    code, _, err = _run(capsys, ["ann-train", "--arch", "mlp", "--out", tmp_path / "a.pt", "--data-dir", bad,
                                 "--no-progress"])
    _assert_one_line(code, err, "labels outside")
    empty = tmp_path / "empty" / "mnist"
    _write_mnist(empty, n_train=20, n_test=10)
    (empty / "train-images-idx3-ubyte").write_bytes(_idx((0, 28, 28), b""))
    (empty / "train-labels-idx1-ubyte").write_bytes(_idx((0,), b""))
    with pytest.raises(UserError, match="no image data"):
        load_dataset("mnist", str(empty), "train")


@pytest.mark.parametrize("limit", [0, -5, True, 2.5])
def test_load_dataset_refuses_limits_below_one(limit, mnist_dir):
    with pytest.raises(UserError, match="limit must be a whole number >= 1"):
        load_dataset("mnist", mnist_dir, "train", limit)
    x, y = load_dataset("mnist", mnist_dir, "train", 7)
    assert len(x) == len(y) == 7


def test_library_workflows_refuse_options_that_would_be_ignored(tmp_path):
    """The CLI's checks live in the workflows, so a Python caller gets them too (named as keyword and flag)."""
    with pytest.raises(UserError, match=r"alpha \(--alpha\), beta \(--beta\) have no effect with --surrogate linear"):
        bridge_pipeline.hybrid_train(str(tmp_path / "snn.pt"), str(tmp_path / "out.pt"), surrogate="linear",
                                     alpha=0.5, beta=0.1)
    with pytest.raises(UserError, match=r"width \(--width\) has no effect with --arch mlp"):
        bridge_pipeline.ann_train(str(tmp_path / "ann.pt"), arch="mlp", width=2.0)
    with pytest.raises(UserError, match="unknown arch 'vgg7'"):
        bridge_pipeline.ann_train(str(tmp_path / "ann.pt"), arch="vgg7")
    with pytest.raises(UserError, match="unknown export format 'onnx'"):
        bridge_pipeline.export(str(tmp_path / "snn.pt"), "onnx")


def test_balance_sample_is_reproducible_and_seed_dependent():
    x = torch.arange(100.0).reshape(100, 1)
    a, b = bridge_pipeline.balance_sample(x, 10, 3), bridge_pipeline.balance_sample(x, 10, 3)
    assert torch.equal(a, b) and len(a) == 10 and len(set(a.flatten().tolist())) == 10
    assert not torch.equal(a, bridge_pipeline.balance_sample(x, 10, 4))
