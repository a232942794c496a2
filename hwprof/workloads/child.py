"""The worker processes' entry, ``hwprof _child KIND ...``: only worker processes import it.

stdout carries JSON lines for the parent and nothing else; TensorFlow's own noise goes to stderr.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Dispatch a worker by kind."""
    kind = argv[0] if argv else ""
    if kind == "probe":
        from hwprof.workloads.probe import main as probe_main

        return probe_main(argv[1:])
    if kind == "run":
        from hwprof.workloads.worker import main as worker_main

        return worker_main(argv[1:])
    if kind == "suite":
        from hwprof.workloads.suite_worker import main as suite_main

        return suite_main(argv[1:])
    print(f"hwprof _child: unknown worker kind {kind!r}", file=sys.stderr)
    return 2
