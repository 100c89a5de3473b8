import dataclasses
import os
import warnings

import numpy as np
import pytest
import yaml

from stdp_toolkit.datasets import (AudioSettings, add_noise, featurize, load_fsdd, load_ti46, load_tidigits,
                                   log_mel_map, parse_sphere_header, read_audio, read_sphere)
from stdp_toolkit.errors import UserError


def _tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    """A sine with 10 ms raised-cosine ramps (an abrupt onset would be a broadband click)."""
    t = np.arange(int(seconds * rate)) / rate
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    return (amp * np.sin(2 * np.pi * freq * t) * np.sin(np.pi / 2 * ramp) ** 2).astype(np.float32)


def _mel_band_of(freq: float, s: AudioSettings) -> int:
    import librosa

    centres = librosa.mel_frequencies(s.n_mels + 2, fmin=s.fmin, fmax=s.sample_rate / 2)[1:-1]
    return int(np.argmin(np.abs(centres - freq)))


PEAK = AudioSettings(scaling="peak", range_db=40)     # the plain log-mel image


# ---- front end ----------------------------------------------------------------------------------
def test_tone_peaks_in_its_mel_band_with_a_fixed_shape():
    s = PEAK
    maps = [log_mel_map(_tone(1000, 0.4, 8000), 8000, s),
            log_mel_map(_tone(1000, 1.3, 16000), 16000, s),     # resampled, three times longer
            log_mel_map(_tone(1000, 0.08, 8000), 8000, s)]      # shorter than 28 hops
    band = _mel_band_of(1000, s)
    for m in maps:
        assert m.shape == (28, 28) and m.dtype == np.float32
        assert m.min() >= 0 and m.max() == pytest.approx(1.0)
        assert int(m.mean(axis=1).argmax()) == band
        assert m[band].min() > 0.7                   # the tone fills the whole time axis (ramps: lower ends)
        assert m[band + 4:].max() == 0               # far above it: below the dynamic range
    low = log_mel_map(_tone(300, 0.4, 8000), 8000, s)
    assert int(low.mean(axis=1).argmax()) == _mel_band_of(300, s) < band
    x = featurize([_tone(1000, 0.3, 8000), _tone(500, 0.5, 8000)], 8000, AudioSettings(n_mels=20, n_frames=10))
    assert x.shape == (2, 200) and x.dtype == np.float32


def test_centred_maps_code_spectral_change_not_steady_energy():
    s = AudioSettings()
    assert s.scaling == "centred"
    assert log_mel_map(_tone(1000, 0.4, 8000), 8000, s).mean() < 0.05     # a steady tone: (almost) nothing
    m = log_mel_map(np.concatenate([_tone(500, 0.3, 8000), _tone(1500, 0.3, 8000)]), 8000, s)
    lo, hi = _mel_band_of(500, s), _mel_band_of(1500, s)
    assert (m[lo, 3:11] > 0.99).all() and (m[lo, 17:25] == 0).all()      # 500 Hz in the first half only
    assert (m[hi, 17:25] > 0.99).all() and (m[hi, 3:11] == 0).all()      # 1500 Hz in the second half only
    assert (m[hi + 5:] < 0.2).all() and 0.05 < m.mean() < 0.3


@pytest.mark.parametrize("s", [PEAK, AudioSettings()], ids=["peak", "centred"])
def test_silence_is_trimmed_and_quiet_parts_are_zero(s):
    rng = np.random.default_rng(0)
    tone = np.concatenate([_tone(500, 0.2, 8000), _tone(1500, 0.2, 8000)])     # a "word" whose spectrum moves
    hiss = lambda n: 1e-5 * rng.standard_normal(n).astype(np.float32)  # noqa: E731
    padded = np.concatenate([hiss(4000), tone, hiss(2000)])
    a, b = log_mel_map(tone, 8000, s), log_mel_map(padded, 8000, s)
    untrimmed = log_mel_map(padded, 8000, dataclasses.replace(s, top_db=0))
    # leading/trailing silence is cut: the word fills the map as if there had been none
    assert np.abs(a - b).mean() < 0.05 < np.abs(a - untrimmed).mean()
    gap = log_mel_map(np.concatenate([tone, np.zeros(1600, np.float32), tone]), 8000, s)
    cols = gap.max(axis=0)
    assert (cols[12:16] == 0).all()
    if s.scaling == "peak":
        assert (cols[:10] > 0.5).all() and (cols[-10:] > 0.5).all()
    assert not log_mel_map(np.zeros(4000, np.float32), 8000, s).any()   # digital silence: no input
    # a louder copy gives the same map (scaling is relative to the word's peak)
    np.testing.assert_allclose(log_mel_map(padded * 20, 8000, s), b, atol=1e-4)


def test_contrast_and_range_make_maps_sparser():
    w = _tone(1000, 0.4, 8000) + _tone(2500, 0.4, 8000, amp=0.05)
    base = log_mel_map(w, 8000, PEAK)
    assert log_mel_map(w, 8000, AudioSettings(scaling="peak", range_db=40, gamma=2)).mean() < base.mean()
    assert log_mel_map(w, 8000, AudioSettings(scaling="peak", range_db=20)).mean() < base.mean()


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 20.0])
def test_add_noise_hits_the_requested_snr(snr):
    clean = _tone(440, 0.5, 8000) * np.hanning(4000).astype(np.float32)
    noisy = add_noise(clean, snr, seed=3)
    noise = noisy.astype(np.float64) - clean
    measured = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise ** 2))
    assert abs(measured - snr) < 0.1
    assert noisy.dtype == np.float32 and noisy.shape == clean.shape
    np.testing.assert_array_equal(add_noise(clean, snr, seed=3), noisy)
    assert not np.array_equal(add_noise(clean, snr, seed=4), noisy)


def test_add_noise_rejects_silence():
    with pytest.raises(UserError, match="silent"):
        add_noise(np.zeros(100), 10)


def test_settings_round_trip_and_validation():
    s = AudioSettings(n_mels=20, n_frames=30, range_db=35.0, gamma=1.5, fmax=3800.0)
    assert AudioSettings.from_dict(yaml.safe_load(yaml.safe_dump(s.to_dict()))) == s
    assert AudioSettings.from_dict({"sample_rate": 16000.0}).sample_rate == 16000   # YAML floats
    assert AudioSettings.from_dict(None) == AudioSettings()
    assert s.n_inputs == 600 and s.shape == (20, 30)
    for bad, match in [({"n_mels": 0}, "n_mels"), ({"gamma": -1}, "gamma"), ({"n_frames": 2.5}, "n_frames"),
                       ({"range_db": "40"}, "range_db"), ({"fmax": 5000}, "fmax"), ({"window_ms": 1}, "window"),
                       ({"scaling": "linear"}, "scaling"), ({"floor_db": 0}, "floor_db"),
                       ({"n_mel": 28}, "unknown audio setting")]:
        with pytest.raises(UserError, match=match):
            AudioSettings.from_dict(bad)
    with pytest.raises(UserError, match="expected a mapping"):
        AudioSettings.from_dict([28])
    with pytest.raises(UserError, match="too many"):
        log_mel_map(_tone(1000, 0.2, 8000), 8000, AudioSettings(n_mels=128, window_ms=16))


# ---- FSDD ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fsdd_root(fsdd_dir):
    return fsdd_dir


def test_fsdd_official_split(fsdd_root):
    train, test = load_fsdd(fsdd_root, "train"), load_fsdd(fsdd_root, "test")
    assert (len(train), len(test)) == (2700, 300)
    assert train.sample_rate == test.sample_rate == 8000
    for part, n in ((train, 270), (test, 30)):
        assert np.bincount(part.labels, minlength=10).tolist() == [n] * 10
        assert sorted(set(part.speakers.tolist())) == ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
        assert all(w.dtype == np.float32 and w.ndim == 1 and len(w) > 1000 for w in part.waveforms)
    assert not set(train.files) & set(test.files)
    assert all(int(os.path.basename(f).split("_")[2][:-4]) < 5 for f in test.files)
    assert os.path.basename(test.files[0]) == "0_george_0.wav" and test.labels[0] == 0
    # feature maps of the test set look like input images: [0, 1], sparse-ish
    x = featurize(test.waveforms, test.sample_rate)
    assert x.shape == (300, 784) and 0.05 < x.mean() < 0.4 and x.min() >= 0 and x.max() <= 1


def test_fsdd_speaker_independent_split(fsdd_root):
    parent = os.path.dirname(fsdd_root)
    everything = load_fsdd(parent, "all")
    assert len(everything) == 3000 and len(set(everything.labels.tolist())) == 10
    train = load_fsdd(parent, "train", test_speakers=["theo", "george"])
    test = load_fsdd(parent, "test", test_speakers=["theo", "george"])
    assert (len(train), len(test)) == (2000, 1000)
    assert set(test.speakers.tolist()) == {"theo", "george"}
    assert not set(train.speakers.tolist()) & set(test.speakers.tolist())
    only = load_fsdd(parent, "test", speakers="jackson")
    assert len(only) == 50 and set(only.speakers.tolist()) == {"jackson"}
    with pytest.raises(UserError, match="not all FSDD speakers"):
        load_fsdd(parent, "test", test_speakers=["nobody"])


def _fsdd_folder(tmp_path, n=3):
    folder = tmp_path / "recordings"
    folder.mkdir()
    import soundfile

    for i in range(n):
        soundfile.write(str(folder / f"{i % 10}_alice_{i}.wav"), _tone(300 + 100 * i, 0.3, 8000), 8000,
                        subtype="PCM_16")
    return folder


def test_fsdd_synthetic_folder_and_bad_files(tmp_path):
    folder = _fsdd_folder(tmp_path, n=7)
    (folder / "README.txt").write_text("ignored")
    utts = load_fsdd(str(tmp_path), "all")
    assert len(utts) == 7 and utts.labels.tolist() == list(range(7)) and utts.sample_rate == 8000
    assert len(load_fsdd(str(folder), "test")) == 5 and len(load_fsdd(str(folder), "train")) == 2
    with pytest.raises(UserError, match="unknown split"):
        load_fsdd(str(folder), "validation")

    bad = folder / "3_alice_40.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEgarbage")
    with pytest.raises(UserError, match="corrupt") as err:
        load_fsdd(str(folder), "all")
    assert str(bad) in str(err.value)
    bad.write_bytes(b"")
    with pytest.raises(UserError) as err:
        load_fsdd(str(folder), "all")
    assert str(bad) in str(err.value)
    bad.unlink()

    (folder / "hello.wav").write_bytes(b"")
    with pytest.raises(UserError, match="hello.wav"):
        load_fsdd(str(folder), "all")


# ---- files that cannot give a map: refused with one line naming the file and the reason ---------
def _wav_file(path, samples, rate=8000, subtype="PCM_16", fmt="WAV") -> str:
    import soundfile

    soundfile.write(str(path), np.asarray(samples, np.float32), rate, subtype=subtype, format=fmt)
    return str(path)


def _one_line_naming(err, path):
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg, msg
    return msg


def test_truncated_wav_is_refused_not_read_shorter(tmp_path):
    folder = _fsdd_folder(tmp_path, n=2)
    path = _wav_file(folder / "3_alice_7.wav", np.resize(_tone(500, 0.5, 8000), 3910))
    raw = open(path, "rb").read()
    data = raw.index(b"data") + 8
    open(path, "wb").write(raw[: data + 2 * 1288])          # the tester's file: 3,910 frames declared, 1,288 held
    with pytest.raises(UserError, match="truncated: its header says 3,910 frames but the file holds only 1,288") as e:
        read_audio(path)
    _one_line_naming(e, path)
    with pytest.raises(UserError, match="truncated") as e:
        load_fsdd(str(folder), "all")
    _one_line_naming(e, path)
    aiff = _wav_file(tmp_path / "x.aiff", _tone(500, 0.5, 8000), fmt="AIFF")
    raw = open(aiff, "rb").read()
    open(aiff, "wb").write(raw[: len(raw) // 2])
    with pytest.raises(UserError, match="truncated: its header says 4,000 frames") as e:
        read_audio(aiff)
    _one_line_naming(e, aiff)


def test_a_cut_real_recording_is_refused(fsdd_root, tmp_path):
    src = os.path.join(fsdd_root, "recordings", "0_george_0.wav")
    raw = open(src, "rb").read()
    path = tmp_path / "0_george_0.wav"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UserError, match="header says 2,384 frames but the file holds only 1,181") as e:
        read_audio(str(path))
    _one_line_naming(e, path)


@pytest.mark.parametrize("n", [1, 10, 255])
def test_recordings_shorter_than_a_window_are_refused(tmp_path, n):
    path = _wav_file(tmp_path / "short.wav", np.full(n, 0.3))
    with pytest.raises(UserError) as e:
        read_audio(path)
    assert f"({n} sample(s) at 8000 Hz), less than one 32 ms analysis window: too short" in str(e.value)
    _one_line_naming(e, path)
    assert len(read_audio(_wav_file(tmp_path / "ok.wav", np.full(256, 0.3)))[0]) == 256     # one window: fine


def test_silent_recordings_are_refused(tmp_path):
    folder = _fsdd_folder(tmp_path, n=3)
    path = _wav_file(folder / "4_alice_1.wav", np.zeros(4000))
    with pytest.raises(UserError, match="is silent \\(every sample is zero\\): there is no word") as e:
        read_audio(path)
    _one_line_naming(e, path)
    # a silent test file with --noise audio:snr:X: refused by name while loading, before any noise is added
    with pytest.raises(UserError, match="silent") as e:
        load_fsdd(str(folder), "test")
    _one_line_naming(e, path)
    quiet = _wav_file(tmp_path / "quiet.wav", np.full(4000, 1e-6), subtype="FLOAT")
    with pytest.raises(UserError, match="-120 dBFS, is below one 16-bit step") as e:
        read_audio(quiet)
    _one_line_naming(e, quiet)
    one_step = _wav_file(tmp_path / "lsb.wav", np.resize([2.0 ** -15, -2.0 ** -15], 4000))
    assert read_audio(one_step)[0].max() == 2.0 ** -15          # the quietest 16-bit recording is read


def test_nan_samples_name_the_file(tmp_path):
    w = _tone(500, 0.3, 8000)
    w[[100, 200]] = np.nan, np.inf
    path = _wav_file(tmp_path / "nan.wav", w, subtype="FLOAT")
    with pytest.raises(UserError, match="holds 2 NaN or infinite sample") as e:
        read_audio(path)
    _one_line_naming(e, path)
    tone = _tone(500, 0.3, 8000)
    stereo = np.stack([tone, tone], axis=1)
    stereo[300] = np.inf, -np.inf          # their channel mean is NaN, with numpy's "invalid value" warning
    path = _wav_file(tmp_path / "nan2.wav", stereo, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserError, match="holds 2 NaN or infinite sample") as e:
            read_audio(path)
    _one_line_naming(e, path)


def test_noise_on_a_silent_waveform_and_an_infinite_snr(tmp_path):
    from stdp_toolkit.datasets.noise import parse_noise

    with pytest.raises(UserError, match="song.wav: cannot add noise at 10 dB SNR to a silent"):
        add_noise(np.zeros(100), 10, source="song.wav")
    for spec in ("audio:snr:-inf", "audio:snr:inf", "audio:snr:nan", "audio:snr:10,-inf", "audio:snr:1e999"):
        with pytest.raises(UserError) as e:
            parse_noise(spec)
        msg = str(e.value)
        assert "an SNR must be a finite number of dB in [-200, 200]" in msg and spec in msg and "[-inf" not in msg
    with pytest.raises(UserError, match="finite number of dB"):
        add_noise(_tone(500, 0.1, 8000), float("-inf"))
    with pytest.raises(UserError, match="a.wav: noise at -1000 dB SNR overflows float32"):
        add_noise(_tone(500, 0.1, 8000), -1000.0, source="a.wav")


def test_featurize_names_the_waveform_it_cannot_use():
    word = _tone(500, 0.3, 8000)
    with pytest.raises(UserError, match="waveform 1 of 2: 1.25 ms of audio is shorter than one 32 ms analysis window"):
        featurize([word, word[:10]], 8000)
    with pytest.raises(UserError, match="b.wav is silent"):
        featurize([word, np.zeros(4000, np.float32)], 8000, sources=["a.wav", "b.wav"])
    with pytest.raises(UserError, match="a.wav: cannot featurise .* NaN/inf"):
        featurize([np.full(4000, np.nan, np.float32)], 8000, sources=["a.wav"])
    with pytest.raises(UserError, match="c.wav: 1.25 ms of audio is shorter"):
        log_mel_map(word[:10], 8000, source="c.wav")
    with pytest.raises(UserError, match="64 ms analysis window \\(audio.window_ms\\)"):
        log_mel_map(word[:400], 8000, AudioSettings(window_ms=64))


def test_missing_folders_are_named(tmp_path):
    missing = str(tmp_path / "nowhere")
    for loader in (load_fsdd, load_tidigits, load_ti46):
        with pytest.raises(UserError, match="not found") as err:
            loader(missing)
        assert missing in str(err.value)
    with pytest.raises(UserError, match="recordings/"):
        load_fsdd(str(tmp_path))
    with pytest.raises(UserError, match="train/"):
        load_tidigits(str(tmp_path))
    with pytest.raises(UserError, match="ti20/"):
        load_ti46(str(tmp_path))


# ---- NIST SPHERE, TIDIGITS, TI46 ----------------------------------------------------------------
def _sphere(path, samples, rate=20000, order="01", coding=None, channels=1, extra=()) -> np.ndarray:
    samples = np.asarray(samples, np.int16)
    lines = ["NIST_1A", "   1024", "database_id -s8 TIDIGITS", "utterance_id -s11 ae 1a test",
             f"sample_count -i {len(samples) // channels}", f"sample_rate -i {rate}", f"channel_count -i {channels}",
             "sample_n_bytes -i 2", f"sample_byte_format -s2 {order}", "sample_sig_bits -i 16",
             "sample_max -r 3.5", *extra]
    if coding:
        lines.append(f"sample_coding -s{len(coding)} {coding}")
    header = ("\n".join(lines) + "\nend_head\n").encode().ljust(1024, b" ")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(header + samples.astype("<i2" if order == "01" else ">i2").tobytes())
    return samples


@pytest.mark.parametrize("order", ["01", "10"])
def test_sphere_header_and_samples_read_back_exactly(tmp_path, order):
    path = str(tmp_path / "1a.wav")
    samples = _sphere(path, [0, 1, -1, 32767, -32768, 1234, -4321, 7], rate=20000, order=order)
    h = parse_sphere_header(path)
    assert h["sample_rate"] == 20000 and h["channel_count"] == 1 and h["sample_count"] == 8
    assert h["sample_n_bytes"] == 2 and h["sample_byte_format"] == order and h["header_size"] == 1024
    assert h["utterance_id"] == "ae 1a test" and h["sample_max"] == 3.5
    y, rate, _ = read_sphere(path)
    assert rate == 20000 and y.dtype == np.float32
    np.testing.assert_array_equal(y * 32768, samples)
    with pytest.raises(UserError, match="too short") as err:     # 0.4 ms: no word, no analysis window
        read_audio(path)
    assert path in str(err.value)
    word = np.concatenate([samples, (_tone(500, 0.1, 20000) * 32767).astype(np.int16)])
    _sphere(path, word, rate=20000, order=order)
    y2, rate2 = read_audio(path)                     # told apart from RIFF by content, not by name
    np.testing.assert_array_equal(y2 * 32768, word)
    assert rate2 == rate


def test_sphere_stereo_and_bad_headers(tmp_path):
    path = str(tmp_path / "st.sph")
    _sphere(path, [1, 2, 3, 4, 5, 6], channels=2)
    y, _, _ = read_sphere(path)
    np.testing.assert_array_equal(y * 32768, [[1, 2], [3, 4], [5, 6]])
    cut = tmp_path / "cut.sph"
    cut.write_bytes(open(path, "rb").read()[:-3])
    with pytest.raises(UserError, match="truncated") as err:
        read_sphere(str(cut))
    assert str(cut) in str(err.value)
    (tmp_path / "riff.sph").write_bytes(b"RIFF....")
    with pytest.raises(UserError, match="not a NIST SPHERE"):
        read_sphere(str(tmp_path / "riff.sph"))


def test_shorten_compressed_sphere_names_the_conversion(tmp_path):
    path = str(tmp_path / "za.wav")
    _sphere(path, [0] * 50, coding="pcm,embedded-shorten-v2.00")
    with pytest.raises(UserError, match="sph2pipe") as err:
        read_audio(path)
    assert path in str(err.value)
    assert parse_sphere_header(path)["sample_coding"] == "pcm,embedded-shorten-v2.00"   # the header still parses
    _sphere(path, [0] * 50)                          # shorten data without a sample_coding field
    with open(path, "r+b") as fh:
        fh.seek(1024)
        fh.write(b"ajkg\x02")
    with pytest.raises(UserError, match="sph2pipe"):
        read_sphere(path)


def test_tidigits_isolated_digits(tmp_path):
    root = tmp_path / "tidigits"
    tone = (_tone(500, 0.2, 20000) * 32767).astype(np.int16)
    for part, group, spk in [("train", "man", "ae"), ("train", "girl", "bf"), ("test", "woman", "cd")]:
        for name in ("1a", "za", "oa", "9b", "174a", "zo1b"):
            _sphere(str(root / part / group / spk / f"{name}.wav"), tone)
    train = load_tidigits(str(tmp_path), "train")
    assert len(train) == 6 and train.sample_rate == 20000
    assert sorted(train.labels.tolist()) == [0, 0, 1, 1, 9, 9] and set(train.speakers.tolist()) == {"ae", "bf"}
    with_oh = load_tidigits(str(root), "all", include_oh=True)
    assert len(with_oh) == 12 and (with_oh.labels == 0).sum() == 6
    assert load_tidigits(str(root), "test").speakers.tolist() == ["cd"] * 3
    assert len(load_tidigits(str(root), "train", speakers=["bf"])) == 3
    x = featurize(train.waveforms, train.sample_rate)            # 20 kHz input, 8 kHz maps
    assert x.shape == (6, 784)
    _sphere(str(root / "train" / "man" / "ae" / "2b.wav"), tone, coding="pcm,embedded-shorten-v2.00")
    with pytest.raises(UserError, match="sph2pipe") as err:
        load_tidigits(str(root), "train")
    assert "2b.wav" in str(err.value)


def test_ti46_digit_words(tmp_path):
    base = tmp_path / "ti46" / "TI20"
    tone = (_tone(500, 0.2, 12500) * 32767).astype(np.int16)
    for spk in ("f1", "m3"):
        for word in ("00", "07", "EN", "YS"):
            for tok in range(2):
                _sphere(str(base / "TRAIN" / spk.upper() / f"{word}{spk}set{tok}.wav".upper()), tone, rate=12500)
                _sphere(str(base / "TEST" / spk.upper() / f"{word}{spk}s{tok + 1}t0.wav".upper()), tone, rate=12500)
    train = load_ti46(str(tmp_path), "train")
    assert len(train) == 8 and train.sample_rate == 12500
    assert sorted(train.labels.tolist()) == [0, 0, 0, 0, 7, 7, 7, 7]
    assert set(train.speakers.tolist()) == {"f1", "m3"}
    assert len(load_ti46(str(base), "test", speakers="m3")) == 4
    assert len(load_ti46(str(tmp_path / "ti46"), "all")) == 16
    (base / "TRAIN" / "F1" / "00F1S1T0.WAV").write_bytes(b"")
    with pytest.raises(UserError, match="does not belong in train"):
        load_ti46(str(tmp_path), "train")
