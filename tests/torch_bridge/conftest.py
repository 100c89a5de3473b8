import os

import pytest

try:  # the test modules skip themselves without torch; the conftest must still import
    import torch
except ImportError:  # pragma: no cover
    torch = None


@pytest.fixture(scope="session")
def data_dir(mnist_dir):
    """The shared data folder, when it holds MNIST."""
    return os.path.dirname(mnist_dir)


@pytest.fixture(autouse=True)
def _threads():
    if torch is not None:
        torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def mnist_small(data_dir):
    """2,000 training and 500 test images of real MNIST (normalised tensors)."""
    from stdp_toolkit.torch_bridge.data import load_dataset
    xtr, ytr = load_dataset("mnist", data_dir, "train", 2000)
    xte, yte = load_dataset("mnist", data_dir, "test", 500)
    return xtr, ytr, xte, yte


@pytest.fixture(scope="session")
def trained_mlp(mnist_small):
    """A 784-100-10 MLP trained for 3 epochs on 2,000 real MNIST digits (a few seconds)."""
    from stdp_toolkit.torch_bridge.models import MLP
    from stdp_toolkit.torch_bridge.train import fit
    torch.manual_seed(0)
    xtr, ytr, xte, yte = mnist_small
    m = MLP(784, [100], 10)
    opt = torch.optim.Adam(m.parameters(), 2e-3)
    fit(m, m, dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte), epochs=3, batch_size=50,
        optimizer=opt, progress=False)
    return m.eval()
