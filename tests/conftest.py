"""Fixtures every test may use."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes.amd import AmdMachine
from fakes.amd import scenario as amd_machine
from fakes.apple import FakeMac
from fakes.apple import scenario as apple_mac
from fakes.intel import IntelMachine
from fakes.intel import scenario as intel_machine
from fakes.nvml import FakeNvml, scenario

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def nvml_scenario(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], FakeNvml]:
    """Install a named NVML scenario (tests/fakes/nvml.py) on the real pynvml module."""

    def install(name: str) -> FakeNvml:
        return FakeNvml(scenario(name)).install(monkeypatch)

    return install


@pytest.fixture(autouse=True)
def _no_real_amd(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep this machine's AMD GPUs and amdsmi out of every test (amd_scenario puts fakes in)."""
    import hwprof.backends.amd as amd

    nowhere = tmp_path_factory.getbasetemp() / "no-amd"  # never created: no GPU, no driver
    monkeypatch.setattr(amd, "SYSFS_ROOT", str(nowhere / "sys"))
    monkeypatch.setattr(amd, "ROCM_ROOT", str(nowhere / "opt" / "rocm"))
    monkeypatch.setitem(sys.modules, "amdsmi", None)  # `import amdsmi` raises ImportError


@pytest.fixture(autouse=True)
def _no_real_intel(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep this machine's Intel GPUs out of every test (intel_scenario puts fakes in)."""
    import hwprof.backends.intel as intel

    nowhere = tmp_path_factory.getbasetemp() / "no-intel"  # never created: no GPU, no driver
    monkeypatch.setattr(intel, "SYSFS_ROOT", str(nowhere / "sys"))


@pytest.fixture(autouse=True)
def _no_real_apple(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep this machine's Apple GPU out of every test (apple_scenario puts a fake Mac in)."""
    import hwprof.backends.apple as apple

    monkeypatch.setattr(apple, "PLATFORM", "not-macos")
    monkeypatch.setattr(apple, "RUNNER", None)


@pytest.fixture
def apple_scenario(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeMac]:
    """Make every Apple back end ask a named fake Mac (tests/fakes/apple.py)."""
    import hwprof.backends.apple as apple

    def install(name: str, broken: dict[str, str] | None = None) -> FakeMac:
        mac = apple_mac(name, broken)
        monkeypatch.setattr(apple, "RUNNER", mac)
        return mac

    return install


@pytest.fixture
def intel_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], IntelMachine]:
    """Write a named Intel machine (tests/fakes/intel.py) and point the Intel back end at it."""
    import hwprof.backends.intel as intel

    def install(name: str) -> IntelMachine:
        machine = intel_machine(name, tmp_path / f"intel-{name}")
        monkeypatch.setattr(intel, "SYSFS_ROOT", str(machine.sysfs_root))
        return machine

    return install


@pytest.fixture
def amd_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], AmdMachine]:
    """Write a named AMD machine (tests/fakes/amd.py) and point the AMD back end at it."""
    import hwprof.backends.amd as amd

    def install(name: str) -> AmdMachine:
        machine = amd_machine(name, tmp_path / f"amd-{name}")
        monkeypatch.setattr(amd, "SYSFS_ROOT", str(machine.sysfs_root))
        monkeypatch.setattr(amd, "ROCM_ROOT", str(machine.rocm_root))
        return machine

    return install


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Keep every test's user data, settings and Keras files out of the real home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HWPROF_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("KERAS_HOME", str(home / "keras"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    yield


@pytest.fixture(autouse=True)
def _no_leftover_threads_or_children() -> Iterator[None]:
    """Fail any test that leaves an hwprof thread or a child process running."""
    import threading
    import time

    import psutil

    before = {t.ident for t in threading.enumerate()}
    me = psutil.Process()
    kids_before = {p.pid for p in me.children(recursive=True)}
    yield
    deadline = time.monotonic() + 5
    while True:
        threads = [
            t
            for t in threading.enumerate()
            if t.ident not in before and t.is_alive() and t.name.startswith("hwprof")
        ]
        kids = [
            p
            for p in me.children(recursive=True)
            if p.pid not in kids_before and p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        ]
        if not threads and not kids:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for p in kids:
        p.kill()
    pytest.fail(
        f"test left running: threads {[t.name for t in threads]}, processes {[p.pid for p in kids]}"
    )
