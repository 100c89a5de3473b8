"""Data sets: IDX images (MNIST and friends), the embedded default digits."""
from .idx import load_idx
from .mnist import load_mnist, load_embedded_digits, load_images, resolve_data_dir

__all__ = ["load_idx", "load_mnist", "load_embedded_digits", "load_images", "resolve_data_dir"]
