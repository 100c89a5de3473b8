"""Data sets: IDX images (MNIST and friends), the embedded default digits, spoken digits and their audio front end."""
from .idx import load_idx
from .mnist import VALIDATION_DIGITS, load_digits, load_mnist, load_embedded_digits, load_images, resolve_data_dir
from .audio import AudioSettings, add_noise, featurize, log_mel_map
from .speech import Utterances, fsdd_dir, fsdd_recording_number, load_fsdd, load_ti46, load_tidigits, read_audio
from .sphere import parse_sphere_header, read_sphere

__all__ = ["VALIDATION_DIGITS", "load_idx", "load_mnist", "load_embedded_digits", "load_images", "load_digits", "resolve_data_dir",
           "AudioSettings", "add_noise", "featurize", "log_mel_map",
           "Utterances", "fsdd_dir", "fsdd_recording_number", "load_fsdd", "load_ti46", "load_tidigits", "read_audio",
           "parse_sphere_header", "read_sphere"]
