"""The worker processes' entry, ``hwprof _child KIND ...``: only worker processes import it.

stdout carries JSON lines for the parent and nothing else; TensorFlow's own noise goes to stderr.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    """Run a worker by kind; a worker that imported TensorFlow exits at once when it is done.

    TensorFlow's teardown (its thread pools, at interpreter exit) took over 10 s on a loaded 2-core
    CI machine after the result was already sent, and the parent then had to end the worker. All a
    worker says has gone out by then, so its exit skips the teardown: the buffers are flushed and
    the process leaves, and the system frees its memory (and a GPU's) as at any exit.
    """
    code = dispatch(argv)
    if "tensorflow" in sys.modules:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    return code


def dispatch(argv: list[str]) -> int:
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
