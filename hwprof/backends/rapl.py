"""CPU package power from the Linux powercap RAPL energy counters.

``/sys/class/powercap/intel-rapl:N/energy_uj`` is a package's energy in microjoules; it wraps to 0
after ``max_energy_range_uj``. AMD Zen processors expose theirs under the same ``intel-rapl`` name.
Power is the difference of two readings over the time between them. Since Linux 5.10 the counters
are readable by root only (a side channel, CVE-2020-8694), so on most desktops this source is
unavailable and says so once; it never raises.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hwprof.core.telemetry import MetricInfo, metric_infos

DEFAULT_POWERCAP_ROOT = Path("/sys/class/powercap")

# Top-level zones only: "intel-rapl:0" is a package, "intel-rapl:0:0" a sub-zone (core, uncore,
# dram) whose energy the package already counts; "intel-rapl-mmio:0" repeats the package.
_PACKAGE_DIR = re.compile(r"^intel-rapl:(\d+)$")


def read_int_fd(fd: int) -> int | None:
    """An integer from a sysfs file that is kept open (pread from 0 reads it afresh)."""
    try:
        return int(os.pread(fd, 64, 0).strip())
    except (OSError, ValueError):
        return None


@dataclass
class _Zone:
    index: int
    path: Path
    max_range_uj: int | None
    fd: int
    last_uj: int | None = None
    last_t: float | None = None


def energy_delta_uj(previous_uj: int, current_uj: int, max_range_uj: int | None) -> int | None:
    """Energy between two counter readings, across one wrap; None when it cannot be known."""
    if current_uj >= previous_uj:
        return current_uj - previous_uj
    if not max_range_uj:
        return None
    # The counter went past max_energy_range_uj and restarted at 0. Readings are at most a few
    # seconds apart and the range is hundreds of kJ, so it cannot have wrapped twice.
    return max_range_uj - previous_uj + current_uj


class RaplReader:
    """Package power and energy from RAPL; ``root`` lets tests use a fake sysfs tree."""

    def __init__(
        self,
        root: Path = DEFAULT_POWERCAP_ROOT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = Path(root)
        self._clock = clock
        self._zones: list[_Zone] = []
        self._energy_j = 0.0
        self._reason: str | None = None
        self._discover()

    def _discover(self) -> None:
        found: list[tuple[int, Path]] = []
        try:
            entries = list(self.root.iterdir())
        except OSError:
            entries = []
        for entry in entries:
            m = _PACKAGE_DIR.match(entry.name)
            if not m:
                continue
            try:
                name = (entry / "name").read_text().strip()
            except OSError:
                name = ""
            if name and not name.startswith("package"):
                continue  # e.g. "psys" (the whole platform) would double count
            found.append((int(m.group(1)), entry))
        if not found:
            self._reason = f"no RAPL energy counters ({self.root}/intel-rapl:N not present)"
            return
        denied: list[str] = []
        for index, path in sorted(found):
            try:
                fd = os.open(path / "energy_uj", os.O_RDONLY)
            except PermissionError:
                denied.append(str(path / "energy_uj"))
                continue
            except OSError:
                continue
            if read_int_fd(fd) is None:  # e.g. EACCES only at read time, or not a counter
                os.close(fd)
                denied.append(str(path / "energy_uj"))
                continue
            max_range: int | None
            try:
                max_range = int((path / "max_energy_range_uj").read_text().strip())
            except (OSError, ValueError):
                max_range = None
            self._zones.append(_Zone(index=index, path=path, max_range_uj=max_range, fd=fd))
        if not self._zones:
            self._reason = (
                "RAPL energy counters are not readable here (root only since Linux 5.10): "
                + ", ".join(denied or [str(self.root)])
            )

    # -- what it offers
    # ---------------------------------------------------------------------------------------
    def available(self) -> bool:
        """Whether at least one package counter can be read."""
        return bool(self._zones)

    def unavailable_reason(self) -> str | None:
        """Why there is no package power, in one line; None when available."""
        return self._reason

    @property
    def packages(self) -> tuple[int, ...]:
        """The package indexes read."""
        return tuple(z.index for z in self._zones)

    def metrics(self) -> tuple[MetricInfo, ...]:
        """The metrics :meth:`sample` gives (none when unavailable)."""
        if not self._zones:
            return ()
        names = ["cpu.package_power_watts", "cpu.package_energy_joules"]
        if len(self._zones) > 1:
            names += [f"cpu.package{z.index}.power_watts" for z in self._zones]
        return metric_infos(names)

    def sample(self) -> dict[str, float | None]:
        """Power since the previous call (None on the first) and energy since the first call."""
        if not self._zones:
            return {}
        out: dict[str, float | None] = {}
        total_w: float | None = 0.0
        for z in self._zones:
            now = self._clock()
            uj = read_int_fd(z.fd)
            watts: float | None = None
            if uj is not None and z.last_uj is not None and z.last_t is not None:
                delta = energy_delta_uj(z.last_uj, uj, z.max_range_uj)
                dt = now - z.last_t
                if delta is not None and dt > 0:
                    self._energy_j += delta / 1e6
                    watts = delta / 1e6 / dt
            if uj is not None:
                z.last_uj, z.last_t = uj, now
            if len(self._zones) > 1:
                out[f"cpu.package{z.index}.power_watts"] = watts
            total_w = None if watts is None or total_w is None else total_w + watts
        out["cpu.package_power_watts"] = total_w
        out["cpu.package_energy_joules"] = self._energy_j
        return out

    def close(self) -> None:
        """Close the counter files."""
        for z in self._zones:
            with contextlib.suppress(OSError):
                os.close(z.fd)
        self._zones = []
