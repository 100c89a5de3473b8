"""Where data sets are: one rule for every command, notebook and bench script.

The folder given (``--data-dir``, a ``data_dir=`` argument), else ``$STDP_DATA_DIR``. A folder that
holds the data set's own sub-folder (the shared layout: ``mnist/``, ``cifar10/``, ``fsdd/``, ...) is
descended into, so one root serves every data set. Without either, a data set that has an
embedded default (the demo digits) uses it; any other stops with the same one-line message.
"""
from __future__ import annotations

import os

from ..errors import UserError

DATA_ENV = "STDP_DATA_DIR"


def data_dir(given: str | os.PathLike | None, subdir: str | None = None, *, required: str | None = None) -> str | None:
    """The folder of a data set, or None when no folder is given and ``required`` is None.

    ``required`` names the data set for the message when a folder must be given (no embedded default).
    """
    root = os.fspath(given) if given else os.environ.get(DATA_ENV)
    if not root:
        if required is None:
            return None
        raise UserError(f"no data directory for {required}: give --data-dir or set {DATA_ENV}")
    if not os.path.isdir(root):
        raise UserError(f"data directory not found: {root} (give --data-dir or set {DATA_ENV})")
    nested = os.path.join(root, subdir) if subdir else root
    return nested if os.path.isdir(nested) else root
