"""Distortions for robustness tests: image noise, audio noise at a given SNR, and their CLI spec.

A spec names the modality, the kind and one or more levels: ``image:pixel:0.3``,
``image:occlusion:0,0.25,0.5``, ``audio:snr:20,10,0``. All are seeded, so a noisy test set is
the same every time it is built.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError

IMAGE_KINDS = {
    # random-valued impulse noise: a fraction ``level`` of the pixels replaced by U(0, 1)
    "pixel": (0.0, 1.0),
    # additive Gaussian noise of standard deviation ``level`` (pixel scale 0..1), clipped to [0, 1]
    "gaussian": (0.0, float("inf")),
    # a square of ``level`` x the image area, at a random place over the digit, set to black
    "occlusion": (0.0, 1.0),
}
# white noise at ``level`` dB SNR; beyond +-200 dB the noise is nothing or everything (and at about
# -770 dB its samples overflow float32)
AUDIO_KINDS = {"snr": (-200.0, 200.0)}


@dataclass(frozen=True)
class NoiseSpec:
    modality: str       # image | audio
    kind: str
    levels: tuple

    def label(self, level) -> str:
        unit = " dB" if self.kind == "snr" else ""
        return f"{self.modality} {self.kind} {level:g}{unit}"


def parse_noise(text: str) -> NoiseSpec:
    """``MODALITY:KIND:LEVEL[,LEVEL...]`` -> NoiseSpec (UserError naming the problem otherwise)."""
    parts = str(text).split(":")
    kinds = {"image": IMAGE_KINDS, "audio": AUDIO_KINDS}
    usage = ("expected MODALITY:KIND:LEVELS, e.g. image:pixel:0.3, image:occlusion:0,0.25,0.5 or audio:snr:10,0 "
             f"(image kinds: {', '.join(IMAGE_KINDS)}; audio kinds: {', '.join(AUDIO_KINDS)})")
    if len(parts) != 3 or parts[0] not in kinds:
        raise UserError(f"bad noise spec {text!r}: {usage}")
    modality, kind, levels = parts
    if kind not in kinds[modality]:
        raise UserError(f"unknown {modality} noise kind {kind!r}: {usage}")
    try:
        values = tuple(float(v) for v in levels.split(",") if v.strip())
    except ValueError:
        raise UserError(f"bad noise levels {levels!r} in {text!r}: {usage}") from None
    lo, hi = kinds[modality][kind]
    bad = [v for v in values if not (lo <= v <= hi) or not np.isfinite(v)]
    if not values or bad:
        what = "an SNR must be a finite number of dB" if kind == "snr" else \
            f"an {modality} {kind} noise level must be a finite number"
        bounds = f">= {lo:g}" if hi == float("inf") else f"in [{lo:g}, {hi:g}]"
        example = "audio:snr:20,10,0" if kind == "snr" else f"{modality}:{kind}:{min(max(0.3, lo), hi):g}"
        got = ", ".join(f"{v:g}" for v in bad) if values else "no level"
        raise UserError(f"bad noise spec {text!r}: {what} {bounds} (e.g. {example}), got {got}")
    return NoiseSpec(modality, kind, values)


def image_noise(images: np.ndarray, kind: str, level: float, seed: int = 0) -> np.ndarray:
    """Distorted copy of ``images`` (float, [N, pixels] or [N, H, W], values in [0, 1])."""
    x = np.asarray(images, dtype=np.float32)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise UserError("image_noise expects pixel values in [0, 1] (divide uint8 images by 255)")
    rng = np.random.default_rng(seed)
    if level == 0:
        return x.copy()
    if kind == "pixel":
        hit = rng.random(x.shape) < level
        return np.where(hit, rng.random(x.shape, dtype=np.float32), x)
    if kind == "gaussian":
        return np.clip(x + rng.normal(0.0, level, x.shape).astype(np.float32), 0.0, 1.0)
    if kind == "occlusion":
        flat = x.reshape(len(x), -1)
        side = int(round(np.sqrt(flat.shape[1])))
        if side * side != flat.shape[1]:
            raise UserError("occlusion needs square images")
        k = int(round(side * np.sqrt(level)))
        out = flat.reshape(len(x), side, side).copy()
        if k > 0:
            for n in range(len(out)):
                # centre the square on a random pixel of the digit so it hides part of the stroke
                ys, xs = np.nonzero(out[n] > 0.5)
                cy = cx = side // 2
                if len(ys):
                    j = rng.integers(len(ys))
                    cy, cx = ys[j], xs[j]
                y0 = int(np.clip(cy - k // 2, 0, side - k))
                x0 = int(np.clip(cx - k // 2, 0, side - k))
                out[n, y0:y0 + k, x0:x0 + k] = 0.0
        return out.reshape(x.shape)
    raise UserError(f"unknown image noise kind {kind!r}; choose one of: {', '.join(IMAGE_KINDS)}")
