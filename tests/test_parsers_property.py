"""Nothing silently wrong, part 2: every reader of a user's file, fuzzed (hypothesis).

For each parser (IDX, WAV, NIST SPHERE, N-MNIST events and labels, SST-2 TSV, .npz and torch
checkpoints) the tests start from a valid small file written here and feed the reader
(a) random bytes, (b) the file truncated at a random point, (c) random byte flips, insertions and
deletions and (d) random values in its header fields. The property: the reader returns a valid
result (shapes, dtypes, ranges) or raises one ``UserError`` line naming the file; never another
exception, never a hang. Where a format can tell (a size in its header, a checksum), a damaged
file must be refused rather than read as something else.

``STDP_FUZZ_EXAMPLES`` (default 200, tests/fuzzing.py) sets the examples per property.
"""
import gzip
import struct
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings, strategies as st

from fuzzing import EXAMPLES, no_hang
from stdp_toolkit import checkpoint
from stdp_toolkit.datasets import load_idx, parse_sphere_header, read_audio, read_sphere
from stdp_toolkit.datasets.speech import MAX_RATE, MIN_DURATION_MS, MIN_RATE, SILENCE
from stdp_toolkit.errors import UserError
from stdp_toolkit.lite.events import (EVENT_DTYPE, NMNIST_SENSOR, bin_events, decode_nmnist_bytes,
                                                      read_label_file, read_nmnist)
from stdp_toolkit.lite.text import read_sst2

# a reader gets 5 s per example (a tiny file takes milliseconds; the margin is for a loaded CI machine)
# and no_hang stops one that never returns
PROPERTY = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=5),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _write(path, payload: bytes) -> str:
    path = str(path)
    with open(path, "wb") as fh:
        fh.write(payload)
    return path


def _read(reader, path: str, *args):
    """``reader(path, *args)``; None after checking a UserError is one line naming ``path``."""
    with no_hang(20.0):
        try:
            out = reader(path, *args)
        except UserError as exc:
            msg = str(exc)
            assert "\n" not in msg and msg.strip(), repr(msg)
            assert str(path) in msg, f"the message does not name the file: {msg}"
            event("user error")
            return None
    event("read")
    return out


# ------------------------------------------------------------------------------------------------
# mutations, shared by every format
# ------------------------------------------------------------------------------------------------
PIECES = st.one_of(st.binary(min_size=1, max_size=8),
                   st.sampled_from([b"\x00", b"\xff", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x80", b"\x7f",
                                    b"\n", b"\t", b"\r", b" ", b"-", b"0", b"9", b"nan", b"inf", b"\xef\xbb\xbf"]))


@st.composite
def mutate(draw, raw: bytes, header: int = 0):
    """``raw`` damaged: (b) cut at a random point and/or (c) bytes flipped, overwritten, inserted,
    deleted; ``header`` bytes at the start are hit more often (that is where the parsing is)."""
    raw = bytearray(raw)
    kind = draw(st.sampled_from(["truncate", "edit", "both"]))
    if kind in ("edit", "both"):
        for _ in range(draw(st.integers(1, 4))):
            span = header if header and draw(st.booleans()) else len(raw)
            pos = draw(st.integers(0, max(0, span)))
            op = draw(st.sampled_from(["flip", "overwrite", "insert", "delete"]))
            if op == "flip" and pos < len(raw):
                raw[pos] ^= 1 << draw(st.integers(0, 7))
            elif op == "overwrite":
                piece = draw(PIECES)
                raw[pos: pos + len(piece)] = piece
            elif op == "insert":
                raw[pos:pos] = draw(PIECES)
            else:
                del raw[pos: pos + draw(st.integers(1, 8))]
    if kind in ("truncate", "both"):
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    return bytes(raw)


def random_bytes(magic: bytes = b""):
    """(a) random bytes, bare or after the format's magic (so the parser gets past its first check)."""
    return st.one_of(st.binary(max_size=200), st.binary(max_size=200).map(lambda b: magic + b))


U32 = st.integers(0, 2**32 - 1)
U16 = st.integers(0, 2**16 - 1)


# ------------------------------------------------------------------------------------------------
# IDX (datasets/idx.py)
# ------------------------------------------------------------------------------------------------
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _idx(arr: np.ndarray, code: int, shape=None, magic=None) -> bytes:
    shape = arr.shape if shape is None else shape
    head = bytes(magic) if magic is not None else struct.pack(">BBBB", 0, 0, code, len(shape))
    return head + struct.pack(f">{len(shape)}I", *shape) + arr.astype(_IDX_DTYPES[code]).tobytes()


@st.composite
def idx_file(draw):
    code = draw(st.sampled_from(sorted(_IDX_DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=1, max_size=4)))
    arr = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape) % 100
    return arr, code, _idx(arr, code)


@st.composite
def idx_header_fields(draw):
    """(d): valid data behind random magic bytes and dimension sizes."""
    arr, code, _ = draw(idx_file())
    magic = draw(st.one_of(st.none(), st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
                                                st.integers(0, 255))))
    shape = draw(st.one_of(st.none(), st.lists(st.one_of(st.integers(0, 8), U32), min_size=1, max_size=4)))
    return _idx(arr, code, shape=tuple(shape) if shape is not None else None, magic=magic)


def _check_idx(arr):
    assert isinstance(arr, np.ndarray) and 1 <= arr.ndim <= 4
    assert arr.dtype.byteorder in "=|" and arr.dtype.kind in "uif"


@PROPERTY
@given(payload=st.one_of(random_bytes(b"\x00\x00\x08\x01"), idx_file().flatmap(lambda f: mutate(f[2], 20)),
                         idx_header_fields()),
       gz=st.booleans())
# found in CI: an empty array whose other dimensions overflow numpy's size (ValueError escaped)
@example(payload=b"\x00\x00\x08\x03\x00\x00\x00\x00\xa8\x00\x00\x00\xc3\x0c1\x00", gz=False)
def test_property_idx_reader(work, payload, gz):
    path = _write(work / ("fuzz-idx.gz" if gz else "fuzz-idx"), gzip.compress(payload) if gz else payload)
    arr = _read(load_idx, path)
    if arr is not None:
        _check_idx(arr)
        assert 4 + 4 * arr.ndim + arr.nbytes == len(payload)      # every byte accounted for


@PROPERTY
@given(f=idx_file(), data=st.data())
def test_property_idx_valid_reads_back_and_any_cut_is_refused(work, f, data):
    arr, code, raw = f
    np.testing.assert_array_equal(_read(load_idx, _write(work / "ok-idx", raw)), arr)
    cut = data.draw(st.integers(0, len(raw) - 1)) if len(raw) else 0
    assume(cut < len(raw))
    assert _read(load_idx, _write(work / "cut-idx", raw[:cut])) is None
    gz = gzip.compress(raw)          # a cut gzip stream is refused too, never read as a shorter file
    assert _read(load_idx, _write(work / "cut-idx.gz", gz[: data.draw(st.integers(0, len(gz) - 1))])) is None


# ------------------------------------------------------------------------------------------------
# WAV (datasets/speech.read_audio)
# ------------------------------------------------------------------------------------------------
def _wav(data: bytes, channels=1, rate=8000, bits=16, tag=1, byte_rate=None, block=None, data_size=None,
         riff_size=None, fmt_size=16) -> bytes:
    block = (channels * bits // 8 if block is None else block) & 0xFFFF
    byte_rate = (rate * block if byte_rate is None else byte_rate) & 0xFFFFFFFF
    fmt = struct.pack("<HHIIHH", tag, channels, rate, byte_rate, block, bits)
    fmt = fmt[:fmt_size].ljust(fmt_size, b"\x00")
    body = (b"WAVEfmt " + struct.pack("<I", fmt_size) + fmt + b"data"
            + struct.pack("<I", len(data) if data_size is None else data_size) + data)
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


@st.composite
def wav_samples(draw):
    """A valid waveform: [n, channels] int16 (PCM) or float32 in [-1, 1], never silent, >= 32 ms."""
    channels = draw(st.integers(1, 2))
    rate = draw(st.sampled_from([8000, 16000]))
    n = draw(st.integers(int(MIN_DURATION_MS * rate / 1000) + 1, 1200))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        x = rng.integers(-32768, 32768, (n, channels)).astype(np.int16)
        x[0] = 12345
        return x, rate, 16, 1
    x = rng.uniform(-1, 1, (n, channels)).astype(np.float32)
    x[0] = 0.5
    return x, rate, 32, 3


def _wav_of(s) -> bytes:
    x, rate, bits, tag = s
    return _wav(x.astype("<i2" if tag == 1 else "<f4").tobytes(), x.shape[1], rate, bits, tag)


@st.composite
def wav_header_fields(draw):
    """(d): valid samples behind random fmt/data/RIFF header values."""
    x, rate, bits, tag = draw(wav_samples())
    fields = draw(st.fixed_dictionaries({}, optional=dict(
        channels=st.one_of(st.integers(0, 3), U16), rate=st.one_of(st.integers(0, 2000), U32),
        bits=st.one_of(st.sampled_from([0, 1, 8, 12, 16, 24, 32, 64]), U16),
        tag=st.one_of(st.sampled_from([0, 1, 2, 3, 6, 7, 0xFFFE]), U16), byte_rate=U32,
        block=st.one_of(st.integers(0, 8), U16), data_size=st.one_of(st.integers(0, 64), U32), riff_size=U32,
        fmt_size=st.sampled_from([0, 2, 14, 16, 18, 40]))))
    kw = dict(channels=x.shape[1], rate=rate, bits=bits, tag=tag)
    kw.update(fields)
    return _wav(x.astype("<i2" if tag == 1 else "<f4").tobytes(), **kw)


def _check_audio(out):
    y, rate = out
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.ndim == 1
    assert isinstance(rate, int) and MIN_RATE <= rate <= MAX_RATE
    assert np.isfinite(y).all() and len(y) >= MIN_DURATION_MS * rate / 1000
    assert np.abs(y).max() >= SILENCE


@PROPERTY
@given(payload=st.one_of(random_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt "), wav_samples().flatmap(
    lambda s: mutate(_wav_of(s), 44)), wav_header_fields()))
def test_property_wav_reader(work, payload):
    out = _read(read_audio, _write(work / "fuzz.wav", payload))
    if out is not None:
        _check_audio(out)


@PROPERTY
@given(s=wav_samples(), data=st.data())
def test_property_wav_valid_reads_back_and_a_cut_in_the_samples_is_refused(work, s, data):
    x, rate, bits, tag = s
    raw = _wav_of(s)
    y, r = _read(read_audio, _write(work / "ok.wav", raw))
    want = (x / 32768.0 if tag == 1 else x).mean(axis=1)
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-6)
    assert r == rate
    cut = data.draw(st.integers(0, len(raw) - x.shape[1] * bits // 8))   # at least one frame missing
    assert _read(read_audio, _write(work / "cut.wav", raw[:cut])) is None


# ------------------------------------------------------------------------------------------------
# NIST SPHERE (datasets/sphere.py)
# ------------------------------------------------------------------------------------------------
def _sphere(samples: np.ndarray, fields: dict, size_line: str = "   1024", pad: int = 1024) -> bytes:
    lines = ["NIST_1A", size_line] + [f"{k} {v}" for k, v in fields.items()] + ["end_head"]
    head = ("\n".join(lines) + "\n").encode("latin-1")
    head = head.ljust(pad, b" ") if len(head) <= pad else head
    return head + samples.tobytes()


@st.composite
def sphere_file(draw):
    channels, n_bytes = draw(st.integers(1, 2)), draw(st.sampled_from([1, 2, 4]))
    n = draw(st.integers(1, 400))
    order = draw(st.sampled_from(["01", "10"])) if n_bytes > 1 else "1"
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lo, hi = -(2 ** (8 * n_bytes - 1)), 2 ** (8 * n_bytes - 1)
    x = rng.integers(lo, hi, (n, channels)).astype(f"{'<' if order == '01' else '>'}i{n_bytes}")
    fields = {"sample_count": f"-i {n}", "sample_rate": "-i 16000", "channel_count": f"-i {channels}",
              "sample_n_bytes": f"-i {n_bytes}", "sample_byte_format": f"-s{len(order)} {order}",
              "sample_coding": "-s3 pcm"}
    return x, fields


_ODD_VALUES = st.one_of(
    st.sampled_from(["-i 0", "-i -1", "-i 1", "-i 3", "-i 99999999999999999999", "-r nan", "-r inf", "-r -inf",
                     "-r 0.4", "-r 2.0", "-r 1e300", "-s2 01", "-s2 10", "-s4 0123", "-s1 1", "-s0 ", "-s",
                     "-s3 pcm", "-s5 ulaw", "-s24 pcm,embedded-shorten-v2.00", "-x 5", "-i", "", "-i 1_6",
                     "-r 1e-300"]),
    st.integers(-2**40, 2**40).map(lambda v: f"-i {v}"),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda v: f"-r {v!r}"),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=12).map(lambda t: f"-s{len(t)} {t}"))


@st.composite
def sphere_header_fields(draw):
    """(d): valid samples behind random header values, header size lines and missing fields."""
    x, fields = draw(sphere_file())
    for key in list(fields) + ["sample_sig_bits", "sample_max"]:
        if draw(st.booleans()):
            if draw(st.booleans()):
                fields[key] = draw(_ODD_VALUES)
            else:
                fields.pop(key, None)
    size = draw(st.one_of(st.just("   1024"), st.sampled_from(["0", "15", "16", "-1", "1024.0", "abc", "", "99999999"]),
                          st.integers(-10, 2000).map(str)))
    return _sphere(x, fields, size)


def _check_sphere(out):
    y, rate, header = out
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.ndim in (1, 2) and len(y) > 0
    assert np.isfinite(y).all() and y.min() >= -1 and y.max() < 1
    assert isinstance(rate, int) and rate >= 1 and isinstance(header, dict)


@PROPERTY
@given(payload=st.one_of(random_bytes(b"NIST_1A\n   1024\n"),
                         sphere_file().flatmap(lambda f: mutate(_sphere(*f), 1024)), sphere_header_fields()))
def test_property_sphere_reader(work, payload):
    path = _write(work / "fuzz.sph", payload)
    header = _read(parse_sphere_header, path)
    if header is not None:
        assert isinstance(header, dict) and header["header_size"] >= 16
    out = _read(read_sphere, path)
    if out is not None:
        _check_sphere(out)
    audio = _read(read_audio, path)                    # the same file through the corpus loaders' reader
    if audio is not None:
        _check_audio(audio)


@PROPERTY
@given(f=sphere_file(), data=st.data())
def test_property_sphere_valid_reads_back_and_a_cut_in_the_samples_is_refused(work, f, data):
    x, fields = f
    raw = _sphere(x, fields)
    y, rate, _ = _read(read_sphere, _write(work / "ok.sph", raw))
    n_bytes = x.dtype.itemsize     # 1 and 2 bytes are exact in float32, 4 bytes to float32 precision
    np.testing.assert_allclose(y.reshape(x.shape), x / 2.0 ** (8 * n_bytes - 1), rtol=0, atol=2.0 ** -24)
    assert rate == 16000
    cut = data.draw(st.integers(0, len(raw) - n_bytes))
    assert _read(read_sphere, _write(work / "cut.sph", raw[:cut])) is None


# ------------------------------------------------------------------------------------------------
# N-MNIST events and label files (lite/events.py)
# ------------------------------------------------------------------------------------------------
@st.composite
def nmnist_events(draw):
    n = draw(st.integers(1, 60))
    w, h = NMNIST_SENSOR
    x = draw(st.lists(st.integers(0, w - 1), min_size=n, max_size=n))
    y = draw(st.lists(st.integers(0, h - 1), min_size=n, max_size=n))
    p = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    t = sorted(draw(st.lists(st.integers(0, 2**23 - 1), min_size=n, max_size=n)))
    return x, y, p, t


def _nmnist(ev) -> bytes:
    return b"".join(bytes([xi, yi, (pi << 7) | (ti >> 16), (ti >> 8) & 0xFF, ti & 0xFF]) for xi, yi, pi, ti in zip(*ev))


def _check_events(ev, n_bytes):
    assert ev.dtype == EVENT_DTYPE and ev.ndim == 1 and 5 * len(ev) == n_bytes
    w, h = NMNIST_SENSOR
    assert ((ev["x"] >= 0) & (ev["x"] < w) & (ev["y"] >= 0) & (ev["y"] < h)).all()
    assert np.isin(ev["p"], [0, 1]).all() and (ev["t"] >= 0).all() and (ev["t"] < 2**23).all()
    assert (np.diff(ev["t"]) >= 0).all()
    frames = bin_events(ev, 4)
    assert frames.shape == (4, 2, h, w) and frames.sum() == len(ev)        # every event in exactly one bin


@PROPERTY
@given(payload=st.one_of(random_bytes(), nmnist_events().flatmap(lambda e: mutate(_nmnist(e))),
                         st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
                                            st.integers(0, 255), st.integers(0, 255)), min_size=1, max_size=40)
                         .map(lambda rows: b"".join(bytes(r) for r in rows))))
def test_property_nmnist_reader(work, payload):
    ev = _read(read_nmnist, _write(work / "fuzz.bs2", payload))
    if ev is not None:
        _check_events(ev, len(payload))


@PROPERTY
@given(ev=nmnist_events())
def test_property_nmnist_valid_reads_back(work, ev):
    out = _read(read_nmnist, _write(work / "ok.bs2", _nmnist(ev)))
    for field, want in zip("xypt", ev):
        assert out[field].tolist() == want
    np.testing.assert_array_equal(decode_nmnist_bytes(_nmnist(ev)), out)


@st.composite
def label_text(draw):
    rows = draw(st.lists(st.tuples(st.integers(1, 70000), st.integers(0, 9)), min_size=1, max_size=20))
    return ("#sample #class\r\n" + "".join(f"{s}\t{c}\r\n" for s, c in rows)).encode(), rows


@PROPERTY
@given(f=label_text(), data=st.data())
def test_property_nmnist_label_file(work, f, data):
    raw, rows = f
    path = work / "labels.txt"
    assert _read(read_label_file, _write(path, raw)) == rows                # path: a Path, as load_nmnist passes
    payload = data.draw(st.one_of(random_bytes(), mutate(raw, 16)))
    out = _read(read_label_file, _write(path, payload))
    if out is not None:
        assert all(isinstance(s, int) and s >= 0 and isinstance(c, int) and 0 <= c <= 9 for s, c in out)


# ------------------------------------------------------------------------------------------------
# SST-2 TSV (lite/text.py)
# ------------------------------------------------------------------------------------------------
_WORDS = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\r\n\x00"),
                 min_size=1, max_size=30).filter(lambda t: t.strip())


@st.composite
def sst2_file(draw):
    rows = draw(st.lists(st.tuples(st.sampled_from([0, 1]), _WORDS), min_size=1, max_size=12))
    header = draw(st.sampled_from(["label\tsentence", "label\tcontent", "Label\tsentence"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = header + newline + "".join(f"{lab}\t{s}{newline}" for lab, s in rows)
    return text.encode("utf-8"), rows


@pytest.fixture(scope="module")
def sst2_root(work):
    (work / "sst2").mkdir(exist_ok=True)
    return work


def _read_sst2(root, payload: bytes):
    path = _write(root / "sst2" / "train.tsv", payload)
    return _read(lambda p: read_sst2(root, "train"), path)


@PROPERTY
@given(f=sst2_file())
def test_property_sst2_valid_reads_back(sst2_root, f):
    raw, rows = f
    sentences, labels = _read_sst2(sst2_root, raw)
    assert sentences == [s for _, s in rows] and labels.tolist() == [lab for lab, _ in rows]
    bom = _read_sst2(sst2_root, b"\xef\xbb\xbf" + raw)          # a spreadsheet's byte-order mark is no problem
    assert bom[0] == sentences


@PROPERTY
@given(payload=st.one_of(random_bytes(b"label\tsentence\n"), sst2_file().flatmap(lambda f: mutate(f[0], 16)),
                         st.text(max_size=200).map(lambda t: ("label\tsentence\n" + t).encode("utf-8", "replace"))))
def test_property_sst2_reader(sst2_root, payload):
    out = _read_sst2(sst2_root, payload)
    if out is not None:
        sentences, labels = out
        assert len(sentences) == len(labels) > 0 and labels.dtype == np.int64
        assert set(labels.tolist()) <= {0, 1} and all(isinstance(s, str) and s.strip() for s in sentences)


# ------------------------------------------------------------------------------------------------
# checkpoints (checkpoint.load / load_torch): checksummed, so damage is refused, never loaded
# ------------------------------------------------------------------------------------------------
_ARRAYS = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "theta": np.array([0.5, -1.0]),
           "labels": np.array([1, 2, 3], np.uint8)}
_META = {"samples_seen": 3, "config": {"n_neurons": 4}}


@pytest.fixture(scope="module")
def npz_bytes(work):
    checkpoint.save(str(work / "base.npz"), _ARRAYS, _META)
    return (work / "base.npz").read_bytes()


@PROPERTY
@given(data=st.data())
def test_property_npz_checkpoint(work, npz_bytes, data):
    payload = data.draw(st.one_of(random_bytes(npz_bytes[:30]), mutate(npz_bytes, 120)))
    out = _read(checkpoint.load, _write(work / "fuzz.npz", payload))
    if out is not None:           # only an untouched file, or damage outside what is read, may load
        arrays, meta = out
        assert arrays.keys() == _ARRAYS.keys() and meta == {"format": checkpoint.FORMAT, **_META}
        for k, v in _ARRAYS.items():
            assert arrays[k].dtype == v.dtype
            np.testing.assert_array_equal(arrays[k], v)


@pytest.fixture(scope="module")
def torch_bytes(work):
    torch = pytest.importorskip("torch")
    obj = {"state": {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}, "epoch": 2, "name": "x"}
    checkpoint.save_torch(str(work / "base.pt"), obj, "lite-snn")
    return (work / "base.pt").read_bytes()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")   # torch warns, then reads (reported upstream of us)
@PROPERTY
@given(data=st.data())
def test_property_torch_checkpoint(work, torch_bytes, data):
    import torch

    payload = data.draw(st.one_of(random_bytes(torch_bytes[:30]), mutate(torch_bytes, 120)))
    out = _read(lambda p: checkpoint.load_torch(p, "lite-snn"), _write(work / "fuzz.pt", payload))
    if out is not None:
        assert out.keys() == {"state", "epoch", "name"} and out["epoch"] == 2 and out["name"] == "x"
        assert torch.equal(out["state"]["w"], torch.arange(6, dtype=torch.float32).reshape(2, 3))


def test_valid_npz_checkpoint_reads_back_and_a_cut_one_is_refused(work, npz_bytes):
    arrays, meta = checkpoint.load(_write(work / "v.npz", npz_bytes))
    assert meta["samples_seen"] == 3 and arrays["w"].shape == (3, 4)
    with pytest.raises(UserError, match="corrupt"):
        checkpoint.load(_write(work / "c.npz", npz_bytes[: len(npz_bytes) // 2]))


def test_valid_torch_checkpoint_reads_back_and_a_cut_one_is_refused(work, torch_bytes):
    assert checkpoint.load_torch(_write(work / "v.pt", torch_bytes), "lite-snn")["epoch"] == 2
    with pytest.raises(UserError, match="corrupt"):
        checkpoint.load_torch(_write(work / "c.pt", torch_bytes[: len(torch_bytes) // 2]), "lite-snn")
