"""The frozen app's entry point (PyInstaller): the same launcher as the `hwprof` command.

Worker and probe processes are this same executable re-invoked as ``hwprof _child ...``; the
launcher dispatches them before anything else is imported.
"""

from __future__ import annotations

import multiprocessing
import sys

from hwprof.launcher import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
