"""`python -m hwprof`: the same as the `hwprof` command."""

from __future__ import annotations

import sys

from hwprof.launcher import main

if __name__ == "__main__":
    sys.exit(main())
