"""`hwprof CMD ...`: the headless front end.

Each command lives in its own module with ``register(subparsers)``, which adds its parser and sets
``handler`` to a function ``(args) -> exit code``. Exit codes: 0 ok, 1 the work failed, 2 bad
arguments, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import hwprof

# The command modules, in the order `hwprof --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "hwprof.cli.detect",
    "hwprof.cli.monitor",
    "hwprof.cli.run",
    "hwprof.cli.profile",
    "hwprof.cli.snapshots",
    "hwprof.cli.compare",
    "hwprof.cli.study",
    "hwprof.cli.report",
)


class _Parser(argparse.ArgumentParser):
    """argparse, with errors that name the command and say where to look."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n(see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command registered."""
    parser = _Parser(
        prog="hwprof",
        description="A hardware profiler for deep learning. Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"hwprof {hwprof.__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print("hwprof: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `hwprof detect | head`
        return 0
