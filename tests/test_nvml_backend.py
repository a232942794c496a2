"""The NVML back end against stubbed pynvml functions driven by scenario tables."""

from __future__ import annotations

import pytest

from hwprof.backends.nvml import NvmlBackend, cuda_version_text, normalize_pci_bus_id
from hwprof.core.devices import TensorFlowInfo, TfDevice, match_tensorflow_gpus
from hwprof.services.detect import detect_gpus


def test_library_missing_is_one_clear_line(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    fake = nvml_scenario("missing")
    nv = NvmlBackend()
    assert not nv.available()
    assert nv.unavailable_reason() == "no NVIDIA driver: NVML library not found"
    assert nv.devices() == ()
    assert nv.status().available is False
    nv.available()
    assert fake.init_calls == 1  # asked once, remembered


def test_init_fails(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("init_fails")
    status, gpus = detect_gpus(NvmlBackend())
    assert not status.available and "not loaded" in (status.message or "")
    assert gpus == ()


def test_lazy_init(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    fake = nvml_scenario("one_t4")
    nv = NvmlBackend()
    assert fake.init_calls == 0
    nv.devices()
    assert fake.init_calls == 1


def test_no_gpus(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("no_gpus")
    status, gpus = detect_gpus(NvmlBackend())
    assert status.available and status.driver_version == "550.163.01"
    assert status.cuda_driver_version == "12.4"
    assert gpus == ()


def test_one_t4_facts(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("one_t4")
    (g,) = NvmlBackend().devices()
    assert g.name == "NVIDIA T4"
    assert g.pci_bus_id == "0000:3b:00.0"
    assert g.memory_total_bytes == 17179869184
    assert g.compute_capability == (7, 5)
    assert g.architecture == "turing"
    assert g.cuda_cores == 2560
    assert (g.sm_clock_max_mhz, g.memory_clock_max_mhz) == (1590, 5001)
    assert g.power_limit_default_watts == 70.0 and g.power_limit_enforced_watts == 70.0
    assert g.pcie is not None and (g.pcie.generation_max, g.pcie.width_max) == (3, 16)
    assert g.mig_mode_current is None  # T4 has no MIG: NotSupported -> None, not False
    assert g.peak is not None and g.peak.fp32_flops == pytest.approx(8.14e12, rel=0.01)


def test_three_gpus_of_different_generations(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("three_mixed")
    gpus = NvmlBackend().devices()
    assert [g.architecture for g in gpus] == ["turing", "ampere", "hopper"]
    assert [g.compute_capability for g in gpus] == [(7, 5), (8, 0), (9, 0)]
    assert gpus[1].mig_mode_current is False and gpus[2].mig_mode_current is False
    assert gpus[2].peak is not None and gpus[2].peak.bf16_flops is not None
    assert (
        gpus[0].peak is not None and gpus[0].peak.bf16_flops is None
    )  # Turing: no bf16 tensor cores


def test_power_and_temperature_not_supported(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("power_temp_unsupported")
    a100, l40s = NvmlBackend().devices()
    assert a100.power_limit_enforced_watts == 400.0
    assert l40s.power_limit_enforced_watts is None and l40s.power_limit_default_watts is None
    assert l40s.name == "NVIDIA L40S" and l40s.error is None


def test_gpu_lost(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("gpu_lost")
    good, lost = NvmlBackend().devices()
    assert good.error is None and good.name == "NVIDIA A100-SXM4-40GB"
    assert lost.error is not None and "lost" in lost.error
    assert lost.name is None


def test_tensorflow_matching_by_pci_bus_order(nvml_scenario, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake = nvml_scenario("three_mixed")
    # NVML order T4, A100, H100; bus ids in another order, so PCI order differs from NVML order
    fake.sc.gpus[0].bus_id, fake.sc.gpus[1].bus_id, fake.sc.gpus[2].bus_id = (
        "0000:AF:00.0",
        "0000:07:00.0",
        "0000:3B:00.0",
    )
    gpus = NvmlBackend().devices()
    tf = TensorFlowInfo(
        status="ok",
        version="2.21.0",
        built_with_cuda=True,
        devices=(
            TfDevice(name="/physical_device:CPU:0", device_type="CPU", index=0),
            TfDevice(name="/physical_device:GPU:0", device_type="GPU", index=0),
            TfDevice(name="/physical_device:GPU:1", device_type="GPU", index=1),
        ),
    )
    tf2, gpus2 = match_tensorflow_gpus(tf, gpus, cuda_visible_devices=None)
    # PCI order: A100 (07), H100 (3B), T4 (AF); TF saw two GPUs
    assert tf2.devices[1].nvml_index == 1 and tf2.devices[2].nvml_index == 2
    assert gpus2[1].tensorflow_device == "/physical_device:GPU:0"
    assert gpus2[0].tensorflow_device is None
    assert "does not list it" in (gpus2[0].tensorflow_missing_reason or "")
    _, hidden = match_tensorflow_gpus(tf, gpus, cuda_visible_devices="1,2")
    assert hidden[1].tensorflow_missing_reason == "hidden by CUDA_VISIBLE_DEVICES"
    assert hidden[0].tensorflow_device == "/physical_device:GPU:1"
    no_cuda = tf.model_copy(update={"built_with_cuda": False, "devices": tf.devices[:1]})
    _, g3 = match_tensorflow_gpus(no_cuda, gpus, None)
    assert all(
        g.tensorflow_missing_reason == "this TensorFlow build has no CUDA support" for g in g3
    )
    # on native Windows the reason says what a Windows user gets, and what to do
    import hwprof.core.devices as devices

    monkeypatch.setattr(devices.sys, "platform", "win32")
    _, g4 = match_tensorflow_gpus(no_cuda, gpus, None)
    assert all("no GPU support on native Windows since 2.10" in (g.tensorflow_missing_reason or "")
               and "WSL2" in (g.tensorflow_missing_reason or "") for g in g4)


def test_helpers() -> None:
    assert normalize_pci_bus_id("00000000:3B:00.0") == "0000:3b:00.0"
    assert normalize_pci_bus_id("0000:3b:00.0") == "0000:3b:00.0"
    assert cuda_version_text(12040) == "12.4" and cuda_version_text(11080) == "11.8"
    assert cuda_version_text(None) is None
