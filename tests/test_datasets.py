import gzip
import struct

import numpy as np
import pytest

from stdp_toolkit.datasets import load_embedded_digits, load_idx, load_mnist
from stdp_toolkit.errors import UserError


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_roundtrip_raw_and_gzip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(_idx_bytes(arr))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(_idx_bytes(arr)))
    np.testing.assert_array_equal(load_idx(str(tmp_path / "a.idx")), arr)
    np.testing.assert_array_equal(load_idx(str(tmp_path / "a.idx.gz")), arr)


@pytest.mark.parametrize("payload, message", [
    (b"\x12\x34\x08\x03" + b"\0" * 12, "bad magic number"),
    (b"\x00\x00\x08\x03" + struct.pack(">3I", 10, 28, 28) + b"\0" * 100, "truncated or corrupt"),
    (b"\x00", "not an IDX file"),
    (b"\x1f\x8b\x08\x00garbage", "corrupt or truncated"),
])
def test_corrupt_files_are_rejected_with_a_clear_message(tmp_path, payload, message):
    path = tmp_path / "bad-images-idx3-ubyte"
    path.write_bytes(payload)
    with pytest.raises(UserError, match=message) as err:
        load_idx(str(path))
    assert str(path) in str(err.value)


def test_missing_directory_and_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_mnist(str(tmp_path / "nope"))
    with pytest.raises(UserError, match="train-images-idx3-ubyte"):
        load_mnist(str(tmp_path))


def test_labels_must_match_images(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx_bytes(np.zeros((3, 28, 28))))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(2)))
    with pytest.raises(UserError, match="2 labels for 3 images"):
        load_mnist(str(tmp_path))


def test_embedded_digits_are_disjoint_and_balanced():
    xtr, ytr = load_embedded_digits("train")
    xte, yte = load_embedded_digits("test")
    assert xtr.shape == (4000, 28, 28) and xte.shape == (1000, 28, 28)
    assert xtr.dtype == np.uint8 and xtr.max() == 255
    assert set(np.unique(yte)) == set(range(10))
    # no test image is also a training image
    train_rows = {row.tobytes() for row in xtr.reshape(len(xtr), -1)}
    assert not any(row.tobytes() in train_rows for row in xte.reshape(len(xte), -1))


def test_shared_mnist(mnist_dir):
    x, y = load_mnist(mnist_dir, "train")
    xt, yt = load_mnist(mnist_dir, "test")
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert list(y[:5]) == [5, 0, 4, 1, 9] and list(yt[:5]) == [7, 2, 1, 0, 4]


def test_one_rule_finds_every_data_set(tmp_path, monkeypatch):
    """The folder given, else $STDP_DATA_DIR; a data set's own sub-folder is descended into; the same
    message everywhere when a folder is missing (MNIST, the bridge's data sets, N-MNIST/SST-2, audio)."""
    from stdp_toolkit.datasets.paths import DATA_ENV, data_dir
    from stdp_toolkit.multimodal import resolve_audio_dir
    from stdp_toolkit.lite.events import data_dir_from

    (tmp_path / "mnist").mkdir()
    (tmp_path / "fsdd").mkdir()
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.delenv("STDP_AUDIO_DIR", raising=False)
    assert data_dir(None, "mnist") is None                      # the embedded digits then
    with pytest.raises(UserError, match=f"no data directory for SST-2: give --data-dir or set {DATA_ENV}"):
        data_dir(None, required="SST-2")
    assert data_dir(tmp_path, "mnist") == str(tmp_path / "mnist")
    assert data_dir(str(tmp_path), "cifar10") == str(tmp_path)  # no sub-folder: the folder itself
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert data_dir(None, "mnist") == str(tmp_path / "mnist")
    assert str(data_dir_from(None)) == str(tmp_path)
    assert resolve_audio_dir(None, None) == str(tmp_path / "fsdd")
    for call in (lambda: data_dir(str(tmp_path / "nowhere"), "mnist"),
                 lambda: data_dir_from(tmp_path / "nowhere"),
                 lambda: resolve_audio_dir(None, str(tmp_path / "nowhere"))):
        with pytest.raises(UserError, match=r"data directory not found: .*nowhere \(give --data-dir or set"):
            call()
