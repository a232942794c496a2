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


LIVE_REPAINT = r'''
import sys, time
import numpy as np
from PySide6.QtGui import QImage
from hwprof.core.telemetry import MetricInfo
from hwprof.gui.app import make_application
from hwprof.gui.live_panel import QtLivePanel
from hwprof.sampling.sampler import Sampler

NAMES = ["cpu.util_percent", "cpu.core0.util_percent", "cpu.core1.util_percent",
         "host.memory_used_bytes"]


class Readings:
    def metrics(self):
        return [MetricInfo(name=n, unit="%", label=n, kind="gauge") for n in NAMES]

    def sample(self):
        return dict.fromkeys(NAMES, 1.0)


app = make_application([])
sampler = Sampler(0.1, capacity=36_000, host=False, process=False, gpus=False,
                  extra_sources=[Readings()])
rng = np.random.default_rng(0)


def row(k):
    t = k * 0.1
    return [50 + 30 * np.sin(t / 300) + rng.normal(0, 3), rng.uniform(0, 100),
            90.0 if (t // 600) % 2 == 0 else 10.0, 8e9 + 1e9 * t / 3600]


now = time.monotonic()
for k in range(36_000):
    sampler._ring.append(now - 3600 + k * 0.1, row(k))
clock = [now]
panel = QtLivePanel(sampler)
panel.clock = lambda: clock[0]
panel.window_box.setCurrentIndex(2)
panel.resize(1100, 800)
panel.show()
for _ in range(10):
    app.processEvents()
    time.sleep(0.02)
panel.start_run(1, "matmul infer cpu b1 size=512", "GEMMs/s")
k = 36_000
for i in range(60):  # 30 s live: new readings, a throughput point, steps of the time axis
    for j in range(5):
        sampler._ring.append(clock[0] + 0.1 * (j + 1), row(k))
        k += 1
    clock[0] += 0.5
    panel.add_point(clock[0], 1000 + 50 * np.sin(i / 5))
    panel.redraw(force=True)
    for _ in range(3):
        app.processEvents()
time.sleep(0.2)
app.processEvents()


def shot():
    wid = panel.graphics.viewport().winId()
    img = app.primaryScreen().grabWindow(wid).toImage()
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return a[:, : img.width() * 4].copy()


live = shot()
panel.graphics.viewport().repaint()
app.processEvents()
time.sleep(0.2)
full = shot()
print("differing", int((live != full).any(axis=1).sum()), "of", live.shape[0], "rows;",
      "drawn", int((full != full[0, 0]).sum()))
'''


def test_live_redraws_leave_no_stale_pixels(xvfb: str, tmp_path: Path) -> None:
    """The Live charts repaint only the newest pixels: what is on the screen after a while is
    exactly what a repaint of the whole charts draws."""
    script = tmp_path / "live_repaint.py"
    script.write_text(LIVE_REPAINT)
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb",
           "PYTHONPATH": str(REPO), "HWPROF_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=240, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r"differing (\d+) of (\d+) rows; drawn (\d+)", done.stdout)
    assert found, done.stdout
    differing, rows, drawn = (int(g) for g in found.groups())
    assert rows > 500 and drawn > 10_000  # a real picture
    assert differing == 0
