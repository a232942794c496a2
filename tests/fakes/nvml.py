"""NVIDIA GPUs without a GPU: the real ``pynvml`` functions stubbed from scenario tables.

A scenario is a small table of GPUs built from real NVML facts (tests/data/gpu-profiles.json: T4,
A100, L40S, H100) plus what each one does not support and whether it is lost. The same scenarios
drive the back end tests, the CLI tests and the GUI tests. Only pynvml's functions are replaced;
hwprof's own code runs unchanged.

Readings are mutable on purpose: a test can change ``gpu.readings["power_mw"]``, set ``gpu.lost =
True`` mid-run, or add a metric name to ``gpu.not_supported``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pynvml

PROFILES: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "gpu-profiles.json").read_text()
)

_ARCH_ENUM = {
    "kepler": 2,
    "maxwell": 3,
    "pascal": 4,
    "volta": 5,
    "turing": 6,
    "ampere": 7,
    "ada_lovelace": 8,
    "hopper": 9,
    "blackwell": 10,
}

# pynvml's clock-event-reason bits (nvmlClocksEventReason*).
CLOCK_REASON_BITS = {
    "gpu_idle": 0x1,
    "applications_clocks_setting": 0x2,
    "sw_power_cap": 0x4,
    "hw_slowdown": 0x8,
    "sync_boost": 0x10,
    "sw_thermal_slowdown": 0x20,
    "hw_thermal_slowdown": 0x40,
    "hw_power_brake_slowdown": 0x80,
    "display_clock_setting": 0x100,
}


@dataclass
class FakeGpu:
    """One fake GPU: static facts, live readings, and how it misbehaves."""

    profile: str
    facts: dict[str, Any]
    bus_id: str
    readings: dict[str, Any]
    not_supported: set[str] = field(default_factory=set)
    lost: bool = False
    processes: list[tuple[int, int]] = field(default_factory=list)  # (pid, used_gpu_memory_bytes)
    energy_mj: int = 1_000_000
    calls: dict[str, int] = field(default_factory=dict)


def make_gpu(profile: str, slot: int = 0, *, loaded: bool = False, **overrides: Any) -> FakeGpu:
    """A fake GPU from a real profile; ``loaded`` takes the A100 training reading for live
    values."""
    facts = copy.deepcopy(PROFILES["gpus"][profile])
    idle = facts.get("idle", {})
    mem_total = facts["memory_total_bytes"]
    readings: dict[str, Any] = {
        "gpu_util": idle.get("gpu_util", 0),
        "mem_util": idle.get("mem_util", 0),
        "memory_used_bytes": facts.get("memory_reserved_bytes", 0),
        "power_mw": idle.get("power_mw", 30000),
        "temperature_c": idle.get("temperature_c", 35),
        "sm_clock_mhz": idle.get("sm_clock_mhz", 300),
        "mem_clock_mhz": idle.get("mem_clock_mhz", facts["max_clocks_mhz"]["memory"]),
        "fan_percent": None if facts.get("fan_count", 0) == 0 else 30,
        "pcie_tx_kbps": 1000,
        "pcie_rx_kbps": 2000,
        "clock_event_reasons": ["gpu_idle"],
    }
    if loaded:
        example = PROFILES["loaded_example"]
        readings.update({k: v for k, v in example.items() if k != "about"})
        readings["memory_used_bytes"] = min(example["memory_used_bytes"], mem_total)
    readings.update(overrides)
    bus_ids = facts.get("bus_ids") or [f"0000:{0x17 + 0x20 * slot:02X}:00.0"]
    return FakeGpu(
        profile=profile, facts=facts, bus_id=bus_ids[slot % len(bus_ids)], readings=readings
    )


@dataclass
class Scenario:
    """A machine's NVML: how init behaves, and its GPUs."""

    name: str
    gpus: list[FakeGpu] = field(default_factory=list)
    init_error: int | None = None  # an NVML_ERROR_* code nvmlInit raises
    driver_version: str = PROFILES["driver_version"]
    nvml_version: str = PROFILES["nvml_version"]
    cuda_driver_version: int = PROFILES["cuda_driver_version"]


def scenario(name: str) -> Scenario:
    """The named scenario, freshly built (tests may mutate it)."""
    if name == "missing":
        return Scenario(name, init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    if name == "init_fails":
        return Scenario(name, init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    if name == "no_gpus":
        return Scenario(name)
    if name == "one_t4":
        return Scenario(name, [make_gpu("T4")])
    if name == "three_mixed":
        return Scenario(
            name, [make_gpu("T4"), make_gpu("A100-SXM4-40GB"), make_gpu("H100-80GB-HBM3")]
        )
    if name == "power_temp_unsupported":
        a = make_gpu("A100-SXM4-40GB", 0, loaded=True)
        b = make_gpu("L40S", 1)
        b.not_supported |= {"power", "temperature", "power_limit", "energy"}
        return Scenario(name, [a, b])
    if name == "gpu_lost":
        a = make_gpu("A100-SXM4-40GB", 0)
        b = make_gpu("A100-SXM4-40GB", 1)
        b.lost = True
        return Scenario(name, [a, b])
    if name == "a100_loaded":
        return Scenario(name, [make_gpu("A100-SXM4-40GB", 0, loaded=True)])
    raise KeyError(name)


SCENARIOS = (
    "missing",
    "init_fails",
    "no_gpus",
    "one_t4",
    "three_mixed",
    "power_temp_unsupported",
    "gpu_lost",
    "a100_loaded",
)


class FakeNvml:
    """Replaces pynvml's functions with ones that answer from a Scenario."""

    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.initialised = False
        self.init_calls = 0

    # -- helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _raise(code: int) -> None:
        raise pynvml.NVMLError(code)

    def _gpu(self, handle: Any, metric: str) -> FakeGpu:
        if not self.initialised:
            self._raise(pynvml.NVML_ERROR_UNINITIALIZED)
        gpu: FakeGpu = handle.gpu
        gpu.calls[metric] = gpu.calls.get(metric, 0) + 1
        if gpu.lost:
            self._raise(pynvml.NVML_ERROR_GPU_IS_LOST)
        if metric in gpu.not_supported:
            self._raise(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return gpu

    def _reading(self, handle: Any, metric: str, key: str) -> Any:
        value = self._gpu(handle, metric).readings.get(key)
        if value is None:
            self._raise(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return value

    # -- the pynvml surface
    # ----------------------------------------------------------------------------
    def functions(self) -> dict[str, Any]:
        """pynvml attribute name -> replacement."""
        f: dict[str, Any] = {}

        def nvmlInit() -> None:
            self.init_calls += 1
            if self.sc.init_error is not None:
                self._raise(self.sc.init_error)
            self.initialised = True

        def nvmlShutdown() -> None:
            self.initialised = False

        def need_init() -> None:
            if not self.initialised:
                self._raise(pynvml.NVML_ERROR_UNINITIALIZED)

        def nvmlDeviceGetCount() -> int:
            need_init()
            return len(self.sc.gpus)

        def nvmlDeviceGetHandleByIndex(i: int) -> Any:
            need_init()
            if not 0 <= i < len(self.sc.gpus):
                self._raise(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            if self.sc.gpus[i].lost:
                self._raise(pynvml.NVML_ERROR_GPU_IS_LOST)
            return SimpleNamespace(index=i, gpu=self.sc.gpus[i])

        f.update(
            nvmlInit=nvmlInit,
            nvmlShutdown=nvmlShutdown,
            nvmlDeviceGetCount=nvmlDeviceGetCount,
            nvmlDeviceGetHandleByIndex=nvmlDeviceGetHandleByIndex,
        )
        f["nvmlSystemGetDriverVersion"] = lambda: (need_init(), self.sc.driver_version)[1]
        f["nvmlSystemGetNVMLVersion"] = lambda: (need_init(), self.sc.nvml_version)[1]
        f["nvmlSystemGetCudaDriverVersion"] = lambda: (need_init(), self.sc.cuda_driver_version)[1]

        def fact(metric: str, fn: Any) -> Any:
            return lambda h, *a: fn(self._gpu(h, metric), *a)

        f["nvmlDeviceGetName"] = fact("name", lambda g: g.facts["name"])
        f["nvmlDeviceGetUUID"] = fact(
            "uuid", lambda g: f"GPU-{abs(hash((g.profile, g.bus_id))) % 10**8:08d}-fake"
        )
        f["nvmlDeviceGetPciInfo"] = fact(
            "pci", lambda g: SimpleNamespace(busId="0000" + g.bus_id, bus=int(g.bus_id[5:7], 16))
        )
        f["nvmlDeviceGetMemoryInfo"] = fact(
            "memory",
            lambda g: SimpleNamespace(
                total=g.facts["memory_total_bytes"],
                used=g.readings["memory_used_bytes"],
                free=g.facts["memory_total_bytes"] - g.readings["memory_used_bytes"],
            ),
        )
        f["nvmlDeviceGetCudaComputeCapability"] = fact(
            "compute_capability", lambda g: tuple(g.facts["compute_capability"])
        )
        f["nvmlDeviceGetNumGpuCores"] = fact("cores", lambda g: g.facts["num_gpu_cores"])
        f["nvmlDeviceGetArchitecture"] = fact(
            "architecture", lambda g: _ARCH_ENUM.get(g.facts["architecture"], 0xFFFFFFFF)
        )

        clock_names = {
            pynvml.NVML_CLOCK_SM: "sm",
            pynvml.NVML_CLOCK_GRAPHICS: "graphics",
            pynvml.NVML_CLOCK_MEM: "memory",
        }
        f["nvmlDeviceGetMaxClockInfo"] = fact(
            "max_clock", lambda g, t: g.facts["max_clocks_mhz"][clock_names[t]]
        )

        def power_fact(key: str) -> Any:
            def get(g: FakeGpu) -> Any:
                if "power_limit" in g.not_supported or key not in g.facts:
                    self._raise(pynvml.NVML_ERROR_NOT_SUPPORTED)
                return g.facts[key]

            return fact("power_limit_fact", get)

        f["nvmlDeviceGetPowerManagementDefaultLimit"] = power_fact("power_default_limit_mw")
        f["nvmlDeviceGetEnforcedPowerLimit"] = power_fact("power_default_limit_mw")
        f["nvmlDeviceGetPowerManagementLimit"] = power_fact("power_default_limit_mw")
        f["nvmlDeviceGetCurrPcieLinkGeneration"] = fact("pcie", lambda g: g.facts["pcie_max_gen"])
        f["nvmlDeviceGetMaxPcieLinkGeneration"] = fact("pcie", lambda g: g.facts["pcie_max_gen"])
        f["nvmlDeviceGetCurrPcieLinkWidth"] = fact("pcie", lambda g: g.facts["pcie_max_width"])
        f["nvmlDeviceGetMaxPcieLinkWidth"] = fact("pcie", lambda g: g.facts["pcie_max_width"])

        def mig(g: FakeGpu) -> Any:
            if not g.facts.get("mig_capable"):
                self._raise(pynvml.NVML_ERROR_NOT_SUPPORTED)
            return (0, 0)

        f["nvmlDeviceGetMigMode"] = fact("mig", mig)

        # -- live readings
        # ------------------------------------------------------------------------------
        f["nvmlDeviceGetUtilizationRates"] = lambda h: SimpleNamespace(
            gpu=self._reading(h, "utilization", "gpu_util"),
            memory=self._reading(h, "utilization", "mem_util"),
        )
        f["nvmlDeviceGetPowerUsage"] = lambda h: self._reading(h, "power", "power_mw")

        def energy(h: Any) -> int:
            g = self._gpu(h, "energy")
            g.energy_mj += int(g.readings.get("power_mw") or 0) // 10  # grows like a real counter
            return g.energy_mj

        f["nvmlDeviceGetTotalEnergyConsumption"] = energy
        f["nvmlDeviceGetTemperature"] = lambda h, sensor: self._reading(
            h, "temperature", "temperature_c"
        )
        live_clock = {
            pynvml.NVML_CLOCK_SM: "sm_clock_mhz",
            pynvml.NVML_CLOCK_GRAPHICS: "sm_clock_mhz",
            pynvml.NVML_CLOCK_MEM: "mem_clock_mhz",
        }
        f["nvmlDeviceGetClockInfo"] = lambda h, t: self._reading(h, "clock", live_clock[t])
        f["nvmlDeviceGetFanSpeed"] = lambda h: self._reading(h, "fan", "fan_percent")
        f["nvmlDeviceGetNumFans"] = fact("fan", lambda g: g.facts.get("fan_count", 0))
        pcie_keys = {
            pynvml.NVML_PCIE_UTIL_TX_BYTES: "pcie_tx_kbps",
            pynvml.NVML_PCIE_UTIL_RX_BYTES: "pcie_rx_kbps",
        }
        f["nvmlDeviceGetPcieThroughput"] = lambda h, c: self._reading(
            h, "pcie_throughput", pcie_keys[c]
        )

        def reasons(h: Any) -> int:
            names = self._reading(h, "clock_reasons", "clock_event_reasons")
            mask = 0
            for n in names:
                mask |= CLOCK_REASON_BITS[n]
            return mask

        f["nvmlDeviceGetCurrentClocksEventReasons"] = reasons
        f["nvmlDeviceGetCurrentClocksThrottleReasons"] = reasons

        def processes(h: Any) -> list[Any]:
            g = self._gpu(h, "processes")
            return [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in g.processes]

        f["nvmlDeviceGetComputeRunningProcesses"] = processes
        return f

    def install(self, monkeypatch: Any) -> FakeNvml:
        """Stub the functions on the real pynvml module for the rest of the test."""
        for name, fn in self.functions().items():
            monkeypatch.setattr(pynvml, name, fn)
        return self
