"""Intel GPUs without an Intel GPU: fake i915/xe sysfs trees written as real files from real facts.

``tests/data/intel/devices.json`` holds an Arc A770 (i915), a Data Center GPU Max 1100 (xe) and a
Raptor Lake iGPU (i915, no local memory, no hwmon); sources in the README beside it.
:func:`build_tree` writes a machine of them under a folder laid out like ``/``
(``sys/class/drm/cardN``, ``sys/module/i915``), and the back end reads it through its
``sysfs_root`` parameter; hwprof's own code runs unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwprof.backends.intel import IntelBackend

PROFILES: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "intel" / "devices.json").read_text()
)


@dataclass(frozen=True)
class IntelMachine:
    """A fake machine's folder, and the GPUs' card folders in card order."""

    root: Path
    cards: tuple[Path, ...]

    @property
    def sysfs_root(self) -> Path:
        """What the back end reads as /sys."""
        return self.root / "sys"

    def backend(self, index_offset: int = 0, clock: Any = None) -> IntelBackend:
        """A back end over this tree (``clock`` replaces time.monotonic, for power readings)."""
        if clock is None:
            return IntelBackend(self.sysfs_root, index_offset=index_offset)
        return IntelBackend(self.sysfs_root, index_offset=index_offset, clock=clock)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") or not text else text + "\n")


def build_tree(root: Path, profiles: list[str], *, start: int = 0) -> IntelMachine:
    """Write a machine with these GPUs (names in devices.json) under ``root``.

    Card numbers start at ``start``; a display connector entry (cardN-DP-1) and a render node are
    written beside each card, as a real /sys/class/drm has them. An existing tree (an AMD machine
    written under the same root) is added to, for mixed machines.
    """
    sys_root = root / "sys"
    drm = sys_root / "class" / "drm"
    drm.mkdir(parents=True, exist_ok=True)
    cards = []
    for n, name in enumerate(profiles, start=start):
        p = PROFILES["gpus"][name]
        card = drm / f"card{n}"
        (sys_root / "module" / p["driver"]).mkdir(parents=True, exist_ok=True)
        for fname, text in p["card"].items():
            _write(card / fname, text)
        for fname, text in p["device"].items():
            _write(card / "device" / fname, text)
        _write(card / "device" / "uevent", f"DRIVER={p['driver']}\nPCI_SLOT_NAME={p['bus_id']}\n")
        for fname, text in (p["hwmon"] or {}).items():
            _write(card / "device" / "hwmon" / f"hwmon{n + 4}" / fname, text)
        (drm / f"card{n}-DP-1").mkdir(exist_ok=True)
        (drm / f"renderD{128 + n}").mkdir(exist_ok=True)
        cards.append(card)
    return IntelMachine(root, tuple(cards))


SCENARIOS: dict[str, list[str]] = {
    "intel_missing": [],
    "igpu_and_a770": ["IGPU", "A770"],
    "max1100": ["MAX1100"],
}


def scenario(name: str, root: Path) -> IntelMachine:
    """The named machine, written under ``root``."""
    return build_tree(root, SCENARIOS[name])
