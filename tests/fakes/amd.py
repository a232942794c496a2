"""AMD GPUs without an AMD GPU: fake amdgpu sysfs trees written as real files from real facts.

``tests/data/amd/devices.json`` holds three real GPUs (MI300X, MI210, RX 7900 XTX; sources in the
README beside it). :func:`build_tree` writes a machine of them under a folder laid out like ``/``
(``sys/class/drm/cardN/device``, ``sys/class/kfd``, ``sys/module/amdgpu``, ``opt/rocm``), and the
back end reads it through its ``sysfs_root``/``rocm_root`` parameters; hwprof's own code runs
unchanged. Scenarios name machines the same way the NVML ones do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwprof.backends.amd import AmdBackend

PROFILES: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "amd" / "devices.json").read_text()
)


@dataclass(frozen=True)
class AmdMachine:
    """A fake machine's folders, and the GPUs' device folders in card order."""

    root: Path
    cards: tuple[Path, ...]

    @property
    def sysfs_root(self) -> Path:
        """What the back end reads as /sys."""
        return self.root / "sys"

    @property
    def rocm_root(self) -> Path:
        """What the back end reads as /opt/rocm."""
        return self.root / "opt" / "rocm"

    def backend(self, index_offset: int = 0) -> AmdBackend:
        """A back end over this tree (amdsmi left out: the sysfs path is what these test)."""
        return AmdBackend(self.sysfs_root, rocm_root=self.rocm_root, use_amdsmi=False,
                          index_offset=index_offset)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") or not text else text + "\n")


def build_tree(root: Path, profiles: list[str], *, driver_loaded: bool = True,
               rocm: bool = True) -> AmdMachine:
    """Write a machine with these GPUs (names in devices.json) under ``root``.

    Card numbers start at 1 (card0 is often an on-board display adapter); a display connector
    entry (card1-DP-1) and a non-AMD card are written too, as a real /sys/class/drm has them.
    """
    sys_root = root / "sys"
    drm = sys_root / "class" / "drm"
    drm.mkdir(parents=True, exist_ok=True)
    # an on-board ASPEED display adapter: not AMD, must be skipped
    _write(drm / "card0" / "device" / "vendor", "0x1a03")
    nodes = sys_root / "class" / "kfd" / "kfd" / "topology" / "nodes"
    _write(nodes / "0" / "properties", "cpu_cores_count 64\nsimd_count 0\ngfx_target_version 0\n")
    if driver_loaded:
        _write(sys_root / "module" / "amdgpu" / "version", PROFILES["amdgpu_version"])
    if rocm:
        _write(root / "opt" / "rocm" / ".info" / "version", PROFILES["rocm_version"])
    cards = []
    for n, name in enumerate(profiles, start=1):
        p = PROFILES["gpus"][name]
        device = drm / f"card{n}" / "device"
        for fname, text in p["device"].items():
            _write(device / fname, text)
        _write(device / "uevent", f"DRIVER=amdgpu\nPCI_SLOT_NAME={p['bus_id']}\n")
        for fname, text in p["hwmon"].items():
            _write(device / "hwmon" / f"hwmon{n + 2}" / fname, text)
        (drm / f"card{n}-DP-1").mkdir(exist_ok=True)
        _, bus, devfn = p["bus_id"].split(":")
        dev, fn = devfn.split(".")
        location = (int(bus, 16) << 8) | (int(dev, 16) << 3) | int(fn)
        props = dict(p["kfd"], location_id=str(location))
        _write(nodes / str(n) / "properties", "".join(f"{k} {v}\n" for k, v in props.items()))
        cards.append(device)
    return AmdMachine(root, tuple(cards))


# name -> (GPUs, amdgpu loaded, ROCm installed)
SCENARIOS: dict[str, tuple[list[str], bool, bool]] = {
    "amd_missing": ([], False, False),
    "one_mi300x": (["MI300X"], True, True),
    "three_amd": (["MI300X", "MI210", "RX7900XTX"], True, True),
    "mi210_no_rocm": (["MI210"], True, False),
}


def scenario(name: str, root: Path) -> AmdMachine:
    """The named machine, written under ``root``."""
    gpus, driver, rocm = SCENARIOS[name]
    return build_tree(root, gpus, driver_loaded=driver, rocm=rocm)
