import gzip
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
PIL = pytest.importorskip("PIL")
from PIL import Image

from stdp_toolkit.datasets.idx import load_idx
from stdp_toolkit.errors import UserError
from stdp_toolkit.torch_bridge.data import (CIFAR10_CLASSES, batches, load_cifar10, load_cifar10_batches,
                                            load_dataset, load_image_archive)


def _batch_file(path, n=6, seed=0, data=None, labels=None):
    rng = np.random.default_rng(seed)
    d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8) if data is None else data,
         b"labels": list(rng.integers(0, 10, n)) if labels is None else labels}
    with open(path, "wb") as fh:
        pickle.dump(d, fh)
    return d


def test_cifar_python_batches_layout(tmp_path):
    d = _batch_file(tmp_path / "test_batch")
    x, y = load_cifar10_batches(str(tmp_path), "test")
    assert x.shape == (6, 32, 32, 3) and y.tolist() == [int(v) for v in d[b"labels"]]
    # channel planes: first 1024 bytes red, then green, then blue (row-major)
    assert x[2, 0, 5, 0] == d[b"data"][2, 5]
    assert x[2, 1, 0, 1] == d[b"data"][2, 1024 + 32]
    assert x[2, 31, 31, 2] == d[b"data"][2, 3071]
    x2, _ = load_cifar10(str(tmp_path), "test")  # auto-detected format
    assert np.array_equal(x, x2)


def test_cifar_batches_reject_corrupt(tmp_path):
    _batch_file(tmp_path / "test_batch")
    raw = (tmp_path / "test_batch").read_bytes()
    (tmp_path / "test_batch").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_cifar10_batches(str(tmp_path), "test")
    _batch_file(tmp_path / "test_batch", data=np.zeros((4, 100), np.uint8), labels=[0, 1, 2, 3])
    with pytest.raises(UserError, match="expected \\[N, 3072\\]"):
        load_cifar10_batches(str(tmp_path), "test")
    _batch_file(tmp_path / "test_batch", n=3, labels=[0, 1, 12])
    with pytest.raises(UserError, match="labels outside"):
        load_cifar10_batches(str(tmp_path), "test")
    with pytest.raises(UserError, match="data_batch_1 not found"):
        load_cifar10_batches(str(tmp_path), "train")


def _jpeg(rgb):
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), rgb, np.uint8)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _tree(root, corrupt=False):
    for split in ("train", "test"):
        for c, cls in enumerate(("cat", "dog")):
            d = root / split / cls
            d.mkdir(parents=True)
            for i in range(3):
                (d / f"{i:04d}.jpg").write_bytes(_jpeg((100 * c, 50, 200)))
    if corrupt:
        (root / "test" / "dog" / "0001.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")


def test_image_folder_and_archive(tmp_path):
    _tree(tmp_path / "tree")
    x, y = load_cifar10(str(tmp_path / "tree"), "test")
    assert x.shape == (6, 32, 32, 3) and y.tolist() == [0, 0, 0, 1, 1, 1]
    assert abs(int(x[4, 0, 0, 0]) - 100) <= 3  # dog images are red=100 (JPEG rounding)
    arc = tmp_path / "tree.tar.gz"
    with tarfile.open(arc, "w:gz") as tf:
        tf.add(tmp_path / "tree", arcname="cifar")
    xa, ya, classes = load_image_archive(str(arc), "test")
    assert classes == ["cat", "dog"] and np.array_equal(xa, x) and np.array_equal(ya, y)


def test_image_folder_and_archive_reject_corrupt(tmp_path):
    _tree(tmp_path / "tree", corrupt=True)
    with pytest.raises(UserError, match="cannot decode image .*dog/0001.jpg"):
        load_cifar10(str(tmp_path / "tree"), "test")
    load_cifar10(str(tmp_path / "tree"), "train")  # the train split is intact
    arc = tmp_path / "good.tar.gz"
    with tarfile.open(arc, "w:gz") as tf:
        tf.add(tmp_path / "tree" / "train", arcname="train")
    raw = arc.read_bytes()
    bad = tmp_path / "truncated.tar.gz"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UserError, match="cannot read archive"):
        load_image_archive(str(bad), "train")
    with pytest.raises(UserError, match="no test images"):
        load_image_archive(str(arc), "test")
    (tmp_path / "wrong").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.png")
    os.makedirs(tmp_path / "wrong" / "test" / "cat")
    os.replace(tmp_path / "x.png", tmp_path / "wrong" / "test" / "cat" / "x.png")
    with pytest.raises(UserError, match="32x32"):
        load_cifar10(str(tmp_path / "wrong"), "test")


def _idx(shape, data: bytes, magic=0x08):
    return struct.pack(">HBB", 0, magic, len(shape)) + struct.pack(f">{len(shape)}I", *shape) + data


def test_mnist_loader_rejects_corrupt_idx(tmp_path):
    d = tmp_path / "mnist"
    d.mkdir()
    imgs = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    (d / "t10k-images-idx3-ubyte").write_bytes(_idx((2, 28, 28), imgs.tobytes()))
    (d / "t10k-labels-idx1-ubyte").write_bytes(_idx((2,), bytes([3, 7])))
    x, y = load_dataset("mnist", str(tmp_path), "test")
    assert x.shape == (2, 1, 28, 28) and y.tolist() == [3, 7]
    assert np.array_equal(load_idx(str(d / "t10k-images-idx3-ubyte")), imgs)
    # truncated data
    (d / "t10k-images-idx3-ubyte").write_bytes(_idx((2, 28, 28), imgs.tobytes()[:-10]))
    with pytest.raises(UserError, match="header says shape"):
        load_dataset("mnist", str(tmp_path), "test")
    # bad magic
    (d / "t10k-images-idx3-ubyte").write_bytes(b"\x12\x34" + _idx((2, 28, 28), imgs.tobytes())[2:])
    with pytest.raises(UserError, match="bad magic"):
        load_dataset("mnist", str(d), "test")
    # corrupt gzip
    os.remove(d / "t10k-images-idx3-ubyte")
    (d / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx((2, 28, 28), imgs.tobytes()))[:40])
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_dataset("mnist", str(d), "test")
    with pytest.raises(UserError, match="STDP_DATA_DIR"):
        load_dataset("mnist", str(tmp_path / "missing"), "test")


def test_real_cifar10_archive(data_dir):
    if not os.path.isfile(os.path.join(data_dir, "cifar10", "cifar10-jpg.tar.gz")):
        pytest.skip("CIFAR-10 archive not in STDP_DATA_DIR/cifar10")
    x, y = load_dataset("cifar10", data_dir, "test", limit=50)
    assert x.shape == (50, 3, 32, 32)
    assert sorted(set(y.tolist())) == list(range(10))  # class-balanced subset
    assert abs(float(x.mean())) < 0.5 and 0.5 < float(x.std()) < 1.5
    assert len(CIFAR10_CLASSES) == 10
    xb, _ = next(batches(x, y, 8, shuffle=True, augment=True, generator=torch.Generator().manual_seed(0)))
    assert xb.shape == (8, 3, 32, 32)
