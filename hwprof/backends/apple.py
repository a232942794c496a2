"""Apple silicon GPUs (macOS): ``system_profiler``, ``sysctl`` and ``ioreg``, no library, no root.

Facts come from ``system_profiler -json SPDisplaysDataType SPHardwareDataType`` (the chip, e.g.
"Apple M2 Max", its GPU core count ``sppci_cores``, the unified memory ``physical_memory`` and the
Metal support) and ``sysctl -n hw.perflevel0.physicalcpu hw.perflevel1.physicalcpu`` (performance
and efficiency CPU cores). Live readings come from the accelerator's ``PerformanceStatistics`` in
``ioreg -r -d 1 -w 0 -c IOAccelerator`` ("Device Utilization %", "In use system memory", ...).

Power is read by ``powermetrics`` only, which needs root: hwprof never asks for a password, so
power is None and :data:`POWER_NEEDS_ROOT` says why. When hwprof already runs as root it could run
``powermetrics`` itself; it does not yet (:data:`POWER_NOT_YET`).

An Apple silicon Mac has one GPU, part of the chip, with memory shared with the CPU (unified
memory): the GPU's memory total is the machine's memory. GPUs of Intel Macs (AMD Radeon, Intel
UHD) are listed by ``system_profiler`` too; they are not Apple's and this back end does not claim
them (hwprof does not read GPUs on Intel Macs).

Every command is run by its absolute path, without a shell, with a timeout, its output decoded
with ``errors="replace"``. The command runner is a parameter (argv -> stdout text), so tests fake
the commands' output, the lowest level there is. Two failure levels, never a crash: not macOS, a
command missing or timing out, or no Apple GPU makes the back end unavailable with one line saying
why; a reading the output does not have, or has garbled, is None.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any

from hwprof.core.devices import AppleStatus, GpuInfo
from hwprof.core.peaks import estimate_apple_gpu_peak
from hwprof.core.telemetry import MetricInfo, metric_infos

log = logging.getLogger(__name__)

SYSTEM_PROFILER = "/usr/sbin/system_profiler"
SYSCTL = "/usr/sbin/sysctl"
IOREG = "/usr/sbin/ioreg"
COMMAND_TIMEOUT_S = 5.0

FACTS_COMMAND = (SYSTEM_PROFILER, "-json", "SPDisplaysDataType", "SPHardwareDataType")
CORES_COMMAND = (SYSCTL, "-n", "hw.perflevel0.physicalcpu", "hw.perflevel1.physicalcpu")
LIVE_COMMAND = (IOREG, "-r", "-d", "1", "-w", "0", "-c", "IOAccelerator")

NOT_MACOS = "not macOS: Apple silicon GPUs are read on macOS only"
POWER_NEEDS_ROOT = ("power is not shown: macOS gives GPU power only to powermetrics, which needs "
                    "root (sudo powermetrics); hwprof never asks for a password")
POWER_NOT_YET = ("power is not shown: hwprof runs as root, but does not run powermetrics yet")
UNIFIED_MEMORY_NOTE = ("unified memory: the GPU's memory is the machine's memory, shared with "
                       "the CPU; the total is all of it, not the GPU's own")

# Read when a back end is made (not at import), so tests can swap them: the platform, and a runner
# that back ends made without one use (None: the real commands, on macOS only).
PLATFORM = sys.platform
RUNNER: Callable[[Sequence[str]], str] | None = None

# A command runner: argv -> stdout text. It raises CommandError (or OSError, TimeoutExpired)
# when the command cannot give an answer.
CommandRunner = Callable[[Sequence[str]], str]


class CommandError(Exception):
    """A command could not answer: missing, timed out, or failed; the message says which."""


def run_command(argv: Sequence[str], timeout_s: float = COMMAND_TIMEOUT_S) -> str:
    """Run ``argv`` (no shell) and return its stdout as text; CommandError when it cannot answer."""
    name = os.path.basename(argv[0])
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=timeout_s, check=False,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError as err:
        raise CommandError(f"{name} not found ({argv[0]})") from err
    except subprocess.TimeoutExpired as err:
        raise CommandError(f"{name} did not answer within {timeout_s:g} s") from err
    except OSError as err:
        raise CommandError(f"{name} could not be run: {err.strerror or err}") from err
    out = done.stdout.decode("utf-8", errors="replace")
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        why = tail[-1] if tail else f"exit status {done.returncode}"
        raise CommandError(f"{name} failed: {why}")
    return out


def _ask(run: CommandRunner, argv: Sequence[str]) -> tuple[str | None, str | None]:
    """(stdout, None), or (None, why) when the command could not answer. Never raises."""
    name = os.path.basename(argv[0])
    try:
        return run(argv), None
    except CommandError as err:
        return None, str(err)
    except FileNotFoundError:
        return None, f"{name} not found ({argv[0]})"
    except subprocess.TimeoutExpired:
        return None, f"{name} did not answer within {COMMAND_TIMEOUT_S:g} s"
    except Exception as err:  # a runner must never take detection down
        return None, f"{name} failed: {err!r}"


# -- ioreg's text format
# -------------------------------------------------------------------------------------------
_BARE_END = ",}) \t\r\n"


class _Garbled(ValueError):
    """Text that is not ioreg's format."""


# ioreg nests a few levels; deeper is garbage, refused before Python's recursion limit is near
_MAX_DEPTH = 32


def _parse_value(text: str, i: int, depth: int = 0) -> tuple[Any, int]:
    """One value at ``text[i]``: a number, a string, Yes/No, <data>, (array) or {dictionary}."""
    if i >= len(text):
        raise _Garbled("value expected")
    if depth > _MAX_DEPTH:
        raise _Garbled("nested too deep")
    c = text[i]
    if c == "{":
        return _parse_dict(text, i, depth + 1)
    if c == "(":
        items: list[Any] = []
        i += 1
        while True:
            i = _skip_space(text, i)
            if i < len(text) and text[i] == ")":
                return items, i + 1
            value, i = _parse_value(text, i, depth + 1)
            items.append(value)
            i = _skip_space(text, i)
            if i < len(text) and text[i] == ",":
                i += 1
    if c == '"':
        end = text.find('"', i + 1)
        if end < 0:
            raise _Garbled("unterminated string")
        return text[i + 1:end], end + 1
    if c == "<":
        end = text.find(">", i + 1)
        if end < 0:
            raise _Garbled("unterminated data")
        return text[i:end + 1], end + 1
    j = i
    while j < len(text) and text[j] not in _BARE_END:
        j += 1
    word = text[i:j]
    if not word:
        raise _Garbled("value expected")
    if word == "Yes":
        return True, j
    if word == "No":
        return False, j
    try:
        return int(word, 0), j
    except ValueError:
        try:
            return float(word), j
        except ValueError:
            return word, j


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _parse_dict(text: str, i: int, depth: int) -> tuple[dict[str, Any], int]:
    """A ``{"key"=value,"key"=value}`` dictionary starting at ``text[i] == "{"``."""
    out: dict[str, Any] = {}
    i += 1
    while True:
        i = _skip_space(text, i)
        if i >= len(text):
            raise _Garbled("unterminated dictionary")
        if text[i] == "}":
            return out, i + 1
        if text[i] == ",":
            i += 1
            continue
        if text[i] != '"':
            raise _Garbled("key expected")
        end = text.find('"', i + 1)
        if end < 0:
            raise _Garbled("unterminated key")
        key = text[i + 1:end]
        i = _skip_space(text, end + 1)
        if i >= len(text) or text[i] != "=":
            raise _Garbled("= expected")
        value, i = _parse_value(text, _skip_space(text, i + 1), depth)
        out[key] = value


_TOP_LINE = re.compile(r'^\s*"(?P<key>[^"]*)"\s*=\s*(?P<value>.*?)\s*$')


def parse_ioreg(text: str) -> list[dict[str, Any]]:
    """The objects of ``ioreg -r -d 1 -w 0`` output, each a dictionary of its properties.

    An object starts at a ``+-o Name <class ...>`` line; its properties are ``"key" = value``
    lines. A line that is not ioreg's format, or a value that does not parse, is left out: the
    caller sees the property missing, never an exception.
    """
    objects: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("+-o "):
            current = {"__name__": stripped[4:].split("<", 1)[0].strip()}
            objects.append(current)
            continue
        m = _TOP_LINE.match(line)
        if m is None or current is None:
            continue
        try:
            value, end = _parse_value(m["value"], 0)
        except _Garbled:
            continue
        if m["value"][end:].strip():
            continue  # something after the value: not ioreg's format
        current[m["key"]] = value
    return objects


# -- system_profiler's JSON
# ----------------------------------------------------------------------------------------
_SIZE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([KMGT]B)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def parse_size(text: object) -> int | None:
    """A size such as "64 GB" in bytes (GB is 2**30 here: a 64 GB Mac has 68719476736 bytes)."""
    if not isinstance(text, str):
        return None
    m = _SIZE.match(text)
    if m is None:
        return None
    return int(float(m[1].replace(",", ".")) * _SIZE_UNITS[m[2].upper()])


def _int(value: object) -> int | None:
    """A positive count from a JSON value ("38" or 38); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip()) or None
    return None


def _metal(value: object) -> str | None:
    """Metal support ("spdisplays_metal3") as "Metal 3"; None when not said."""
    if not isinstance(value, str) or not value:
        return None
    m = re.search(r"metal(\d+)", value, re.IGNORECASE)
    return f"Metal {m[1]}" if m else value


def is_apple_gpu(display: dict[str, Any]) -> bool:
    """Whether a ``SPDisplaysDataType`` entry is an Apple silicon GPU (not an AMD/Intel one)."""
    vendor = str(display.get("spdisplays_vendor", ""))
    model = str(display.get("sppci_model", display.get("_name", "")))
    return vendor.lower() in ("sppci_vendor_apple", "apple") or model.startswith("Apple M")


class AppleBackend:
    """The Apple silicon GPU of a Mac: static facts now, live readings for the sampler.

    ``run`` runs a command (argv -> stdout text); given (or the module's ``RUNNER`` set), the
    back end asks it on any platform (tests), else only on macOS. ``index_offset`` makes the
    GPU's hwprof index: detection passes the number of NVIDIA, AMD and Intel GPUs, so Apple's
    follows them.
    """

    name = "apple"

    def __init__(self, run: CommandRunner | None = None, *, index_offset: int = 0,
                 platform: str | None = None) -> None:
        run = run or RUNNER
        self._run: CommandRunner = run or run_command
        self._platform_ok = run is not None or (platform or PLATFORM) == "darwin"
        self.index_offset = index_offset
        self._lock = threading.Lock()
        self._tried = False
        self._available = False
        self._reason: str | None = None
        self._chip: str | None = None
        self._gpu_cores: int | None = None
        self._memory: int | None = None
        self._metal: str | None = None
        self._perf_cores: int | None = None
        self._eff_cores: int | None = None
        self._live_reason: str | None = None

    # -- lifecycle
    # -------------------------------------------------------------------------------------
    def _ensure(self) -> bool:
        with self._lock:
            if self._tried:
                return self._available
            self._tried = True
            if not self._platform_ok:
                self._reason = NOT_MACOS
                return False
            try:
                self._available = self._read_facts()
            except Exception as err:  # nothing a back end does may crash the app
                log.exception("reading the Apple GPU failed")
                self._reason = f"no Apple GPU could be read: {err!r}"
                self._available = False
            return self._available

    def _read_facts(self) -> bool:
        out, why = _ask(self._run, FACTS_COMMAND)
        if out is None:
            self._reason = f"Apple GPU unavailable: {why}"
            return False
        try:
            data = json.loads(out)
        except ValueError:
            self._reason = ("Apple GPU unavailable: system_profiler's output is not the JSON it "
                            "should be")
            return False
        if not isinstance(data, dict):
            self._reason = "Apple GPU unavailable: system_profiler's output has no sections"
            return False
        displays = [d for d in data.get("SPDisplaysDataType") or () if isinstance(d, dict)]
        hardware = next((h for h in data.get("SPHardwareDataType") or () if isinstance(h, dict)),
                        {})
        apple = next((d for d in displays if is_apple_gpu(d)), None)
        if apple is None:
            others = [str(d.get("sppci_model") or d.get("_name") or "?") for d in displays]
            self._reason = (
                "no Apple silicon GPU: this Mac's GPUs ("
                + ", ".join(others) + ") are not Apple's, and hwprof does not read GPUs on Intel "
                "Macs" if others else "no Apple silicon GPU: system_profiler lists no GPU")
            return False
        chip = hardware.get("chip_type") or apple.get("sppci_model") or apple.get("_name")
        self._chip = str(chip) if chip else None
        self._gpu_cores = _int(apple.get("sppci_cores"))
        self._memory = parse_size(hardware.get("physical_memory"))
        self._metal = _metal(apple.get("spdisplays_mtlgpufamilysupport")
                             or apple.get("spdisplays_metal"))
        cores, _ = _ask(self._run, CORES_COMMAND)
        values = [_int(v) for v in (cores or "").split()]
        if len(values) == 2:
            self._perf_cores, self._eff_cores = values
        return True

    def shutdown(self) -> None:
        """Forget what was found; a later question asks again."""
        with self._lock:
            self._tried = False
            self._available = False
            self._reason = None

    # -- the Backend protocol
    # --------------------------------------------------------------------------
    def available(self) -> bool:
        """Whether this is a Mac with an Apple silicon GPU that system_profiler described."""
        return self._ensure()

    def unavailable_reason(self) -> str | None:
        """One line for the user when the Apple GPU cannot be read."""
        self._ensure()
        return self._reason

    def status(self) -> AppleStatus:
        """The chip's facts, or why there is no Apple GPU to read."""
        if not self._ensure():
            return AppleStatus(available=False, message=self._reason)
        return AppleStatus(available=True, chip=self._chip, performance_cores=self._perf_cores,
                           efficiency_cores=self._eff_cores, metal_support=self._metal,
                           power_note=power_note(), memory_note=UNIFIED_MEMORY_NOTE)

    def device_count(self) -> int:
        """1 on an Apple silicon Mac, else 0."""
        return 1 if self._ensure() else 0

    def devices(self) -> tuple[GpuInfo, ...]:
        """The one Apple GPU, numbered ``index_offset``; () when unavailable."""
        if not self._ensure():
            return ()
        chip = self._chip
        return (GpuInfo(
            index=self.index_offset,
            vendor="apple",
            vendor_index=0,
            name=chip,
            uuid=None,
            pci_bus_id=None,  # part of the chip, not on a PCI bus
            architecture=apple_generation(chip),
            compute_capability=None,
            cuda_cores=None,
            memory_total_bytes=self._memory,
            sm_clock_max_mhz=None,  # macOS does not report the GPU clock
            memory_clock_max_mhz=None,
            power_limit_default_watts=None,
            power_limit_enforced_watts=None,
            pcie=None,
            mig_mode_current=None,
            compute_units=self._gpu_cores,
            unified_memory=True,
            metal_support=self._metal,
            peak=estimate_apple_gpu_peak(chip=chip, gpu_cores=self._gpu_cores),
        ),)

    # -- live readings
    # ----------------------------------------------------------------------------------------
    def live_gpu_indexes(self) -> tuple[int, ...]:
        """The hwprof indexes :meth:`sample` reads."""
        return (self.index_offset,) if self._ensure() else ()

    def metrics(self) -> tuple[MetricInfo, ...]:
        """Every metric :meth:`sample` gives, as ``gpu{index}.{metric}``."""
        return metric_infos([f"gpu{i}.{m}" for i in self.live_gpu_indexes() for m in APPLE_METRICS])

    @property
    def live_reason(self) -> str | None:
        """Why the last :meth:`sample` read nothing from ioreg (None when it read)."""
        return self._live_reason

    def sample(self, pids: Collection[int] = frozenset()) -> dict[str, float | None]:
        """One reading of the Apple GPU from ioreg; what is missing or garbled reads None.

        Power is always None (:func:`power_note`). ``pids`` is accepted for the sampler's
        protocol; ioreg cannot say what memory one process holds.
        """
        del pids
        if not self._ensure():
            return {}
        p = f"gpu{self.index_offset}."
        out: dict[str, float | None] = {p + m: None for m in APPLE_METRICS}
        out[p + "memory_total_bytes"] = None if self._memory is None else float(self._memory)
        text, why = _ask(self._run, LIVE_COMMAND)
        if text is None:
            if why != self._live_reason:
                log.warning("Apple GPU readings unavailable: %s", why)
            self._live_reason = why
            return out
        stats = performance_statistics(text)
        self._live_reason = None if stats else "ioreg shows no accelerator PerformanceStatistics"
        for metric, key in _STAT_KEYS.items():
            out[p + metric] = _reading(stats.get(key))
        return out


# The live metrics of the Apple GPU, and the PerformanceStatistics key each comes from.
_STAT_KEYS: dict[str, str] = {
    "util_percent": "Device Utilization %",
    "renderer_util_percent": "Renderer Utilization %",
    "tiler_util_percent": "Tiler Utilization %",
    "memory_used_bytes": "In use system memory",
    "memory_allocated_bytes": "Alloc system memory",
}
APPLE_METRICS: tuple[str, ...] = (*_STAT_KEYS, "memory_total_bytes", "power_watts")


def performance_statistics(ioreg_text: str) -> dict[str, Any]:
    """The first accelerator's ``PerformanceStatistics`` in ioreg's output ({} if none)."""
    for obj in parse_ioreg(ioreg_text):
        stats = obj.get("PerformanceStatistics")
        if isinstance(stats, dict):
            return stats
    return {}


def _reading(value: object) -> float | None:
    """A number from PerformanceStatistics as a float; anything else (or negative) None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if f >= 0 and f == f and f != float("inf") else None


def apple_generation(chip: str | None) -> str | None:
    """The GPU generation: "Apple M2 Max" -> "Apple M2"; None for a name not of that form."""
    m = re.match(r"^Apple (M\d+)\b", chip or "")
    return f"Apple {m[1]}" if m else None


def power_note(euid: int | None = None) -> str:
    """Why power is None: it needs root, or (already root) hwprof does not run powermetrics yet."""
    if euid is None:
        geteuid = getattr(os, "geteuid", None)  # not on Windows
        euid = geteuid() if geteuid is not None else None
    return POWER_NOT_YET if euid == 0 else POWER_NEEDS_ROOT
