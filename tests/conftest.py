import os

import pytest

DATA_ENV = "STDP_DATA_DIR"


def shared_data(sub: str) -> str:
    """Path of a shared data set, or skip the test with the reason."""
    root = os.environ.get(DATA_ENV)
    if not root:
        pytest.skip(f"real data not available: set {DATA_ENV} to the shared data folder (make test does)")
    path = os.path.join(root, sub)
    if not os.path.exists(path):
        pytest.skip(f"real data not available: {path} does not exist")
    return path


@pytest.fixture(scope="session")
def mnist_dir() -> str:
    return shared_data("mnist")


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from stdp_toolkit.datasets import load_mnist

    x, y = load_mnist(mnist_dir, "train")
    xt, yt = load_mnist(mnist_dir, "test")
    return x, y, xt, yt


@pytest.fixture(params=["runtime", "standalone"])
def backend(request) -> str:
    """Every CPU backend, one test body (as Brian2's ``standalone_compatible`` tests): use it with
    ``helpers.network(cfg, backend, ...)``."""
    return request.param
