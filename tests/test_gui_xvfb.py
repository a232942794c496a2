"""The real window, started as a user starts it, on a virtual X screen (Xvfb)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NEEDED = ("Xvfb", "xdotool", "import")

pytestmark = [
    pytest.mark.xvfb,
    pytest.mark.skipif(
        not all(shutil.which(t) for t in NEEDED),
        reason="needs Xvfb, xdotool and imagemagick (packaging/bootstrap.sh test installs them)",
    ),
]


@pytest.fixture
def xvfb() -> object:
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        display = ":" + fh.readline().strip()
    try:
        yield display
    finally:
        server.terminate()
        server.wait(10)


def test_window_opens_shows_this_machine_and_closes(xvfb: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=xvfb, QT_QPA_PLATFORM="xcb")
    app = subprocess.Popen([sys.executable, "-m", "hwprof"], env=env, cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        window_id = ""
        deadline = time.monotonic() + 60
        while not window_id and time.monotonic() < deadline:
            assert app.poll() is None, f"the app exited early: {app.communicate()[1][-2000:]}"
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^hwprof"],
                                   env=env, capture_output=True, text=True)
            window_id = found.stdout.split()[0] if found.stdout.split() else ""
            time.sleep(0.2)
        assert window_id, "no window titled hwprof… appeared within 60 s"
        name = subprocess.run(["xdotool", "getwindowname", window_id], env=env,
                              capture_output=True, text=True).stdout.strip()
        assert name.startswith("hwprof")
        time.sleep(1.5)  # let it paint
        shot = tmp_path / "window.png"
        subprocess.run(["import", "-window", "root", str(shot)], env=env, check=True, timeout=30)
        colours = subprocess.run(["identify", "-format", "%k", str(shot)], capture_output=True,
                                 text=True, check=True).stdout
        assert int(colours) > 10, "the screenshot is (nearly) one colour: nothing was drawn"
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(15)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
