"""Live NVML readings against the scenario fakes: values, NotSupported, lost GPUs, our process."""

from __future__ import annotations

import os
import threading

import pytest

from hwprof.backends.nvml import GPU_METRICS, LOST_GPU_RETRY_S, NvmlBackend
from hwprof.core.telemetry import clock_event_reason_names
from hwprof.sampling import QueueSubscriber, Sampler, TelemetrySample


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def backend(clock: Clock | None = None) -> NvmlBackend:
    nv = NvmlBackend()
    if clock is not None:
        nv._clock = clock  # the lost-GPU retry and slow metrics follow this clock
    return nv


def test_one_t4_readings_in_their_units(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("one_t4")
    nv = backend()
    assert [m.name for m in nv.metrics()] == [
        *(f"gpu0.{m}" for m in GPU_METRICS),
        "proc.gpu0.memory_bytes",
    ]
    v = nv.sample()
    assert v["gpu0.util_percent"] == 0.0 and v["gpu0.memory_util_percent"] == 0.0
    assert v["gpu0.memory_total_bytes"] == 17179869184
    assert v["gpu0.memory_used_bytes"] == 314572800
    assert v["gpu0.power_watts"] == 12.0 and v["gpu0.power_limit_watts"] == 70.0
    assert v["gpu0.temperature_c"] == 30.0
    assert (v["gpu0.sm_clock_mhz"], v["gpu0.memory_clock_mhz"]) == (300.0, 5001.0)
    assert v["gpu0.fan_percent"] is None  # a passively cooled board: NotSupported -> None, not 0
    assert v["gpu0.pcie_tx_bytes_per_second"] == 1000 * 1024
    assert v["gpu0.pcie_rx_bytes_per_second"] == 2000 * 1024
    assert clock_event_reason_names(v["gpu0.clock_event_reasons"]) == ("gpu_idle",)
    assert v["proc.gpu0.memory_bytes"] is None  # no process watched
    first_energy = v["gpu0.energy_joules"]
    assert first_energy is not None and nv.sample()["gpu0.energy_joules"] > first_energy  # type: ignore[operator]


def test_loaded_a100(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    fake = nvml_scenario("a100_loaded")
    v = backend().sample()
    assert v["gpu0.util_percent"] == 97.0 and v["gpu0.memory_util_percent"] == 61.0
    assert v["gpu0.power_watts"] == 356.0 and v["gpu0.power_limit_watts"] == 400.0
    assert v["gpu0.temperature_c"] == 64.0 and v["gpu0.sm_clock_mhz"] == 1410.0
    assert v["gpu0.pcie_rx_bytes_per_second"] == 2100000 * 1024
    assert clock_event_reason_names(v["gpu0.clock_event_reasons"]) == ("sw_power_cap",)
    assert fake.sc.gpus[0].calls["power"] == 1


def test_not_supported_is_asked_only_once(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    fake = nvml_scenario("power_temp_unsupported")
    a100, l40s = fake.sc.gpus
    nv = backend()
    for _ in range(5):
        v = nv.sample()
        assert v["gpu1.power_watts"] is None and v["gpu1.temperature_c"] is None
        assert v["gpu1.energy_joules"] is None
        assert v["gpu0.power_watts"] == 356.0 and v["gpu0.temperature_c"] == 64.0
        assert v["gpu1.util_percent"] == 0.0  # the rest of the L40S is read as usual
    assert l40s.calls["power"] == 1
    assert l40s.calls["temperature"] == 1
    assert l40s.calls["energy"] == 1
    assert l40s.calls["fan"] == 1  # no fan reading either: asked once
    # the fake counts its utilization call twice (gpu and memory): 5 ticks, 10 counts
    assert a100.calls["power"] == 5 and a100.calls["utilization"] == 10
    assert l40s.calls["utilization"] == 10


def test_gpu_lost_from_the_start(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("gpu_lost")
    nv = backend()
    assert nv.live_gpu_indexes() == (0, 1)
    v = nv.sample()
    assert all(v[f"gpu1.{m}"] is None for m in GPU_METRICS)
    assert v["gpu0.power_watts"] == 72.0


def test_gpu_lost_mid_run_turns_into_gaps_and_comes_back(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    fake = nvml_scenario("three_mixed")
    clock = Clock()
    nv = backend(clock)
    assert nv.sample()["gpu1.util_percent"] == 0.0
    lost = fake.sc.gpus[1]
    lost.lost = True
    clock.now += 0.5
    v = nv.sample()
    assert all(v[f"gpu1.{m}"] is None for m in GPU_METRICS)
    assert v["gpu0.power_watts"] == 12.0 and v["gpu2.util_percent"] == 0.0
    asked = dict(lost.calls)
    for _ in range(5):  # while lost it is not asked every tick
        clock.now += 0.5
        v = nv.sample()
        assert v["gpu1.power_watts"] is None and v["gpu0.power_watts"] == 12.0
    assert lost.calls == asked
    lost.lost = False
    clock.now += LOST_GPU_RETRY_S
    assert nv.sample()["gpu1.power_watts"] == 72.0


def test_our_process_gpu_memory(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    fake = nvml_scenario("a100_loaded")
    me = os.getpid()
    fake.sc.gpus[0].processes = [(me, 3 << 30), (me + 1, 1 << 30), (424242, 7 << 30)]
    nv = backend()
    assert nv.sample(frozenset({me, me + 1}))["proc.gpu0.memory_bytes"] == 4 << 30
    assert nv.sample(frozenset({999999}))["proc.gpu0.memory_bytes"] == 0.0
    assert nv.sample()["proc.gpu0.memory_bytes"] is None
    fake.sc.gpus[0].processes = [(me, None)]  # type: ignore[list-item]  # Windows WDDM
    assert nv.sample(frozenset({me}))["proc.gpu0.memory_bytes"] is None


def test_no_driver_means_no_gpu_metrics_and_one_reason(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("missing")
    nv = backend()
    assert nv.metrics() == () and nv.sample() == {}
    s = Sampler(0.5, host=False, process=False, gpus=nv)
    assert s.names == ()
    assert s.gpu_unavailable_reason == "no NVIDIA driver: NVML library not found"
    assert s.notes == ("NVIDIA: no driver (NVML library not found)",)
    assert s.gpu_summary() == "NVIDIA: no driver (NVML library not found)" and s.gpu_count == 0
    s.stop()


def test_sampler_thread_reads_gpus_and_survives_a_lost_one(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    fake = nvml_scenario("three_mixed")
    q = QueueSubscriber()
    lost_seen = threading.Event()

    def lose_gpu_two(smp: TelemetrySample) -> None:
        if smp.tick == 2:
            fake.sc.gpus[2].lost = True  # between ticks, on the sampler thread
        if smp.get("gpu2.util_percent") is None and smp.tick > 2:
            lost_seen.set()

    with Sampler(0.1, host=False, process=False) as s:
        s.subscribe(lose_gpu_two)
        s.subscribe(q)
        assert lost_seen.wait(10)
        before = len(q.drain())
        after = q.get(timeout=5)
    assert before >= 3 and after is not None
    assert after.get("gpu0.power_watts") == 12.0 and after.get("gpu1.power_watts") == 72.0
    assert all(after.get(f"gpu2.{m}") is None for m in GPU_METRICS)
    w = s.window(names=["gpu2.util_percent", "gpu0.util_percent"])
    assert w.values["gpu2.util_percent"][0] == 0.0
    assert all(x == x for x in w.values["gpu0.util_percent"])  # no gaps on the healthy GPU
    assert fake.initialised is False  # the sampler's own NVML was shut down


def test_transient_errors_are_asked_again(nvml_scenario, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pynvml

    nvml_scenario("one_t4")
    nv = backend()
    nv.sample()
    calls = {"n": 0}

    def flaky(handle: object) -> int:
        calls["n"] += 1
        raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)

    monkeypatch.setattr(pynvml, "nvmlDeviceGetPowerUsage", flaky)
    for _ in range(3):
        assert nv.sample()["gpu0.power_watts"] is None
    assert calls["n"] == 3


def test_devices_and_status_unchanged_by_sampling(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("power_temp_unsupported")
    nv = backend()
    nv.sample()
    a100, l40s = nv.devices()
    assert a100.power_limit_enforced_watts == 400.0 and l40s.power_limit_enforced_watts is None
    assert nv.status().available


@pytest.mark.parametrize("name", ["one_t4", "three_mixed", "power_temp_unsupported", "gpu_lost"])
def test_every_scenario_gives_every_metric(nvml_scenario, name: str) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario(name)
    nv = backend()
    names = {m.name for m in nv.metrics()}
    for _ in range(2):
        assert set(nv.sample()) == names
