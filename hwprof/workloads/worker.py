"""The run worker's entry (``hwprof _child run ...``): the workloads arrive with `hwprof run`."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Not yet: say so."""
    print("hwprof _child run: no workloads yet", file=sys.stderr)
    return 2
