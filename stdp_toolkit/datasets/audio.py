"""Audio front end: a spoken word -> a fixed-size log-mel map in [0, 1], used as Poisson input rates.

The network scales every input value in [0, 1] by its maximum rate, exactly like MNIST pixels / 255,
so a map must be the same size for every word, zero where there is nothing to hear and about as
bright on average as the images the network's parameters were tuned for. Per waveform:

1. **resample** to ``sample_rate`` (soxr, via librosa), so corpora recorded at 8, 12.5, 16 or 20
   kHz give the same map;
2. **trim** leading and trailing silence: frames more than ``top_db`` below the loudest frame
   (``librosa.effects.trim``); silences inside the word stay;
3. **mel power spectrogram** with a fixed window and hop (``window_ms``, ``hop_ms``);
4. **length normalisation**: the frames are resampled along time to ``n_frames`` by averaging the
   power over equal time slices (each output frame covers 1/n_frames of the word), so every word
   fills the map whatever its duration: a word is an image whose width is time-warped to fit;
5. **scaling** of the power in dB relative to the word's loudest bin (floored ``floor_db`` below it,
   so silence has a finite level), in one of two ways:

   * ``centred`` (default): the dB map is double-centred, i.e. each band's mean over time and then
     each frame's mean over the bands is subtracted, and ``[0, range_db]`` dB above that local
     average maps linearly onto [0, 1]. What is left is where the spectrum is *locally* strong:
     formant positions and their movement. Subtracting the band means removes the speaker's and
     the channel's spectral tilt (per-word cepstral mean normalisation in the mel domain),
     subtracting the frame means removes the loudness contour. Bins at the floor (silence) are
     0. A steady tone maps to (almost) nothing: only changes over time or frequency are coded.
   * ``peak``: everything ``range_db`` below the word's peak is 0, the peak is 1 (the plain
     log-mel image; loudness-invariant too).

   Raising the map to ``gamma`` (> 1) sharpens the contrast and lowers the mean input rate.

Why centring: the Diehl & Cook network classifies by which neuron's normalised weight vector has
the largest dot product with the input, i.e. by prototype matching. Plain log-mel maps of all ten
digits share one strong feature (the voiced low bands), which dominates that dot product. On the
official FSDD split, the unimodal 100-neuron network (one epoch, 2,700 words) reached 0.29 test
accuracy on peak-scaled maps and 0.53-0.55 on centred ones; 400 neurons: 0.74-0.77.

Why ``range_db`` 10: it sets the input intensity (mean map value ~0.21 on FSDD; MNIST: 0.13).
Sparser maps (15 dB: 0.15, 20 dB: 0.11) left many words below the network's spike minimum and
learned worse (100 neurons: 0.49, 0.36); denser ones (7 dB: 0.27) did a little better with 100
neurons (0.61) but let the adaptive thresholds of a 400-neuron network run away until it stopped
firing.

Rows of a map are mel bands (row 0 = lowest frequency), columns are time; ``featurize`` returns the
maps flattened row by row, ``[N, n_mels * n_frames]``.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import asdict, dataclass, fields

import numpy as np

from ..errors import UserError

SCALINGS = ("centred", "peak")
# upper bounds: far beyond any speech front end, low enough that a slip (Hz for kHz, s for ms) cannot
# ask for a gigantic resampling, FFT or map
_HIGH = dict(sample_rate=384_000, n_mels=1024, n_frames=1024, window_ms=1000.0, hop_ms=1000.0, fmin=192_000.0,
             fmax=192_000.0, top_db=300.0, range_db=300.0, floor_db=300.0, gamma=100.0)
_UNITS = dict(sample_rate="Hz", window_ms="ms", hop_ms="ms", fmin="Hz", fmax="Hz", top_db="dB", range_db="dB",
              floor_db="dB")


@dataclass(frozen=True)
class AudioSettings:
    """Front-end settings; stored in a config's ``audio`` section (``to_dict`` / ``from_dict``)."""

    sample_rate: int = 8000        # Hz; every waveform is resampled to this first
    n_mels: int = 28               # mel bands = rows of the map
    n_frames: int = 28             # time slices = columns of the map
    window_ms: float = 32.0        # STFT window length (n_fft = window in samples)
    hop_ms: float = 8.0            # STFT hop
    fmin: float = 0.0              # Hz, lowest mel band edge
    fmax: float | None = None      # Hz, highest mel band edge; None = sample_rate / 2
    top_db: float = 30.0           # trimming threshold below the loudest frame; 0 = no trimming
    scaling: str = "centred"       # centred | peak (see the module docstring)
    range_db: float = 10.0         # dB mapped onto [0, 1]: above the local mean (centred) or below
                                   # the peak (peak; use ~40 there)
    floor_db: float = 60.0         # bins this far below the word's peak are silence (0 in the map)
    gamma: float = 1.0             # contrast exponent applied to the [0, 1] map

    def __post_init__(self):
        self.validate()

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_mels, self.n_frames)

    @property
    def n_inputs(self) -> int:
        """Input neurons one map needs."""
        return self.n_mels * self.n_frames

    @property
    def n_fft(self) -> int:
        return int(round(self.window_ms * self.sample_rate / 1000))

    @property
    def hop_length(self) -> int:
        return max(1, int(round(self.hop_ms * self.sample_rate / 1000)))

    def validate(self) -> "AudioSettings":
        from ..validation import integer as check_integer, number as check_number

        def number(name, lo, integer=False, allow_equal=False):
            check = check_integer if integer else check_number
            check(f"audio.{name}", getattr(self, name), low=lo, low_open=not allow_equal, high=_HIGH[name],
                  unit=_UNITS.get(name, ""), what="setting")

        number("sample_rate", 1000, integer=True, allow_equal=True)
        number("n_mels", 1, integer=True, allow_equal=True)
        number("n_frames", 1, integer=True, allow_equal=True)
        number("window_ms", 0)
        number("hop_ms", 0)
        number("fmin", 0, allow_equal=True)
        number("top_db", 0, allow_equal=True)
        number("range_db", 0)
        number("floor_db", 0)
        number("gamma", 0)
        if not isinstance(self.scaling, str) or self.scaling not in SCALINGS:
            from ..validation import show

            raise UserError(f"audio.scaling must be one of {', '.join(SCALINGS)}, got {show(self.scaling)}")
        nyquist = self.sample_rate / 2
        fmax = nyquist if self.fmax is None else self.fmax
        if self.fmax is not None:
            number("fmax", 0)
        if not self.fmin < fmax <= nyquist:
            raise UserError(f"audio: need fmin < fmax <= sample_rate / 2 = {nyquist:g} Hz, "
                            f"got fmin {self.fmin!r}, fmax {self.fmax!r}")
        if self.n_fft < 16:
            raise UserError(f"audio.window_ms {self.window_ms!r} gives a {self.n_fft}-sample window at "
                            f"{self.sample_rate} Hz; use at least 16 samples")
        return self

    # ---- serialisation --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None, source: str = "audio") -> "AudioSettings":
        """Settings from a mapping (a config's ``audio`` section); missing keys keep their defaults."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise UserError(f"{source}: expected a mapping of audio front-end settings, got {type(data).__name__}")
        from ..validation import unknown_keys

        known = {f.name for f in fields(cls)}
        unknown = unknown_keys(data, known)
        if unknown:
            raise UserError(f"{source}: unknown audio setting(s) {unknown}; known: {sorted(known)}")
        values = dict(data)
        for key in ("sample_rate", "n_mels", "n_frames"):  # YAML may give 8000.0; keep ints ints
            v = values.get(key)
            if isinstance(v, float) and v.is_integer():
                values[key] = int(v)
        return cls(**values)


# ------------------------------------------------------------------------------------------------
# feature maps
# ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa

    with warnings.catch_warnings():  # empty filters are reported below as a UserError instead
        warnings.simplefilter("ignore", UserWarning)
        basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    if (basis.max(axis=1) <= 0).any():
        raise UserError(f"audio: {n_mels} mel bands are too many for a {n_fft}-sample window at {sample_rate} Hz "
                        "(some bands contain no FFT bin); use fewer n_mels, a longer window_ms or a higher fmin")
    return basis.astype(np.float32)


@functools.lru_cache(maxsize=64)
def _time_weights(n_in: int, n_out: int) -> np.ndarray:
    """[n_in, n_out] weights averaging n_in frames onto n_out equal time slices (by overlap)."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    start, stop = np.arange(n_in)[:, None], np.arange(1, n_in + 1)[:, None]
    overlap = np.clip(np.minimum(stop, edges[None, 1:]) - np.maximum(start, edges[None, :-1]), 0.0, None)
    return (overlap / overlap.sum(axis=0, keepdims=True)).astype(np.float32)


def _mono(waveform) -> np.ndarray:
    y = np.asarray(waveform, dtype=np.float32)
    if y.ndim == 2:          # [samples, channels], as soundfile returns
        y = y.mean(axis=1)
    if y.ndim != 1:
        raise UserError(f"a waveform must be 1-D (or [samples, channels]), got shape {y.shape}")
    return y


def resample(waveform, orig_rate: int, target_rate: int) -> np.ndarray:
    """``waveform`` at ``target_rate`` (soxr high quality); unchanged when the rates agree."""
    y = _mono(waveform)
    if int(orig_rate) == int(target_rate):
        return y
    import librosa

    return librosa.resample(y, orig_sr=int(orig_rate), target_sr=int(target_rate), res_type="soxr_hq")


def _prefix(source) -> str:
    return f"{source}: " if source else ""


def _mel_power(y: np.ndarray, s: AudioSettings, source) -> np.ndarray:
    """Mel power [n_mels, n_frames] of ``y`` (already at ``s.sample_rate``), after trimming."""
    import librosa

    if len(y) == 0 or not np.isfinite(y).all():
        raise UserError(f"{_prefix(source)}cannot featurise an empty waveform or one with NaN/inf samples")
    n_fft, hop = s.n_fft, s.hop_length
    if len(y) < n_fft:
        raise UserError(f"{_prefix(source)}{1000 * len(y) / s.sample_rate:.3g} ms of audio is shorter than one "
                        f"{s.window_ms:g} ms analysis window (audio.window_ms), so it cannot be featurised; use a "
                        "longer recording or a shorter window_ms")
    if s.top_db > 0 and len(y) > n_fft:
        trimmed, _ = librosa.effects.trim(y, top_db=s.top_db, frame_length=n_fft, hop_length=hop)
        if len(trimmed) > 0:
            y = trimmed
    if len(y) < n_fft:      # a click: pad so one full window fits
        y = np.pad(y, (0, n_fft - len(y)))
    spec = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True)) ** 2
    fmax = s.sample_rate / 2 if s.fmax is None else s.fmax
    mel = _mel_basis(s.sample_rate, n_fft, s.n_mels, float(s.fmin), float(fmax)) @ spec
    mel = mel @ _time_weights(mel.shape[1], s.n_frames)
    if not np.isfinite(mel).all():
        raise UserError(f"{_prefix(source)}the waveform is too loud to featurise (its power overflows float32); "
                        "scale it to [-1, 1]")
    return mel


def _scale(mel: np.ndarray, s: AudioSettings) -> np.ndarray:
    peak = float(mel.max())
    if peak <= 0:
        return np.zeros(s.shape, np.float32)     # digital silence: no input spikes
    floor = peak * 10.0 ** (-s.floor_db / 10.0)
    db = 10.0 * np.log10(np.maximum(mel, floor) / peak)
    if s.scaling == "centred":
        db -= db.mean(axis=1, keepdims=True)     # each band's mean over time
        db -= db.mean(axis=0, keepdims=True)     # each frame's mean over the bands
        out = np.clip(db / s.range_db, 0.0, 1.0)
    else:
        out = np.clip(1.0 + db / s.range_db, 0.0, 1.0)
    out[mel <= floor] = 0.0                      # silence stays silent whatever the centring gives
    if s.gamma != 1.0:
        out = out ** s.gamma
    return out.astype(np.float32)


def log_mel_map(waveform, sample_rate: int, settings: AudioSettings | None = None, source: str | None = None
                ) -> np.ndarray:
    """One waveform -> float32 map [n_mels, n_frames] in [0, 1] (see the module docstring).

    A waveform shorter than one analysis window (``window_ms``), empty or with NaN/inf samples is
    a UserError (starting with ``source``, e.g. the file name, when given); digital silence gives
    an all-zero map (:func:`featurize` refuses it instead).
    """
    s = settings or AudioSettings()
    y = resample(waveform, sample_rate, s.sample_rate)
    return _scale(_mel_power(y, s, source), s)


def featurize(waveforms, sample_rate: int, settings: AudioSettings | None = None, sources=None) -> np.ndarray:
    """Waveforms (a list of 1-D arrays at ``sample_rate``) -> float32 [N, n_mels * n_frames] in [0, 1].

    The rows are ready as network input (``experiment.train`` takes them as they are); reshape to
    ``[N, n_mels, n_frames]`` to look at them. ``sources`` (e.g. ``Utterances.files``) names the
    waveforms in error messages; without it they are named by their index. A waveform that cannot
    give a map (see :func:`log_mel_map`) or is silent (it would be a sample without input spikes)
    is a UserError naming it.
    """
    s = settings or AudioSettings()
    if sources is not None and len(sources) != len(waveforms):
        raise UserError(f"featurize: {len(sources)} sources for {len(waveforms)} waveforms")
    out = np.empty((len(waveforms), s.n_inputs), np.float32)
    for i, w in enumerate(waveforms):
        source = sources[i] if sources is not None else f"waveform {i} of {len(waveforms)}"
        mel = _mel_power(resample(w, sample_rate, s.sample_rate), s, source)
        if not mel.max() > 0:
            raise UserError(f"{source} is silent (no power in any mel band after trimming), so its map would be "
                            "empty and it would give the network no input; replace it or leave it out")
        out[i] = _scale(mel, s).ravel()
    return out


# ------------------------------------------------------------------------------------------------
# noise
# ------------------------------------------------------------------------------------------------
def add_noise(waveform, snr_db: float, seed=0, source: str | None = None) -> np.ndarray:
    """``waveform`` plus white Gaussian noise at ``snr_db``, as float32.

    ``seed`` is anything ``np.random.default_rng`` takes (e.g. ``(seed, utterance_index)`` for one
    independent, reproducible noise per utterance) or a Generator.

    The SNR is the ratio of the mean power of the whole waveform (silences included, the usual
    definition for isolated-word corpora) to the noise power; the drawn noise is rescaled to its
    exact power, so the realised SNR is the requested one, not just its expectation. ``source``
    (e.g. the file name) starts the error messages.
    """
    y = _mono(waveform).astype(np.float64)
    if not isinstance(snr_db, (int, float, np.integer, np.floating)) or isinstance(snr_db, bool) \
            or not np.isfinite(snr_db):
        raise UserError(f"the SNR must be a finite number of dB, got {snr_db!r}")
    if not np.isfinite(y).all():
        raise UserError(f"{_prefix(source)}cannot add noise to a waveform with NaN/inf samples")
    p_signal = float(np.mean(y ** 2)) if len(y) else 0.0
    if not p_signal > 0:
        raise UserError(f"{_prefix(source)}cannot add noise at {float(snr_db):g} dB SNR to a silent (all-zero or "
                        "empty) waveform: the noise power is relative to the signal's, which is zero; "
                        "leave the recording out")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    noise = rng.standard_normal(len(y))
    with np.errstate(over="ignore"):
        noise *= np.sqrt(p_signal / (10.0 ** (float(snr_db) / 10.0)) / np.mean(noise ** 2))
        out = (y + noise).astype(np.float32)
    if not np.isfinite(out).all():
        raise UserError(f"{_prefix(source)}noise at {float(snr_db):g} dB SNR overflows float32; use a higher SNR")
    return out
