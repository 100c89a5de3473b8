"""The ``stdp-toolkit`` command line.

One module per command group (:mod:`.stdp`: the Brian2 network; :mod:`.bridge`: the PyTorch bridge;
:mod:`.lite`: LITE-SNN). Each exposes ``register(subparsers)``, only parses and prints (the work is
library functions the notebooks call too), and imports without heavy optional dependencies (torch
is imported only when a command runs).
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from ..errors import UserError

# Modules that add sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES = (
    "stdp_toolkit.cli.stdp",
    "stdp_toolkit.cli.bridge",
    "stdp_toolkit.cli.lite",
)


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (the usage block is one ``--help`` away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stdp-toolkit",
        description="Spiking neural networks trained with STDP (Brian2) and a PyTorch bridge.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an optional part that is not present in this install
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def _interrupted(*_):
    raise KeyboardInterrupt


def _resume_hint(args) -> str:
    """Where an interrupted command left off (core runs: their last checkpoint)."""
    generic = "; completed checkpoints are kept: run the same command to resume"
    if args.command != "train":
        return generic
    from ..experiment import CHECKPOINT, RunState   # brian2: only for the core command

    if os.path.exists(os.path.join(args.out, CHECKPOINT)):
        try:
            seen = RunState.load(args.out).samples_seen
        except (UserError, OSError):
            return generic
        return f" at {seen:,} samples; the checkpoint in {args.out} is kept: run the same command to resume"
    return generic


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # figures are written to files, never shown: no display needed, none opened (the library leaves a
    # notebook's backend alone)
    import matplotlib
    matplotlib.use("Agg")
    # SIGTERM (kill, a job scheduler) stops a command like Ctrl-C does: cleanly, checkpoints kept
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"stdp-toolkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the message short
        print(f"stdp-toolkit {args.command}: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
