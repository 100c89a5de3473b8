from pathlib import Path

import pytest

from helpers import shared_data


@pytest.fixture(scope="session")
def nmnist_dir():
    """The shared data folder, when it holds the N-MNIST subset."""
    return Path(shared_data("nmnist-small/train1K.txt")).parent.parent


@pytest.fixture(scope="session")
def sst2_dir():
    """The shared data folder, when it holds SST-2."""
    return Path(shared_data("sst2/train.tsv")).parent.parent


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
