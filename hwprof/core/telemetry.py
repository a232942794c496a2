"""Telemetry: what each live metric means, and a recorded block of readings for snapshots.

Metric names are flat strings with the unit in them (``cpu.util_percent``, ``gpu0.power_watts``,
``proc.gpu0.memory_bytes``). :func:`metric_info` gives the unit, a short label and a description for
any name the sampler emits, so GUI tooltips, CSV headers and reports say the same thing.

Timestamps are seconds of ``time.monotonic()``: on Linux that is CLOCK_MONOTONIC, one clock for the
whole system, so the steps a worker process times with its own ``time.monotonic()`` sit on the same
axis as the telemetry. A reading that was not available is None (NaN in numpy arrays), never 0.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TELEMETRY_SCHEMA: Literal["hwprof.telemetry/1"] = "hwprof.telemetry/1"

MetricKind = Literal["gauge", "counter", "bitmask"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class MetricInfo(_Model):
    """What one metric is: its unit, a label for people and a description for tooltips."""

    name: str = Field(description='flat name with the unit in it, e.g. "gpu0.power_watts"')
    unit: str = Field(description='unit symbol as shown to people: "%", "W", "B", "MHz", ...')
    label: str = Field(description="short label for a chart axis or a table column")
    description: str = Field(default="", description="one or two sentences for a tooltip")
    kind: MetricKind = Field(
        default="gauge",
        description="gauge: a reading now; counter: only grows (difference two readings); "
        "bitmask: flags (decode, do not plot as a line)",
    )


# name template -> (unit, label, description, kind). "{n}" stands for an index (core, GPU, package).
_TEMPLATES: dict[str, tuple[str, str, str, MetricKind]] = {
    # CPU and host
    "cpu.util_percent": (
        "%",
        "CPU utilization",
        "Share of time all logical CPUs were busy (not idle, not waiting for I/O) since the"
        " previous tick, from /proc/stat as psutil and top count it.",
        "gauge",
    ),
    "cpu.core{n}.util_percent": (
        "%",
        "CPU {n} utilization",
        "Share of time logical CPU {n} was busy since the previous tick.",
        "gauge",
    ),
    "cpu.freq_mhz": (
        "MHz",
        "CPU clock (mean)",
        "Mean current clock over the logical CPUs, as the OS reports it.",
        "gauge",
    ),
    "cpu.core{n}.freq_mhz": (
        "MHz",
        "CPU {n} clock",
        "Current clock of logical CPU {n} (cpufreq scaling_cur_freq; else /proc/cpuinfo, which in"
        " a virtual machine is often the nominal clock).",
        "gauge",
    ),
    "cpu.temperature_c": (
        "°C",
        "CPU temperature",
        "Package temperature of the hottest CPU package (hwmon coretemp/k10temp or a CPU thermal"
        " zone), where the OS exposes one.",
        "gauge",
    ),
    "cpu.package_power_watts": (
        "W",
        "CPU package power",
        "Power of all CPU packages together, from the RAPL energy counters (Intel, and AMD Zen"
        " under the same intel-rapl name) differenced over the tick. Often root-only on Linux.",
        "gauge",
    ),
    "cpu.package{n}.power_watts": (
        "W",
        "CPU package {n} power",
        "Power of CPU package {n} from its RAPL energy counter.",
        "gauge",
    ),
    "cpu.package_energy_joules": (
        "J",
        "CPU package energy",
        "Energy of all CPU packages since the sampler started (RAPL counter wraps handled).",
        "counter",
    ),
    "host.load_1min": (
        "",
        "load average (1 min)",
        "Runnable and uninterruptible tasks, averaged over one minute.",
        "gauge",
    ),
    "host.load_5min": ("", "load average (5 min)", "Load average over five minutes.", "gauge"),
    "host.load_15min": ("", "load average (15 min)", "Load average over 15 minutes.", "gauge"),
    "host.memory_used_bytes": (
        "B",
        "memory used",
        "Memory not available to new allocations: total minus available (page cache that can be"
        " dropped counts as available).",
        "gauge",
    ),
    "host.memory_available_bytes": (
        "B",
        "memory available",
        "Memory a new allocation can get without swapping (MemAvailable).",
        "gauge",
    ),
    "host.memory_total_bytes": ("B", "memory total", "Installed memory the OS can use.", "gauge"),
    "host.swap_used_bytes": ("B", "swap used", "Swap space in use.", "gauge"),
    "host.swap_total_bytes": ("B", "swap total", "Swap space configured.", "gauge"),
    # the watched process tree (the workload child and its children)
    "proc.cpu_percent": (
        "%",
        "workload CPU",
        "CPU time of the watched process tree per wall second, in % of one logical CPU (so it"
        " can exceed 100).",
        "gauge",
    ),
    "proc.rss_bytes": (
        "B",
        "workload memory (RSS)",
        "Resident memory of the watched process tree (pages shared between its processes count"
        " once per process).",
        "gauge",
    ),
    "proc.threads": (
        "threads",
        "workload threads",
        "Threads in the watched process tree.",
        "gauge",
    ),
    "proc.processes": (
        "processes",
        "workload processes",
        "Processes in the watched process tree.",
        "gauge",
    ),
    "proc.gpu{n}.memory_bytes": (
        "B",
        "workload memory on GPU {n}",
        "GPU memory the watched process tree holds on GPU {n}, as NVML lists compute processes."
        " 0 when it holds none; empty when no process is watched or NVML cannot say.",
        "gauge",
    ),
    # NVIDIA GPUs
    "gpu{n}.util_percent": (
        "%",
        "GPU {n} utilization",
        "Share of the last sample period (1/6 s to 1 s) in which one or more kernels ran on GPU"
        " {n}. Not SM occupancy: one small kernel at a time reads 100%.",
        "gauge",
    ),
    "gpu{n}.memory_util_percent": (
        "%",
        "GPU {n} memory controller",
        "Share of the last sample period in which GPU {n}'s memory was being read or written.",
        "gauge",
    ),
    "gpu{n}.memory_used_bytes": ("B", "GPU {n} memory used", "GPU memory in use.", "gauge"),
    # Apple silicon GPUs (ioreg's accelerator PerformanceStatistics)
    "gpu{n}.renderer_util_percent": ("%", "GPU {n} renderer", "Apple GPUs: share of time the "
                                     "renderer (fragment and compute work) was busy.", "gauge"),
    "gpu{n}.tiler_util_percent": ("%", "GPU {n} tiler", "Apple GPUs: share of time the tiler "
                                  "(vertex work) was busy.", "gauge"),
    "gpu{n}.memory_allocated_bytes": ("B", "GPU {n} memory allocated", "Apple GPUs: unified "
                                      "memory the GPU driver has allocated (in use or not).",
                                      "gauge"),
    "gpu{n}.memory_total_bytes": ("B", "GPU {n} memory total", "GPU memory installed.", "gauge"),
    "gpu{n}.power_watts": (
        "W",
        "GPU {n} power",
        "Board power draw (on Ampere and newer, NVML's one-second average).",
        "gauge",
    ),
    "gpu{n}.power_limit_watts": (
        "W",
        "GPU {n} power limit",
        "The power limit the driver enforces now.",
        "gauge",
    ),
    "gpu{n}.energy_joules": (
        "J",
        "GPU {n} energy",
        "Energy used since the driver loaded (Volta and newer); difference two readings for the"
        " energy of a run.",
        "counter",
    ),
    "gpu{n}.temperature_c": ("°C", "GPU {n} temperature", "GPU core temperature.", "gauge"),
    "gpu{n}.sm_clock_mhz": ("MHz", "GPU {n} core clock",
                            "Current shader clock (NVIDIA: SM clock; AMD: GFX engine clock).",
                            "gauge"),
    "gpu{n}.memory_clock_mhz": ("MHz", "GPU {n} memory clock", "Current memory clock.", "gauge"),
    "gpu{n}.fan_percent": (
        "%",
        "GPU {n} fan",
        "Intended fan speed in % of its maximum (passively cooled boards have none).",
        "gauge",
    ),
    "gpu{n}.pcie_tx_bytes_per_second": (
        "B/s",
        "GPU {n} PCIe TX",
        "PCIe traffic from the GPU to the host, sampled by NVML over 20 ms (read about once a"
        " second because the query blocks that long).",
        "gauge",
    ),
    "gpu{n}.pcie_rx_bytes_per_second": (
        "B/s",
        "GPU {n} PCIe RX",
        "PCIe traffic from the host to the GPU, sampled by NVML over 20 ms (read about once a"
        " second).",
        "gauge",
    ),
    "gpu{n}.clock_event_reasons": (
        "bitmask",
        "GPU {n} clock limits",
        "Why the clocks are where they are (NVML clock event reasons: idle, power cap, thermal,"
        " ...), as a bitmask; decode with clock_event_reason_names().",
        "bitmask",
    ),
}

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile("^" + re.escape(t).replace(re.escape("{n}"), r"(\d+)") + "$"), t)
    for t in _TEMPLATES
]

# Unit symbols from the name's suffix, for names no template covers.
_SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_bytes_per_second", "B/s"),
    ("_percent", "%"),
    ("_bytes", "B"),
    ("_mhz", "MHz"),
    ("_watts", "W"),
    ("_joules", "J"),
    ("_c", "°C"),
    ("_seconds", "s"),
    ("_s", "s"),
)


def metric_info(name: str) -> MetricInfo:
    """The unit, label and description of a metric name (a generic one for unknown names)."""
    for pattern, template in _PATTERNS:
        m = pattern.match(name)
        if m:
            unit, label, description, kind = _TEMPLATES[template]
            n = m.group(1) if m.groups() else ""
            return MetricInfo(
                name=name,
                unit=unit,
                label=label.replace("{n}", n),
                description=description.replace("{n}", n),
                kind=kind,
            )
    unit = next((u for suffix, u in _SUFFIX_UNITS if name.endswith(suffix)), "")
    return MetricInfo(name=name, unit=unit, label=name, description="")


def metric_infos(names: list[str] | tuple[str, ...]) -> tuple[MetricInfo, ...]:
    """:func:`metric_info` for each name, in order."""
    return tuple(metric_info(n) for n in names)


# NVML's clock event reasons (nvmlClocksEventReason*; "throttle reasons" in older drivers). These
# bit values are part of NVML's ABI. Name -> (bit, what to show a person).
CLOCK_EVENT_REASONS: dict[str, tuple[int, str]] = {
    "gpu_idle": (0x1, "idle"),
    "applications_clocks_setting": (0x2, "application clocks setting"),
    "sw_power_cap": (0x4, "power cap"),
    "hw_slowdown": (0x8, "hardware slowdown"),
    "sync_boost": (0x10, "sync boost"),
    "sw_thermal_slowdown": (0x20, "thermal (software)"),
    "hw_thermal_slowdown": (0x40, "thermal (hardware)"),
    "hw_power_brake_slowdown": (0x80, "power brake"),
    "display_clock_setting": (0x100, "display clock setting"),
    "board_limit": (0x200, "board limit"),
    "reliability": (0x400, "reliability"),
}


def clock_event_reason_names(mask: float | int | None) -> tuple[str, ...]:
    """Decode a ``gpuN.clock_event_reasons`` bitmask into reason names ("sw_power_cap", ...).

    None or NaN (no reading) gives an empty tuple; so does 0, which means nothing holds the clocks.
    """
    if mask is None or (isinstance(mask, float) and math.isnan(mask)):
        return ()
    bits = int(mask)
    return tuple(name for name, (bit, _) in CLOCK_EVENT_REASONS.items() if bits & bit)


def clock_event_reason_labels(mask: float | int | None) -> tuple[str, ...]:
    """Like :func:`clock_event_reason_names`, in words for people ("power cap", "idle", ...)."""
    return tuple(CLOCK_EVENT_REASONS[n][1] for n in clock_event_reason_names(mask))


def _none_for_nan(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class TelemetryRecord(_Model):
    """A block of telemetry recorded during a run: per metric, one value (or None) per timestamp.

    ``timestamps_s`` are ``time.monotonic()`` seconds, the clock the workload's step timings use;
    adding ``unix_offset_s`` gives wall-clock (Unix) seconds. Long runs may be thinned:
    ``decimation`` says how many sampler ticks each kept sample stands for.
    """

    schema_id: Literal["hwprof.telemetry/1"] = Field(default=TELEMETRY_SCHEMA, alias="schema")
    clock: Literal["monotonic"] = "monotonic"
    interval_seconds: float = Field(gt=0, description="the sampler's interval")
    decimation: int = Field(default=1, ge=1, description="sampler ticks per kept sample")
    unix_offset_s: float | None = Field(
        default=None,
        description="time.time() - time.monotonic() when recorded: monotonic + this = Unix time",
    )
    metrics: tuple[MetricInfo, ...]
    timestamps_s: tuple[float, ...]
    values: dict[str, tuple[float | None, ...]]

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False,
                              populate_by_name=True)

    @field_validator("values", mode="before")
    @classmethod
    def _nan_is_none(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [_none_for_nan(x) for x in v] for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TelemetryRecord:
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError("a metric is listed twice")
        if set(names) != set(self.values):
            missing = sorted(set(names) - set(self.values))
            extra = sorted(set(self.values) - set(names))
            raise ValueError(f"metrics and values differ (no values: {missing}; unlisted: {extra})")
        n = len(self.timestamps_s)
        for name, series in self.values.items():
            if len(series) != n:
                raise ValueError(f"{name} has {len(series)} values for {n} timestamps")
        if any(b < a for a, b in itertools.pairwise(self.timestamps_s)):
            raise ValueError("timestamps go backwards")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The metric names, in order."""
        return tuple(m.name for m in self.metrics)

    @property
    def sample_count(self) -> int:
        """How many timestamps the record holds."""
        return len(self.timestamps_s)

    def metric(self, name: str) -> MetricInfo | None:
        """The description of one metric, if recorded."""
        return next((m for m in self.metrics if m.name == name), None)

    def series(self, name: str) -> tuple[float | None, ...]:
        """One metric's values (KeyError when not recorded)."""
        return self.values[name]

    def between(self, start_s: float, end_s: float) -> TelemetryRecord:
        """The part of the record with ``start_s <= t <= end_s`` (monotonic seconds)."""
        keep = [i for i, t in enumerate(self.timestamps_s) if start_s <= t <= end_s]
        return self.model_copy(
            update={
                "timestamps_s": tuple(self.timestamps_s[i] for i in keep),
                "values": {k: tuple(v[i] for i in keep) for k, v in self.values.items()},
            }
        )
