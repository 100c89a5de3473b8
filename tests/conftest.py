import pytest

from helpers import shared_data


@pytest.fixture(scope="session")
def mnist_dir() -> str:
    return shared_data("mnist")


@pytest.fixture(scope="session")
def fsdd_dir() -> str:
    return shared_data("fsdd")


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
