"""Apple silicon GPUs without a Mac: a fake command runner answering from real Macs' outputs.

``tests/data/apple/`` holds what ``system_profiler -json`` and ``ioreg`` print on an M2 Max, an
M3 Pro and an Intel Mac with an AMD GPU (sources in its README). :class:`FakeMac` is the runner the
Apple back end takes (argv -> stdout text): hwprof's own parsing runs unchanged, only the
commands are faked, and every call is recorded.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hwprof.backends.apple import IOREG, SYSCTL, SYSTEM_PROFILER, AppleBackend, CommandError

DATA = Path(__file__).resolve().parent.parent / "data" / "apple"


def data(name: str) -> str:
    """A file of tests/data/apple as text."""
    return (DATA / name).read_text(encoding="utf-8")


@dataclass
class FakeMac:
    """Answers the three commands like a Mac would; ``broken`` makes one fail in a given way.

    ``broken`` maps a command's path to "missing" (FileNotFoundError, as subprocess raises),
    "timeout" (subprocess.TimeoutExpired), "failed" (CommandError) or any other text, which is
    printed instead of the real output (garbled output).
    """

    profile: str | None  # "m2max.system_profiler.json" ...
    cores: str | None  # sysctl's output, None: fails like on an Intel Mac
    ioreg: str | None  # the ioreg file; None: ioreg lists no accelerator
    broken: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def __call__(self, argv: Sequence[str]) -> str:
        """Run one command the fake way."""
        self.calls.append(tuple(argv))
        how = self.broken.get(argv[0])
        if how == "missing":
            raise FileNotFoundError(2, "No such file or directory", argv[0])
        if how == "timeout":
            raise subprocess.TimeoutExpired(list(argv), 5.0)
        if how == "failed":
            raise CommandError(f"{Path(argv[0]).name} failed: exit status 1")
        if how is not None:
            return how
        if argv[0] == SYSTEM_PROFILER:
            return data(self.profile) if self.profile else '{"SPDisplaysDataType": []}'
        if argv[0] == SYSCTL:
            if self.cores is None:
                raise CommandError("sysctl failed: sysctl: unknown oid 'hw.perflevel0.physicalcpu'")
            return self.cores
        if argv[0] == IOREG:
            return data(self.ioreg) if self.ioreg else ""
        raise FileNotFoundError(2, "No such file or directory", argv[0])

    def backend(self, index_offset: int = 0) -> AppleBackend:
        """An Apple back end asking this fake."""
        return AppleBackend(self, index_offset=index_offset)


SCENARIOS: dict[str, tuple[str | None, str | None, str | None]] = {
    "m2max_idle": ("m2max.system_profiler.json", "8\n4\n", "m2max.ioreg-idle.txt"),
    "m2max_busy": ("m2max.system_profiler.json", "8\n4\n", "m2max.ioreg-busy.txt"),
    "m3pro_busy": ("m3pro.system_profiler.json", "6\n6\n", "m3pro.ioreg-busy.txt"),
    "intel_mac_amd": ("intel_mac_amd.system_profiler.json", None, None),
}


def scenario(name: str, broken: dict[str, str] | None = None) -> FakeMac:
    """The named Mac."""
    profile, cores, ioreg = SCENARIOS[name]
    return FakeMac(profile, cores, ioreg, dict(broken or {}))
