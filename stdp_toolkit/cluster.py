"""Dask clients for the parallel parts (the compression sweep, seed studies): one place to connect."""
from __future__ import annotations

import os

from .errors import UserError


def client_for(scheduler: str | None = None, workers: int | None = None):
    """A Dask client: an existing scheduler by address, else a local cluster of processes."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise UserError("this command needs dask.distributed: pip install 'dask[distributed]' "
                        "(the package's extra 'sweep')") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s")
        except ValueError as exc:  # dask's address parser: no port, unknown scheme, ...
            raise UserError(f"--scheduler {scheduler!r} is not a Dask scheduler address ({exc}); "
                            "give one like tcp://host:8786") from None
        except (OSError, TimeoutError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster)


def _import_brian2() -> str:
    import brian2

    return brian2.__version__


def prepare_workers(client) -> None:
    """Brian2 installs a signal handler on import, which only works in a process's main thread:
    import it there (``client.run``) before tasks run in the workers' thread pools."""
    client.run(_import_brian2)


def close(client, scheduler: str | None) -> None:
    """Close the client, and the local cluster it started (never a cluster given by address)."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None and not scheduler:
        cluster.close()
