"""The process entry point: `hwprof` opens the window, `hwprof CMD` runs a command headless.

The same entry serves the worker processes: the runner starts them as ``hwprof _child ...`` (or
``python -m hwprof _child ...`` from source), so a frozen bundle can start its own workers too.
"""

from __future__ import annotations

import sys

from hwprof.core.names import CHILD_ARG, SNAPSHOT_SUFFIXES


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a worker, the CLI, or the window."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [CHILD_ARG]:
        # Only worker processes get here; this is the one place outside the worker that names it.
        from hwprof.workloads.child import main as child_main

        return child_main(args[1:])
    import multiprocessing

    multiprocessing.freeze_support()
    files = [a for a in args if a.endswith(SNAPSHOT_SUFFIXES)]
    if args and len(files) == len(args):  # `hwprof a.hwprof.json`: open them in the window
        if has_screen():
            from hwprof.gui.app import main as gui_main

            return gui_main([], files)
        print("hwprof: no screen here to open the snapshot in; headless, use "
              f"`hwprof compare {' '.join(files)}` or `hwprof report {files[0]} --html out.html`",
              file=sys.stderr)
        return 2
    if not args:
        if has_screen():
            from hwprof.gui.app import main as gui_main

            return gui_main([])
        print(
            "hwprof: no screen here (neither DISPLAY nor WAYLAND_DISPLAY is set), so the window"
            " cannot open; showing `hwprof detect` instead. Headless commands: hwprof --help",
            file=sys.stderr,
        )
        args = ["detect"]
    from hwprof.cli.main import main as cli_main

    return cli_main(args)


def has_screen() -> bool:
    """Whether a window can be shown: on Windows and macOS always, on Linux with a display."""
    import os

    if sys.platform in ("win32", "darwin"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
