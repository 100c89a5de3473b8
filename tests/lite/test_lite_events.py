import numpy as np
import pytest

from stdp_toolkit.errors import UserError
from stdp_toolkit.lite.events import (bin_events, decode_nmnist_bytes, load_nmnist, read_events,
                                                      read_label_file, read_nmnist)


def _encode(x, y, p, t):
    """Inverse of the N-MNIST layout, to build files by hand."""
    out = bytearray()
    for xi, yi, pi, ti in zip(x, y, p, t):
        out += bytes([xi, yi, (pi << 7) | ((ti >> 16) & 0x7F), (ti >> 8) & 0xFF, ti & 0xFF])
    return bytes(out)


def test_decode_known_bytes():
    raw = _encode([3, 33], [0, 17], [1, 0], [5, 0x7FFFFF])
    ev = decode_nmnist_bytes(raw)
    assert ev["x"].tolist() == [3, 33] and ev["y"].tolist() == [0, 17]
    assert ev["p"].tolist() == [1, 0] and ev["t"].tolist() == [5, 0x7FFFFF]


def test_shared_file_counts_ranges_polarity(nmnist_dir):
    path = nmnist_dir / "nmnist-small" / "1.bs2"
    ev = read_events(path)
    assert ev.size == path.stat().st_size // 5 == 4681
    assert ev["x"].min() >= 0 and ev["x"].max() == 33
    assert ev["y"].min() >= 0 and ev["y"].max() == 33
    assert set(np.unique(ev["p"]).tolist()) == {0, 1}
    assert 0.3 < ev["p"].mean() < 0.7
    assert np.all(np.diff(ev["t"]) >= 0) and 250_000 < ev["t"][-1] < 400_000  # three saccades, ~300 ms


def test_matches_tonic_reader(nmnist_dir):
    tio = pytest.importorskip("tonic.io", reason="tonic not installed (optional cross-check)")
    path = nmnist_dir / "nmnist-small" / "60001.bs2"
    ours = read_nmnist(path)
    theirs = tio.read_mnist_file(str(path), dtype=np.dtype([("x", int), ("y", int), ("t", int), ("p", int)]))
    for f in ("x", "y", "t", "p"):
        assert np.array_equal(ours[f], theirs[f])


def test_labels_and_binned_dataset(nmnist_dir):
    rows = read_label_file(nmnist_dir / "nmnist-small" / "train1K.txt")
    assert len(rows) == 1000 and [r[1] for r in rows[:5]] == [5, 0, 4, 1, 9]
    d = load_nmnist(nmnist_dir, "test", n_bins=6, limit=5)
    assert d.frames.shape == (5, 6, 2, 34, 34)
    assert d.labels.tolist() == [7, 2, 1, 0, 4]
    assert np.allclose(d.frames.sum(axis=(1, 2, 3, 4)), d.n_events)  # every event in exactly one bin


def test_bin_events_places_events():
    ev = decode_nmnist_bytes(_encode([0, 1, 2, 2], [0, 1, 2, 2], [0, 1, 1, 1], [0, 50, 99, 100]))
    f = bin_events(ev, 2)
    assert f.shape == (2, 2, 34, 34) and f.sum() == 4
    assert f[0, 0, 0, 0] == 1 and f[0, 1, 1, 1] == 1 and f[1, 1, 2, 2] == 2
    with pytest.raises(UserError):
        bin_events(ev, 0)


@pytest.mark.parametrize("content, message", [
    (b"\x01\x02\x03\x04", "not a multiple of 5"),
    (b"", "empty"),
    (bytes([40, 1, 0, 0, 1]), "outside"),
    (bytes([1, 1, 0, 0, 9, 1, 1, 0, 0, 2]), "backwards"),
])
def test_corrupt_file_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.bs2"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_nmnist(path)


def test_truncated_shared_file(nmnist_dir, tmp_path):
    raw = (nmnist_dir / "nmnist-small" / "2.bs2").read_bytes()
    bad = tmp_path / "2.bs2"
    bad.write_bytes(raw[:-2])
    with pytest.raises(UserError, match="truncated"):
        read_events(bad)


def test_unknown_format_and_missing(tmp_path):
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(UserError, match="unknown event format"):
        read_events(tmp_path / "x.csv")
    with pytest.raises(UserError, match="not found"):
        read_nmnist(tmp_path / "missing.bs2")


def test_missing_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("STDP_DATA_DIR", raising=False)
    with pytest.raises(UserError, match="STDP_DATA_DIR"):
        load_nmnist(None, "train")
    with pytest.raises(UserError, match="label file"):
        load_nmnist(tmp_path, "train")


@pytest.mark.parametrize("suffix, encoding", [(".dat", "dat"), (".raw", "evt2"), (".raw", "evt3")])
def test_other_formats_through_expelliarmus(tmp_path, suffix, encoding):
    expelliarmus = pytest.importorskip("expelliarmus", reason="tonic/expelliarmus not installed (optional formats)")
    arr = np.zeros(4, dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")])
    arr["t"], arr["x"], arr["y"], arr["p"] = [0, 10, 25, 40], [1, 200, 3, 639], [5, 4, 479, 0], [0, 1, 0, 1]
    path = tmp_path / f"rec{suffix}"
    expelliarmus.Wizard(encoding=encoding).save(str(path), arr)
    ev = read_events(path, encoding=encoding if suffix == ".raw" else "evt3")
    assert ev["x"].tolist() == [1, 200, 3, 639] and ev["t"].tolist() == [0, 10, 25, 40] and ev["p"].tolist() == [0, 1, 0, 1]
    f = bin_events(ev, 2, sensor_size=(640, 480))
    assert f.shape == (2, 2, 480, 640) and f.sum() == 4


def test_corrupt_dat_clear_error(tmp_path):
    pytest.importorskip("expelliarmus", reason="tonic/expelliarmus not installed (optional formats)")
    path = tmp_path / "bad.dat"
    path.write_bytes(b"garbage!!!" * 3)
    with pytest.raises(UserError, match="bad.dat"):
        read_events(path)
