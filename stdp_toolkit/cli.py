"""The ``stdp-toolkit`` command line.

Sub-commands live next to the code they drive; each module exposes ``register(subparsers)`` and
must import without heavy optional dependencies (torch is imported only when a command runs).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import UserError

# Modules that add sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES = (
    "stdp_toolkit.commands",
    "stdp_toolkit.torch_bridge.cli",
    "stdp_toolkit.torch_bridge.sequence.cli",
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"stdp-toolkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stdp-toolkit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
