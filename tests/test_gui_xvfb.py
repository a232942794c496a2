"""The real window, started as a user starts it (`python -m hwprof`), on a virtual X screen."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NEEDED = ("Xvfb", "xdotool", "import", "identify")

pytestmark = [
    pytest.mark.xvfb,
    pytest.mark.skipif(
        not all(shutil.which(t) for t in NEEDED),
        reason="needs Xvfb, xdotool and imagemagick: apt-get install xvfb xdotool imagemagick "
        "(packaging/bootstrap.sh test installs them)",
    ),
]


def wait_for(condition: object, timeout_s: float, what: str, poll_s: float = 0.1) -> None:
    """Poll ``condition()`` until true (external processes give no signal to wait on)."""
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(poll_s)


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """Xvfb on a free display (-displayfd makes it choose and tell the number), ready to use."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        display = ":" + fh.readline().strip()
    socket_path = Path(f"/tmp/.X11-unix/X{display[1:]}")
    wait_for(lambda: socket_path.exists() or server.poll() is not None, 10, "Xvfb's socket")
    return server, display


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A fresh X server. Xvfb was seen to end at start now and then (a display being freed by a
    server just ended): such a start is tried again, twice at most."""
    for _ in range(3):
        server, display = start_xvfb()
        if server.poll() is None:
            break
    else:
        pytest.fail(f"Xvfb ended at start three times (code {server.returncode})")
    try:
        yield display
    finally:
        server.terminate()
        server.wait(10)


def test_window_opens_draws_and_closes_on_sigterm(xvfb: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=xvfb, QT_QPA_PLATFORM="xcb")
    stderr_path = tmp_path / "stderr.txt"
    with open(stderr_path, "w") as stderr:
        app = subprocess.Popen(
            [sys.executable, "-m", "hwprof"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        window_ids: list[str] = []

        def window_exists() -> bool:
            assert app.poll() is None, f"the app exited early: {stderr_path.read_text()[-2000:]}"
            found = subprocess.run(
                # WM_NAME holds the title as set (the host); _NET_WM_NAME the one shown
                ["xdotool", "search", "--onlyvisible", "--name",
                 f"^{re.escape(socket.gethostname())}"],
                env=env,
                capture_output=True,
                text=True,
            )
            window_ids[:] = found.stdout.split()
            return bool(window_ids)

        wait_for(window_exists, 60, "a window titled with the host's name")
        name = subprocess.run(
            ["xdotool", "getwindowname", window_ids[0]], env=env, capture_output=True, text=True
        ).stdout.strip()
        # the host, then the application's name, once (Qt appends it to the window's title)
        assert name == f"{socket.gethostname()} — hwprof", name
        shot = tmp_path / "window.png"

        def drawn() -> bool:
            subprocess.run(
                ["import", "-window", "root", str(shot)], env=env, check=True, timeout=30
            )
            colours = subprocess.run(
                ["identify", "-format", "%k", str(shot)], capture_output=True, text=True, check=True
            ).stdout
            return int(colours) > 10  # a blank screen is one colour

        wait_for(drawn, 30, "the window to be painted", poll_s=0.3)
        assert shot.stat().st_size > 5_000
    finally:
        app.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            code = app.wait(15)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
            pytest.fail("the app ignored SIGTERM for 15 s")
    assert code == 0, stderr_path.read_text()[-2000:]
    assert time.monotonic() - t0 < 5
