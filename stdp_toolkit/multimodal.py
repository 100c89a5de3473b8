"""Multimodal (image + spoken digit) runs: paired inputs, per-ensemble readouts, noise robustness.

The network is an ordinary run of :mod:`stdp_toolkit.experiment` with two ensembles (config
section ``ensembles``: ``image`` then ``audio``) and, optionally, cross-modal STDP synapses between
their excitatory layers (``cross_modal``). What is multimodal lives here:

* **pairing**: every MNIST image is shown together with a recording of the same digit. Per class,
  the recordings are shuffled (seeded) and dealt out in turn, so each recording is used equally
  often; the pairing of a split depends only on the seed. Labels choose the partner, nothing
  else: learning stays unsupervised. The test set pairs each test image with a test recording.
* **readouts**: neurons are labelled once on paired training samples; the image readout votes with
  the image ensemble's neurons only (D&C's vote), the audio readout with the audio ensemble's,
  ``both`` with all neurons of both, and ``both_normalised`` sums the two ensembles' class scores,
  each normalised to sum 1 (``readout.predict_ensembles``). The plain joint vote lets the louder
  ensemble decide, which is right on clean input and wrong when noise makes one ensemble fire a
  lot for every class; measured at 100 + 100 neurons (1,000 test pairs): clean 84.9 % plain vs
  81.1 % normalised, image pixel noise 0.3: 52.7 % plain vs 62.1 % normalised (audio alone 64.5 %).
  Each readout has a mean-rate and a proportion vote; ``both_normalised`` with the proportion vote
  was the most accurate joint answer on the validation split (docs/benchmarks.md, section 5).
* **noise**: one modality distorted at test time (``datasets/noise.py``), the other clean.
* **validation**: settings are chosen on split ``val`` and trained on split ``fit``, never on
  ``test``: ``val`` pairs the last 10,000 training images with the training recordings numbered
  5-9 (300 in the official split), ``fit`` pairs the other training images and recordings, so
  neither a digit image nor a recording is seen in both.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from . import experiment, readout
from .datasets import VALIDATION_DIGITS, AudioSettings, featurize, fsdd_recording_number, load_digits, load_fsdd
from .datasets.audio import add_noise
from .datasets import paths
from .datasets.noise import NoiseSpec, image_noise
from .errors import UserError
from .network.config import Config

IMAGE, AUDIO = "image", "audio"
AUDIO_DIR_ENV = "STDP_AUDIO_DIR"
SPLITS = ("train", "test", "fit", "val")
VALIDATION_RECORDINGS = range(5, 10)  # FSDD training recordings {digit}_{speaker}_{5..9}.wav


@dataclass
class PairedSet:
    """Network input for paired samples: image pixels, then the audio map, values in [0, 1]."""

    x: np.ndarray            # [n, n_inputs] float32
    labels: np.ndarray       # [n] digit
    image_index: np.ndarray  # which image of the split ('fit' and 'val': of the training set)
    audio_index: np.ndarray  # which recording of the split ('fit' and 'val': of the training recordings)
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def check_config(cfg: Config) -> AudioSettings:
    """A multimodal config has an 'image' and an 'audio' ensemble whose sizes fit the data."""
    names = [e.name for e in cfg.ensemble_list()]
    if names != [IMAGE, AUDIO]:
        raise UserError(f"config {cfg.name}: a multimodal network needs the ensembles [image, audio] in this "
                        f"order (config section ensembles), got {names}")
    settings = cfg.audio_settings()
    if cfg.ensemble(IMAGE).n_inputs != 784:
        raise UserError(f"config {cfg.name}: the image ensemble needs n_inputs 784 (28x28 images)")
    if cfg.ensemble(AUDIO).n_inputs != settings.n_inputs:
        raise UserError(f"config {cfg.name}: the audio ensemble has {cfg.ensemble(AUDIO).n_inputs} inputs but the "
                        f"audio front end makes {settings.n_mels}x{settings.n_frames} = {settings.n_inputs} values")
    return settings


def resolve_audio_dir(audio_dir: str | None, data_dir: str | None) -> str:
    """--audio-dir, else $STDP_AUDIO_DIR, else the data directory's fsdd/ (datasets.paths.data_dir)."""
    for candidate in (audio_dir, os.environ.get(AUDIO_DIR_ENV)):
        if candidate:
            return candidate
    root = paths.data_dir(data_dir)
    if root and os.path.isdir(os.path.join(root, "fsdd")):
        return os.path.join(root, "fsdd")
    raise UserError("this config is multimodal: give --audio-dir (the Free Spoken Digit Dataset folder with "
                    f"{{digit}}_{{speaker}}_{{index}}.wav files) or set ${AUDIO_DIR_ENV}")


def pair_by_class(image_labels: np.ndarray, audio_labels: np.ndarray, seed: int) -> np.ndarray:
    """For every image, the index of a recording of the same class (balanced, seeded)."""
    image_labels, audio_labels = np.asarray(image_labels), np.asarray(audio_labels)
    rng = np.random.default_rng([int(seed), 7])
    partner = np.empty(len(image_labels), dtype=np.int64)
    for c in np.unique(image_labels):
        pool = np.flatnonzero(audio_labels == c)
        if len(pool) == 0:
            raise UserError(f"no recording of digit {c} to pair with its images")
        want = np.flatnonzero(image_labels == c)
        reps = -(-len(want) // len(pool))
        deck = np.concatenate([rng.permutation(pool) for _ in range(reps)])
        partner[want] = deck[: len(want)]
    return partner


@functools.lru_cache(maxsize=8)
def _audio_features(audio_dir: str, split: str, test_speakers: tuple | None, settings: AudioSettings,
                    snr_db: float | None, seed: int):
    """Maps, labels and indices (into the FSDD split 'train' or 'test') of the recordings of ``split``.
    'fit' and 'val' are cut from the training recordings by take number before any noise or
    featurizing; the noise of a recording is seeded by its index, so it is the same in every split."""
    utts = load_fsdd(audio_dir, "test" if split == "test" else "train",
                     test_speakers=list(test_speakers) if test_speakers else None)
    keep = np.arange(len(utts))
    if split in ("fit", "val"):
        numbers = np.array([fsdd_recording_number(f) for f in utts.files])
        keep = np.flatnonzero(np.isin(numbers, list(VALIDATION_RECORDINGS)) == (split == "val"))
        if len(keep) == 0:
            raise UserError(f"no FSDD training recording falls in the {split} split (recordings numbered "
                            f"{VALIDATION_RECORDINGS.start}-{VALIDATION_RECORDINGS.stop - 1} are validation)")
    waves = [utts.waveforms[k] for k in keep]
    if snr_db is not None:
        waves = [add_noise(w, snr_db, seed=[seed, int(k)], source=utts.files[k]) for k, w in zip(keep, waves)]
    feats = featurize(waves, utts.sample_rate, settings, sources=[utts.files[k] for k in keep])
    return feats, utts.labels[keep].astype(np.int64), keep


def _split_images(data_dir, split: str, n: int | None):
    """Images of ``split`` and the index of the first: 'fit' and 'val' cut the training set, the
    last 10,000 being 'val'."""
    if split in ("train", "test"):
        return (*load_digits(data_dir, split, n), 0)
    images, labels, source = load_digits(data_dir, "train")
    cut = len(images) - VALIDATION_DIGITS
    if cut <= 0:
        raise UserError(f"{source} has {len(images)} training images: a validation split needs more than "
                        f"{VALIDATION_DIGITS}")
    part = slice(0, cut) if split == "fit" else slice(cut, None)
    images, labels = images[part], labels[part]
    if n is not None:
        if n > len(images):
            raise UserError(f"asked for {n} {split} samples but {source} has only {len(images)} in that split")
        images, labels = images[:n], labels[:n]
    return images, labels, f"{source} ({split} split)", part.start


def load_pairs(cfg: Config, data_dir: str | None, audio_dir: str, split: str, n: int | None = None, *,
               seed: int = 0, noise: NoiseSpec | None = None, level: float | None = None,
               test_speakers=None) -> PairedSet:
    """Paired samples of ``split`` (the first ``n`` images), one modality optionally distorted.

    ``split`` is 'train' or 'test', or 'fit' / 'val' to choose settings without the test set."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    settings = check_config(cfg)
    images, labels, source, first = _split_images(data_dir, split, n)
    x_img = images.reshape(len(images), -1).astype(np.float32) / 255.0
    snr = level if noise is not None and noise.modality == AUDIO else None
    speakers = tuple([test_speakers] if isinstance(test_speakers, str) else test_speakers) if test_speakers else None
    feats, a_labels, recordings = _audio_features(os.path.abspath(audio_dir), split, speakers, settings, snr, seed)
    n_utts = len(a_labels)
    if noise is not None and noise.modality == IMAGE:
        x_img = image_noise(x_img, noise.kind, level, seed=seed)
    partner = pair_by_class(labels, a_labels, seed)
    x = np.concatenate([x_img, feats[partner]], axis=1)
    return PairedSet(x, np.asarray(labels, dtype=np.int64), first + np.arange(len(labels)), recordings[partner],
                     f"{source} + {n_utts} FSDD {split} recordings")


def readouts(cfg: Config, run: experiment.RunState, counts: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy of the image-only, audio-only and joint votes (mean and proportion)."""
    out = {}
    groups = {e.name: [e.neurons] for e in cfg.ensemble_list()}
    groups["both"] = [slice(0, cfg.n_neurons)]
    groups["both_normalised"] = [e.neurons for e in cfg.ensemble_list()]
    for name, sls in groups.items():
        pred = readout.predict_ensembles(counts, run.assignments, sls)
        pred_p = readout.predict_ensembles(counts, run.assignments, sls, run.proportions, method="proportion")
        out[name] = dict(accuracy=float((pred == labels).mean()),
                         accuracy_proportion=float((pred_p == labels).mean()),
                         mean_spikes=float(sum(counts[:, sl].sum(1).mean() for sl in sls)))
    return out


def accuracies(readouts: dict) -> dict:
    """Every readout's two votes flat: ``NAME`` (mean-rate vote) and ``NAME_proportion`` (proportion vote)."""
    return {**{name: r["accuracy"] for name, r in readouts.items()},
            **{f"{name}_proportion": r["accuracy_proportion"] for name, r in readouts.items()}}


def evaluate(run: experiment.RunState, pairs: PairedSet, **kw) -> dict:
    """Test-set accuracy of every readout; ``accuracy`` is the joint (both ensembles) vote."""
    res = experiment.evaluate(run, pairs.x, pairs.labels, **kw)
    per = readouts(run.cfg, run, res["counts"], pairs.labels)
    summary = {k: v for k, v in res.items() if k not in ("predictions", "counts")}
    summary["readouts"] = per
    summary.update(accuracy_image=per[IMAGE]["accuracy"], accuracy_audio=per[AUDIO]["accuracy"])
    return summary


def noise_curve(run: experiment.RunState, data_dir, audio_dir, spec: NoiseSpec, n: int | None, *,
                seed: int = 0, test_speakers=None, split: str = "test", **kw) -> list[dict]:
    """Accuracy of every readout at each noise level of ``spec`` (on ``split``: 'val' to choose settings),
    both votes (:func:`accuracies`)."""
    points = []
    for level in spec.levels:
        pairs = load_pairs(run.cfg, data_dir, audio_dir, split, n, seed=seed, noise=spec, level=level,
                           test_speakers=test_speakers)
        res = evaluate(run, pairs, **kw)
        points.append(dict(modality=spec.modality, kind=spec.kind, level=level, **accuracies(res["readouts"]),
                           test_samples=res["test_samples"], seconds=res["seconds"]))
    return points
