"""Data for the PyTorch bridge: MNIST (IDX) and CIFAR-10 (python batches, image folders, archives).

All loaders return ``uint8`` arrays ``[N, H, W, C]`` and ``uint8`` labels; :func:`load_dataset`
turns them into normalised float tensors ``[N, C, H, W]``.  Problems a user can fix (missing or
corrupt files, wrong shapes) raise :class:`~stdp_toolkit.errors.UserError`.
"""
from __future__ import annotations

import io
import os
import pickle
import tarfile
import zipfile
from typing import Iterator, Optional, Tuple

import numpy as np

from ..datasets import paths
from ..errors import UserError
from ..validation import check_labels

__all__ = ["CIFAR10_CLASSES", "load_cifar10", "load_cifar10_batches", "load_image_folder",
           "load_image_archive", "load_dataset", "resolve_dataset_dir", "batches", "DATASET_STATS"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DATASET_STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp")


def _decode_image(data: bytes, name: str) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        raise UserError("reading CIFAR-10 images needs Pillow: pip install pillow") from None
    try:
        with Image.open(io.BytesIO(data)) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except Exception as exc:  # PIL raises many types for broken files
        raise UserError(f"cannot decode image {name}: {exc} (the file is corrupt; re-extract the data set)") from None
    if arr.shape != (32, 32, 3):
        raise UserError(f"image {name} has shape {arr.shape}; CIFAR-10 images are 32x32 RGB")
    return arr


def _split_dir_name(split: str) -> Tuple[str, ...]:
    if split == "train":
        return ("train",)
    if split == "test":
        return ("test", "val")
    raise UserError(f"unknown split {split!r}: use 'train' or 'test'")


def load_cifar10_batches(folder: str, split: str = "train") -> Tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 in the official python format (``data_batch_1..5``, ``test_batch``)."""
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    if split not in ("train", "test"):
        raise UserError(f"unknown split {split!r}: use 'train' or 'test'")
    xs, ys = [], []
    for name in names:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise UserError(f"{name} not found in {folder}: expected the CIFAR-10 python batches "
                            "(cifar-10-batches-py) there")
        try:
            with open(path, "rb") as fh:
                d = pickle.load(fh, encoding="bytes")
        except Exception as exc:
            raise UserError(f"cannot read {path}: {exc} (corrupt or truncated; download it again)") from None
        if not isinstance(d, dict):
            raise UserError(f"{path} is not a CIFAR-10 batch (no dict inside)")
        data = d.get(b"data", d.get("data"))
        labels = d.get(b"labels", d.get("labels"))
        if data is None or labels is None:
            raise UserError(f"{path} is not a CIFAR-10 batch: missing 'data' or 'labels'")
        data = np.asarray(data)
        labels = np.asarray(labels)
        if data.ndim != 2 or data.shape[1] != 3072 or labels.ndim != 1 or len(labels) != len(data) or not len(data):
            raise UserError(f"{path}: data has shape {data.shape} with {labels.size} labels; expected [N, 3072] and N "
                            "labels, N > 0")
        labels = check_labels(labels, path)
        xs.append(data.astype(np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(labels)
    return np.concatenate(xs), np.concatenate(ys)


def _collect(entries, split: str, where: str, limit_per_class: Optional[int] = None):
    """entries: iterable of (relative path, reader) ; keeps <split>/<class>/<file>."""
    splits = _split_dir_name(split)
    found = {}
    for rel, read in entries:
        parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
        # accept an optional top-level folder (e.g. cifar10/train/cat/0001.jpg)
        for k in range(len(parts) - 2):
            if parts[k] in splits and len(parts) - k == 3:
                cls, fname = parts[k + 1], parts[k + 2]
                if fname.lower().endswith(_IMAGE_EXT):
                    found.setdefault(cls, []).append((fname, rel, read))
                break
    if not found:
        raise UserError(f"no {split} images found in {where}: expected {splits[0]}/<class>/<image>.jpg")
    classes = sorted(found)
    if len(classes) > 256:   # labels are uint8
        raise UserError(f"{where} has {len(classes)} class folders under {splits[0]}/; at most 256 are supported")
    if set(classes) == set(CIFAR10_CLASSES):
        classes = list(CIFAR10_CLASSES)
    xs, ys = [], []
    for label, cls in enumerate(classes):
        items = sorted(found[cls])
        if limit_per_class is not None:
            items = items[:limit_per_class]
        for fname, rel, read in items:
            xs.append(_decode_image(read(), f"{where}:{rel}"))
            ys.append(label)
    return np.stack(xs), np.asarray(ys, dtype=np.uint8), classes


def load_image_folder(root: str, split: str = "train", limit_per_class: Optional[int] = None):
    """An image-folder tree ``root/<split>/<class>/*.jpg``; returns (images, labels, class names)."""
    def entries():
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                path = os.path.join(dirpath, f)
                yield os.path.relpath(path, root), (lambda p=path: open(p, "rb").read())
    return _collect(entries(), split, root, limit_per_class)


def load_image_archive(path: str, split: str = "train", limit_per_class: Optional[int] = None):
    """A ``.tar``/``.tar.gz``/``.zip`` archive of an image-folder tree (the shared CIFAR-10 copy)."""
    if not os.path.isfile(path):
        raise UserError(f"archive not found: {path}")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return _collect(((n, (lambda n=n: zf.read(n))) for n in zf.namelist() if not n.endswith("/")),
                                split, path, limit_per_class)
        with tarfile.open(path, "r:*") as tf:
            members = {}
            for m in tf:  # one sequential pass over a (possibly gzipped) stream
                if m.isfile() and m.name.lower().endswith(_IMAGE_EXT):
                    members[m.name] = tf.extractfile(m).read()
        return _collect(((n, (lambda d=d: d)) for n, d in members.items()), split, path, limit_per_class)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise UserError(f"cannot read archive {path}: {exc} (corrupt or truncated; download it again)") from None


def load_cifar10(source: str, split: str = "train", limit_per_class: Optional[int] = None):
    """CIFAR-10 from any of: a python-batch folder, an image-folder tree, an archive of one, or a
    folder that contains one of those (``cifar-10-batches-py/`` or ``*.tar.gz``)."""
    if os.path.isfile(source):
        x, y, _ = load_image_archive(source, split, limit_per_class)
        return x, y
    if not os.path.isdir(source):
        raise UserError(f"CIFAR-10 data not found at {source} (give --data-dir or set STDP_DATA_DIR)")
    if os.path.isfile(os.path.join(source, "test_batch")) or os.path.isfile(os.path.join(source, "data_batch_1")):
        x, y = load_cifar10_batches(source, split)
    elif os.path.isdir(os.path.join(source, "cifar-10-batches-py")):
        x, y = load_cifar10_batches(os.path.join(source, "cifar-10-batches-py"), split)
    elif os.path.isdir(os.path.join(source, "train")) or os.path.isdir(os.path.join(source, "test")):
        x, y, _ = load_image_folder(source, split, limit_per_class)
        return x, y
    else:
        archives = sorted(f for f in os.listdir(source)
                          if f.endswith((".tar.gz", ".tgz", ".tar", ".zip")))
        if not archives:
            raise UserError(f"no CIFAR-10 data in {source}: expected cifar-10-batches-py/, train/<class>/ "
                            "folders or a .tar.gz/.zip of them")
        x, y, _ = load_image_archive(os.path.join(source, archives[0]), split, limit_per_class)
        return x, y
    if limit_per_class is not None:
        keep = np.concatenate([np.flatnonzero(y == c)[:limit_per_class] for c in range(10)])
        keep.sort()
        x, y = x[keep], y[keep]
    return x, y


def resolve_dataset_dir(name: str, data_dir: Optional[str]) -> str:
    """The folder of ``name`` (``mnist`` / ``cifar10``): see :func:`stdp_toolkit.datasets.paths.data_dir`."""
    return paths.data_dir(data_dir, name, required=name)


def load_dataset(name: str, data_dir: Optional[str], split: str, limit: Optional[int] = None):
    """Normalised ``(x float32 [N, C, H, W], y int64 [N])`` torch tensors for ``mnist`` or ``cifar10``.

    ``limit`` keeps the first ``limit`` samples (MNIST) or a class-balanced ``limit`` (CIFAR-10).
    """
    import torch

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        # a negative slice would silently drop the last samples, 0 would train on nothing
        raise UserError(f"the {split} sample limit must be a whole number >= 1, got {limit!r}")
    if name not in DATASET_STATS:
        raise UserError(f"unknown dataset {name!r}: use 'mnist' or 'cifar10'")
    folder = resolve_dataset_dir(name, data_dir)
    if name == "mnist":
        from ..datasets.mnist import load_mnist
        imgs, labels = load_mnist(folder, split)
        if imgs.shape[1:] != (28, 28):
            raise UserError(f"MNIST images in {folder} are {imgs.shape[1:]}, expected 28x28")
        imgs = imgs[..., None]
        if limit is not None:
            imgs, labels = imgs[:limit], labels[:limit]
    elif name == "cifar10":
        per_class = None if limit is None else max(1, -(-limit // 10))
        imgs, labels = load_cifar10(folder, split, per_class)
        if limit is not None:
            imgs, labels = imgs[:limit], labels[:limit]
    else:
        raise UserError(f"unknown dataset {name!r}: use 'mnist' or 'cifar10'")
    if len(imgs) == 0 or len(labels) != len(imgs):
        raise UserError(f"the {name} {split} set in {folder} has {len(imgs)} images and {len(labels)} labels; "
                        "it needs at least one image with one label each (re-extract the data set)")
    labels = check_labels(labels, f"{name} {split} labels in {folder}")   # the models have 10 outputs
    mean, std = DATASET_STATS[name]
    x = torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2).float().div_(255.0)
    x = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    return x.contiguous(), torch.from_numpy(labels.astype(np.int64))


def batches(x, y, batch_size: int, shuffle: bool = False, augment: bool = False,
            generator=None) -> Iterator:
    """Mini-batches of in-memory tensors; ``augment`` = random 4-pixel-shift crop + horizontal flip
    (CIFAR-10 training)."""
    import torch
    import torch.nn.functional as F

    n = len(y)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for s in range(0, n, batch_size):
        idx = order[s:s + batch_size]
        xb, yb = x[idx], y[idx]
        if augment:
            b, _, h, w = xb.shape
            padded = F.pad(xb, (4, 4, 4, 4))
            dx = torch.randint(0, 9, (b,), generator=generator)
            dy = torch.randint(0, 9, (b,), generator=generator)
            rows = (dy.view(b, 1) + torch.arange(h).view(1, h))
            cols = (dx.view(b, 1) + torch.arange(w).view(1, w))
            xb = padded[torch.arange(b).view(b, 1, 1, 1), torch.arange(xb.shape[1]).view(1, -1, 1, 1),
                        rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]
            flip = torch.rand(b, generator=generator) < 0.5
            xb = torch.where(flip.view(b, 1, 1, 1), xb.flip(3), xb)
        yield xb, yb
