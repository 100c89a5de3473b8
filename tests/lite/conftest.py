import os
from pathlib import Path

import pytest


def _data_dir():
    d = os.environ.get("STDP_DATA_DIR")
    return Path(d) if d else None


@pytest.fixture(scope="session")
def nmnist_dir():
    d = _data_dir()
    if d is None or not (d / "nmnist-small" / "train1K.txt").is_file():
        pytest.skip("N-MNIST subset not found: set STDP_DATA_DIR to the folder holding nmnist-small/ (make test does)")
    return d


@pytest.fixture(scope="session")
def sst2_dir():
    d = _data_dir()
    if d is None or not (d / "sst2" / "train.tsv").is_file():
        pytest.skip("SST-2 not found: set STDP_DATA_DIR to the folder holding sst2/ (make test does)")
    return d


@pytest.fixture(autouse=True)
def _one_thread():
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
