"""Names the launcher, the runner and both front ends share, spelt once.

Kept free of imports: the launcher reads them before it knows whether it starts the window, a
command or a worker.
"""

from __future__ import annotations

CHILD_ARG = "_child"  # `hwprof _child ...`: the hidden command that runs a worker process
# ".hwprof" (gzip JSON) first: the one extension every desktop can associate with hwprof
SNAPSHOT_SUFFIXES = (".hwprof", ".hwprof.json", ".hwprof.json.gz")
