"""How a worker process is started: the app re-invokes itself with the hidden ``_child`` command.

From source that is ``python -m hwprof _child ...``; from a frozen bundle, the bundle's own
executable ``hwprof _child ...``. Either way the child runs :mod:`hwprof.launcher`, which hands it
to the worker entry.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

from hwprof.core.names import CHILD_ARG
from hwprof.core.paths import data_dir, keras_home

# TensorFlow's C++ logging: 1 hides INFO (the oneDNN banner, cuInit chatter); warnings and errors
# stay in the child's stderr, which the parent keeps for the error report of a failed run.
QUIET_TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


def child_command(*args: str) -> list[str]:
    """The argv that starts a worker process running ``hwprof _child ARGS``."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_ARG, *args]
    return [sys.executable, "-m", "hwprof", CHILD_ARG, *args]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: ours, with TensorFlow quietened and GPUs numbered by PCI bus.

    Importing TensorFlow imports Keras, which writes ``keras.json`` into ``~/.keras``, and
    matplotlib, which caches its fonts under ``~/.cache``: in every child (probe and runs) both
    write into hwprof's data folder instead, unless the user has chosen a place for them.
    """
    env = dict(os.environ)
    for key, value in QUIET_TF_ENV.items():
        env.setdefault(key, value)
    env.setdefault("KERAS_HOME", str(keras_home()))
    env.setdefault("MPLCONFIGDIR", str(data_dir() / "matplotlib"))
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def start_child(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stderr_path: str | None = None,
    stdin_pipe: bool = False,
) -> subprocess.Popen[str]:
    """Start a worker in its own process group; stdout is a pipe of JSON lines.

    ``stdin_pipe``: the worker reads requests from a pipe (the suite worker); else from nothing.
    """
    kwargs: dict[str, object] = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    stderr_file = open(stderr_path, "w") if stderr_path else subprocess.PIPE  # noqa: SIM115
    try:
        return subprocess.Popen(  # type: ignore[call-overload]
            child_command(*args),
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            bufsize=1,
            env=child_env(env),
            **kwargs,
        )
    finally:
        if stderr_path and not isinstance(stderr_file, int):
            stderr_file.close()


def stop_child(proc: subprocess.Popen[str], grace_seconds: float = 2.0) -> int | None:
    """End a worker and everything it started: terminate, wait ``grace_seconds``, then kill."""
    if proc.poll() is not None:
        return proc.returncode
    _signal_group(proc, signal.SIGTERM)
    try:
        return proc.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL if sys.platform != "win32" else signal.SIGTERM)
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - an unkillable process
            return None


def _signal_group(proc: subprocess.Popen[str], sig: int) -> None:
    try:
        if sys.platform == "win32":
            proc.send_signal(sig)
        else:
            os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError, OSError):
        with contextlib.suppress(ProcessLookupError, OSError):
            proc.send_signal(sig)
