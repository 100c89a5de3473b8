"""Spoken-digit corpora: the Free Spoken Digit Dataset (FSDD), TIDIGITS and TI46 (TI-20 digits).

Every loader returns an ``Utterances`` set (waveforms at one sample rate, digit labels, speakers,
file paths) that ``audio.featurize`` turns into network input. Loaders are strict: a file that
cannot be read, is truncated, holds no samples, NaN samples or only silence, is shorter than one
analysis window or is named against the corpus convention raises a UserError naming it, because a
silently shorter (or blank) data set changes every number measured on it.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .audio import resample
from .sphere import MAGIC, read_sphere

SPLITS = ("train", "test", "all")
FSDD_TEST_INDICES = range(5)          # official split: recordings 0-4 of each speaker and digit are test
_FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$", re.IGNORECASE)


def fsdd_recording_number(path: str) -> int:
    """The take number of an FSDD file (``{digit}_{speaker}_{number}.wav``): splits are made by it."""
    return int(_FSDD_NAME.match(os.path.basename(path)).group(3))


@dataclass
class Utterances:
    """Isolated spoken digits: waveforms (float32, mono) at ``sample_rate`` with their labels."""

    waveforms: list
    sample_rate: int
    labels: np.ndarray              # uint8 digit 0-9
    speakers: np.ndarray            # str
    files: list

    def __len__(self) -> int:
        return len(self.waveforms)

    def subset(self, index) -> "Utterances":
        """The utterances at ``index`` (a boolean mask or integer indices)."""
        idx = np.arange(len(self))[np.asarray(index)]
        return Utterances([self.waveforms[i] for i in idx], self.sample_rate, self.labels[idx],
                          self.speakers[idx], [self.files[i] for i in idx])


# ------------------------------------------------------------------------------------------------
# reading files
# ------------------------------------------------------------------------------------------------
# A file is refused unless it can give a feature map: the limits are those of ``AudioSettings``
MIN_RATE, MAX_RATE = 1000, 384_000      # Hz, as audio.sample_rate accepts
MIN_DURATION_MS = 32.0                  # one STFT window at the default settings; no spoken word is shorter
SILENCE = 2.0 ** -15                    # one 16-bit step: a recording whose every sample is smaller is silent
_FIX = "replace it or remove it from the folder"


# codings whose frames all have one size: WAV format tags (PCM, float, A-law, mu-law, extensible) and
# AIFF-C compression types with their bytes per sample (None: from the sample size)
_WAV_FIXED = (1, 3, 6, 7, 0xFFFE)
_AIFC_FIXED = {b"NONE": None, b"twos": None, b"sowt": None, b"raw ": None, b"in24": 3, b"42ni": 3, b"in32": 4,
               b"23ni": 4, b"fl32": 4, b"FL32": 4, b"fl64": 8, b"FL64": 8, b"ulaw": 1, b"ULAW": 1, b"alaw": 1,
               b"ALAW": 1}


def _missing_samples(path: str) -> str | None:
    """What a cut RIFF WAVE or AIFF file lacks ("2,384 frames ... only 1,288"), None if it is whole.

    libsndfile reads a cut WAV or AIFF silently as a shorter one (it trusts the file size over
    the header), so the sample chunk's declared size is checked against the file here. Unknown
    sizes (0 or 0xFFFFFFFF, written by streaming tools) and layouts this walk does not understand
    are left to libsndfile.
    """
    import struct

    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12:
                return None
            if head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE":
                endian, fmt_id, data_id = ("<" if head[:4] == b"RIFF" else ">"), b"fmt ", b"data"
            elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
                endian, fmt_id, data_id = ">", b"COMM", b"SSND"
            else:
                return None
            pos, frame, declared = 12, None, None
            while pos + 8 <= size:
                fh.seek(pos)
                chunk = fh.read(8)
                cid, csize = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
                if cid == fmt_id:
                    fmt = fh.read(min(csize, 22))
                    if fmt_id == b"fmt " and len(fmt) >= 14:
                        tag, block = struct.unpack(endian + "H", fmt[:2])[0], struct.unpack(endian + "H", fmt[12:14])[0]
                        frame = block if tag in _WAV_FIXED else None
                    elif fmt_id == b"COMM" and len(fmt) >= 8:
                        channels, declared, bits = struct.unpack(">hIh", fmt[:8])
                        coding = fmt[18:22] if head[8:12] == b"AIFC" else b"NONE"
                        if coding in _AIFC_FIXED and channels > 0 and bits > 0:
                            frame = channels * (_AIFC_FIXED[coding] or (bits + 7) // 8)
                elif cid == data_id:
                    if csize in (0, 0xFFFFFFFF):
                        return None
                    held = min(csize, size - pos - 8)
                    skip = 0
                    if data_id == b"SSND":      # an offset and a block size precede the samples
                        fh.seek(pos + 8)
                        skip = 8 + (struct.unpack(">I", fh.read(4))[0] if held >= 4 else 0)
                    have = max(0, held - skip)
                    want = declared * frame if data_id == b"SSND" and declared is not None and frame else csize - skip
                    if have >= want:
                        return None
                    if frame:
                        return f"{want // frame:,} frames but the file holds only {have // frame:,}"
                    return f"{want:,} bytes of samples but the file holds only {have:,}"
                pos += 8 + csize + (csize & 1)
    except (OSError, struct.error):
        return None     # reading it below reports the problem
    return None


def read_audio(path: str) -> tuple[np.ndarray, int]:
    """(mono float32 waveform, sample rate) of a RIFF WAV/FLAC/... or NIST SPHERE file.

    The format is told by the content, not the name: TIDIGITS and TI46 ship SPHERE files named
    ``.wav``, and after ``sph2pipe -f wav`` the same names hold RIFF WAVs.

    Refused with a UserError naming the file: unreadable, truncated (fewer samples than the header
    declares), empty, NaN/inf samples, a sample rate outside 1-384 kHz, shorter than
    ``MIN_DURATION_MS`` (one analysis window) and silent (every sample below one 16-bit step):
    none of these gives a meaningful feature map, and a silently shorter or blank data set
    changes every number measured on it.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(MAGIC))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head == MAGIC:
        y, rate, _ = read_sphere(path)
    else:
        import soundfile

        missing = _missing_samples(path)
        if missing:
            raise UserError(f"audio file {path} is truncated: its header says {missing}; copy or export it again, "
                            "or remove it from the folder")
        try:
            with soundfile.SoundFile(path) as fh:
                declared, rate, kind = fh.frames, fh.samplerate, fh.format
                y = fh.read(dtype="float32", always_2d=False)
        except (RuntimeError, OSError, ValueError, TypeError, MemoryError) as exc:   # LibsndfileError is a RuntimeError
            raise UserError(f"cannot read audio file {path}: {str(exc).strip() or type(exc).__name__} (the file "
                            f"is corrupt, truncated or not audio; {_FIX})") from None
        if 0 < len(y) < declared and kind not in ("OGG", "MPEG"):   # their frame counts are estimates
            raise UserError(f"audio file {path} is truncated: its header says {declared:,} frames but only "
                            f"{len(y):,} could be read; copy or export it again, or remove it from the folder")
    bad = int(np.count_nonzero(~np.isfinite(y)))   # before the channels are averaged: inf - inf is a warning
    if bad:
        raise UserError(f"audio file {path} holds {bad:,} NaN or infinite sample(s) (a damaged float WAV); {_FIX}")
    if y.ndim == 2:
        y = y.mean(axis=1, dtype=np.float64)
    if len(y) == 0:
        raise UserError(f"audio file {path} holds no samples; {_FIX}")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UserError(f"audio file {path} has a sample rate of {rate} Hz, outside {MIN_RATE:,}-{MAX_RATE:,} Hz "
                        f"(the header is corrupt or this is not a speech recording); {_FIX}")
    if len(y) < MIN_DURATION_MS * rate / 1000:
        raise UserError(f"audio file {path} lasts only {1000 * len(y) / rate:.3g} ms ({len(y):,} sample(s) at "
                        f"{rate} Hz), less than one {MIN_DURATION_MS:g} ms analysis window: too short to hold a "
                        f"spoken word and to be featurised; {_FIX}")
    peak = float(np.max(np.abs(y)))
    if peak < SILENCE:
        what = "every sample is zero" if peak == 0 else \
            f"its loudest sample, {20 * np.log10(peak):.0f} dBFS, is below one 16-bit step"
        raise UserError(f"audio file {path} is silent ({what}): there is no word to featurise; {_FIX}")
    return y, int(rate)


def _read_all(paths: list[str]) -> tuple[list, int]:
    """Waveforms of ``paths`` at one sample rate (the most common; others are resampled to it)."""
    read = [read_audio(p) for p in paths]
    if not read:
        return [], 0
    rates = [r for _, r in read]
    rate = max(set(rates), key=rates.count)
    return [y if r == rate else resample(y, r, rate) for y, r in read], rate


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")


def _child(folder: str, name: str) -> str | None:
    """``folder/name`` matched case-insensitively (LDC discs are upper case, copies often lower)."""
    if not os.path.isdir(folder):
        return None
    for entry in sorted(os.listdir(folder)):
        if entry.lower() == name.lower() and os.path.isdir(os.path.join(folder, entry)):
            return os.path.join(folder, entry)
    return None


def _find_root(root: str, marker: str, parents: tuple[str, ...], what: str) -> str:
    """The folder under ``root`` holding ``marker`` (itself or a chain of ``parents``), else UserError."""
    if not os.path.isdir(root):
        raise UserError(f"{what} folder not found: {root}")
    candidates = [root]
    for chain in parents:
        folder = root
        for part in chain.split("/"):
            folder = _child(folder, part) if folder else None
        if folder:
            candidates.append(folder)
    for folder in candidates:
        if _child(folder, marker):
            return folder
    raise UserError(f"no {what} data in {root}: expected a {marker}/ folder there"
                    + (f" or under {', '.join(p + '/' for p in parents)}" if parents else ""))


def _finish(paths: list, labels: list, speakers_of: list, speakers) -> Utterances:
    """Keep the files of ``speakers`` (all when None), then read them."""
    spk = np.array(speakers_of)
    if speakers is not None:
        wanted = {str(v).lower() for v in ([speakers] if isinstance(speakers, str) else speakers)}
        unknown = sorted(wanted - set(spk.tolist()))
        if unknown:
            raise UserError(f"unknown speaker(s) {unknown}; this split has: {sorted(set(spk.tolist()))}")
        keep = np.isin(spk, sorted(wanted))
        paths, labels, spk = [p for p, k in zip(paths, keep) if k], np.asarray(labels)[keep], spk[keep]
    waves, rate = _read_all(paths)
    return Utterances(waves, rate, np.asarray(labels, np.uint8), spk, list(paths))


# ------------------------------------------------------------------------------------------------
# FSDD
# ------------------------------------------------------------------------------------------------
def fsdd_dir(root: str) -> str:
    """The folder holding the FSDD WAVs: ``root`` itself, ``root/recordings`` or ``root/fsdd/recordings``."""
    for folder in (os.path.join(root, "fsdd", "recordings"), os.path.join(root, "recordings"), root):
        if os.path.isdir(folder) and any(n.lower().endswith(".wav") for n in os.listdir(folder)):
            return folder
    if not os.path.isdir(root):
        raise UserError(f"FSDD folder not found: {root} (give the folder with the {{digit}}_{{speaker}}_{{index}}.wav "
                        "recordings, or one holding recordings/ or fsdd/recordings/)")
    raise UserError(f"no FSDD recordings in {root}: expected {{digit}}_{{speaker}}_{{index}}.wav files there "
                    "or in recordings/ or fsdd/recordings/ under it")


def load_fsdd(root: str, split: str = "train", speakers=None, test_speakers=None) -> Utterances:
    """The Free Spoken Digit Dataset (``{digit}_{speaker}_{index}.wav``), sorted by file name.

    ``split`` is 'train', 'test' or 'all'. By default the official split is used: index 0-4 of
    every speaker and digit is test, 5-49 train (2,700 / 300 of the 3,000 recordings).
    ``test_speakers`` (a name or a list) gives a **speaker-independent** split instead: 'test' is
    every recording of those speakers and 'train' every recording of the others, so no voice is
    heard in both ('all' ignores it). ``speakers`` keeps only the given speakers (after splitting).
    Speaker names are compared in lower case.
    Non-WAV files are ignored; a WAV named against the convention raises a UserError.
    """
    _check_split(split)
    folder = fsdd_dir(root)
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(".wav"))
    bad = [n for n in names if not _FSDD_NAME.match(n)]
    if bad:
        raise UserError(f"{len(bad)} WAV file(s) in {folder} are not named {{digit}}_{{speaker}}_{{index}}.wav "
                        f"(e.g. {', '.join(bad[:3])}); rename them or move them out of the folder")
    parts = [_FSDD_NAME.match(n).groups() for n in names]
    digit = np.array([int(d) for d, _, _ in parts], np.uint8)
    speaker = np.array([s.lower() for _, s, _ in parts])
    index = np.array([int(i) for _, _, i in parts])
    if test_speakers is None:
        is_test = np.isin(index, list(FSDD_TEST_INDICES))
    else:
        held = [str(v).lower() for v in ([test_speakers] if isinstance(test_speakers, str) else test_speakers)]
        unknown = sorted(set(held) - set(speaker.tolist()))
        if unknown or not held:
            raise UserError(f"test_speakers {held!r} are not all FSDD speakers in {folder}; "
                            f"it has: {sorted(set(speaker.tolist()))}")
        if set(held) >= set(speaker.tolist()):
            raise UserError(f"test_speakers {held!r} leave no speaker for training")
        is_test = np.isin(speaker, held)
    keep = np.ones(len(names), bool) if split == "all" else (is_test if split == "test" else ~is_test)
    if speakers is not None:
        wanted = {str(v).lower() for v in ([speakers] if isinstance(speakers, str) else speakers)}
        unknown = sorted(wanted - set(speaker.tolist()))
        if unknown:
            raise UserError(f"unknown FSDD speaker(s) {unknown}; {folder} has: {sorted(set(speaker.tolist()))}")
        keep &= np.isin(speaker, sorted(wanted))
    paths = [os.path.join(folder, n) for n, k in zip(names, keep) if k]
    waves, rate = _read_all(paths)      # read only what is returned
    return Utterances(waves, rate, digit[keep], speaker[keep], paths)


# ------------------------------------------------------------------------------------------------
# TIDIGITS (LDC93S10)
# ------------------------------------------------------------------------------------------------
TIDIGITS_GROUPS = ("man", "woman", "boy", "girl")
_TIDIGITS_NAME = re.compile(r"^([1-9oz])[ab]\.(wav|sph|wv1)$", re.IGNORECASE)   # isolated digits only
_TIDIGITS_UTTERANCE = re.compile(r"^[1-9oz]+[ab]\.(wav|sph|wv1)$", re.IGNORECASE)


def load_tidigits(root: str, split: str = "train", speakers=None, include_oh: bool = False) -> Utterances:
    """The isolated single-digit utterances of TIDIGITS, as laid out by LDC.

    Layout: ``{train,test}/{man,woman,boy,girl}/{speaker}/{digits}{a|b}.wav`` (any case), under
    ``root`` or ``root/tidigits``; the files are SPHERE-headed. Only one-digit names (``1a.wav``,
    ``zb.wav``) are isolated digits; digit strings are skipped. ``z`` is "zero" (label 0); ``o`` is
    "oh", a different word, left out unless ``include_oh`` (then also label 0). Train and test
    speakers are disjoint by design. LDC ships the audio shorten-compressed: convert it once with
    ``sph2pipe -f wav`` (the loader names the command when it meets such a file).
    """
    _check_split(split)
    base = _find_root(root, "train" if split != "test" else "test", ("tidigits",), "TIDIGITS")
    paths, labels, spk = [], [], []
    for part in (("train", "test") if split == "all" else (split,)):
        part_dir = _child(base, part)
        if part_dir is None:
            raise UserError(f"no TIDIGITS {part}/ folder in {base}")
        groups = [g for g in (_child(part_dir, name) for name in TIDIGITS_GROUPS) if g]
        if not groups:
            raise UserError(f"no TIDIGITS speaker groups in {part_dir}: expected {'/, '.join(TIDIGITS_GROUPS)}/")
        for group in groups:
            for speaker in sorted(os.listdir(group)):
                sdir = os.path.join(group, speaker)
                if not os.path.isdir(sdir):
                    continue
                for name in sorted(os.listdir(sdir)):
                    m = _TIDIGITS_NAME.match(name)
                    if m is None:
                        if name.lower().endswith((".wav", ".sph", ".wv1")) and not _TIDIGITS_UTTERANCE.match(name):
                            raise UserError(f"{os.path.join(sdir, name)} is not named like a TIDIGITS utterance "
                                            "({digits}{a|b}.wav with digits 1-9, o, z)")
                        continue
                    word = m.group(1).lower()
                    if word == "o" and not include_oh:
                        continue
                    paths.append(os.path.join(sdir, name))
                    labels.append(0 if word in "oz" else int(word))
                    spk.append(speaker.lower())
    if not paths:
        raise UserError(f"no isolated-digit TIDIGITS files ({{digit}}{{a|b}}.wav) found for split {split!r} in {base}")
    return _finish(paths, labels, spk, speakers)


# ------------------------------------------------------------------------------------------------
# TI46 (LDC93S9), TI-20 vocabulary
# ------------------------------------------------------------------------------------------------
# {word}{speaker}{session}t{token}: word 00-09 digits (10 commands follow), speaker f1-f8/m1-m8,
# session 'se' (enrolment = train, 10 tokens) or s1-s8 (test sessions, 2 tokens each).
_TI46_NAME = re.compile(r"^([0-9a-z]{2})([fm][1-8])(se|s[1-8])t(\d)\.(wav|sph)$", re.IGNORECASE)


def load_ti46(root: str, split: str = "train", speakers=None) -> Utterances:
    """The ten digit words of TI46's TI-20 vocabulary, as laid out on the LDC disc.

    Layout (any case): ``ti20/{train,test}/{f1..f8,m1..m8}/{word}{speaker}{session}t{token}.wav``
    under ``root``, ``root/ti46`` or ``root/ti46/ti46`` (or ``root`` is the ``ti20`` folder itself);
    word codes 00-09 are the digits zero-nine, the command words (en, er, go, ...) are skipped;
    'train' is the enrolment session (``se``, 10 tokens per word and speaker), 'test' sessions
    s1-s8 (16 tokens). TI46 is speaker-dependent: all 16 speakers are in both splits. Files are
    SPHERE-headed 12.5 kHz PCM; RIFF WAVs with the same names also work.
    """
    _check_split(split)
    if _child(root, "train") and not _child(root, "ti20"):
        base = root
    else:
        base = _child(_find_root(root, "ti20", ("ti46", "ti46/ti46"), "TI46"), "ti20")
    paths, labels, spk = [], [], []
    for part in (("train", "test") if split == "all" else (split,)):
        part_dir = _child(base, part)
        if part_dir is None:
            raise UserError(f"no TI46 {part}/ folder in {base}")
        for speaker in sorted(os.listdir(part_dir)):
            sdir = os.path.join(part_dir, speaker)
            if not os.path.isdir(sdir):
                continue
            for name in sorted(os.listdir(sdir)):
                if not name.lower().endswith((".wav", ".sph")):
                    continue
                m = _TI46_NAME.match(name)
                if m is None:
                    raise UserError(f"{os.path.join(sdir, name)} is not named like a TI46 TI-20 file "
                                    "({word}{speaker}{session}t{token}.wav, e.g. 00f1set0.wav)")
                word, who, session = m.group(1).lower(), m.group(2).lower(), m.group(3).lower()
                if (session == "se") != (part == "train"):
                    raise UserError(f"{os.path.join(sdir, name)}: session {session!r} does not belong in {part}/ "
                                    "(train holds the 'se' enrolment session, test s1-s8)")
                if not word.isdigit():
                    continue
                paths.append(os.path.join(sdir, name))
                labels.append(int(word))
                spk.append(who)
    if not paths:
        raise UserError(f"no TI46 digit files (00-09 word codes) found for split {split!r} in {base}")
    return _finish(paths, labels, spk, speakers)
