"""Where a network runs: one module per Brian2 device behind one interface, :class:`Simulator`.

``Simulator(cfg, learning, backend="runtime" | "standalone" | "cuda")`` builds the network and runs
it chunk by chunk (:mod:`~stdp_toolkit.backends.base`). To add a backend, subclass
:class:`~stdp_toolkit.backends.base.Simulator` with ``_setup`` and ``_run`` and name it in
:func:`~stdp_toolkit.backends.base.backend_class`.
"""
from .base import BACKENDS, ChunkResult, Simulator, backend_class
from .build import default_build_root

__all__ = ["BACKENDS", "ChunkResult", "Simulator", "backend_class", "default_build_root"]
