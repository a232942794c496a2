"""Detection, run planning and telemetry with an Apple silicon GPU (a fake Mac's commands)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fakes.apple import FakeMac
from fakes.intel import IntelMachine

import hwprof.services.runs as runs
from hwprof.core.devices import (
    METAL_PLUGIN_HINT,
    DetectReport,
    TensorFlowInfo,
    TfDevice,
    match_tensorflow_gpus,
)
from hwprof.core.spec import RunSpec
from hwprof.runner.run import worker_env
from hwprof.sampling.sampler import Sampler
from hwprof.services.detect import detect_all, detect_apple_gpus, detect_device_label
from hwprof.services.runs import DeviceError, check_device, machine_gpus


def test_off_macos_apple_is_a_status_and_nothing_runs(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("missing")
    status, gpus = detect_apple_gpus()
    assert not status.available and gpus == ()
    assert status.message is not None and "macOS" in status.message
    report = detect_all(with_tensorflow=False)
    assert report.apple is not None and not report.apple.available
    assert not any(g.vendor == "apple" for g in report.gpus)


def test_m2_max_is_the_gpu_after_the_others(  # type: ignore[no-untyped-def]
    nvml_scenario, apple_scenario: Callable[..., FakeMac],
    intel_scenario: Callable[[str], IntelMachine],
) -> None:
    # a Mac has no NVIDIA or Intel GPU; the numbering rule is still checked with them faked here
    nvml_scenario("one_t4")
    intel_scenario("igpu_and_a770")
    apple_scenario("m2max_idle")
    report = detect_all(with_tensorflow=False)
    assert [(g.index, g.vendor, g.vendor_index) for g in report.gpus] == [
        (0, "nvidia", None), (1, "intel", 0), (2, "intel", 1), (3, "apple", 0)]
    m2 = report.gpus[3]
    assert m2.name == "Apple M2 Max" and m2.compute_units == 38 and m2.unified_memory
    assert report.apple is not None and report.apple.chip == "Apple M2 Max"
    again = DetectReport.model_validate_json(report.model_dump_json(by_alias=True))
    assert again.gpus[3].vendor == "apple" and again.apple == report.apple
    assert [g.index for g in machine_gpus()] == [0, 1, 2, 3]
    assert detect_device_label("gpu:3") == "Apple M2 Max"


def test_tensorflow_metal_pairs_the_gpu_or_says_what_to_install(  # type: ignore[no-untyped-def]
    apple_scenario: Callable[..., FakeMac],
) -> None:
    apple_scenario("m3pro_busy")
    _, gpus = detect_apple_gpus()
    metal = TfDevice(name="/physical_device:GPU:0", device_type="GPU", index=0)
    tf = TensorFlowInfo(status="ok", version="2.16.2", built_with_cuda=False, devices=(metal,))
    _, (paired,) = match_tensorflow_gpus(tf, gpus, None, metal_plugin=True)
    assert paired.tensorflow_device == "/physical_device:GPU:0"
    bare = tf.model_copy(update={"devices": ()})
    _, (missing,) = match_tensorflow_gpus(bare, gpus, None, metal_plugin=False)
    assert missing.tensorflow_missing_reason == METAL_PLUGIN_HINT
    assert "pip install tensorflow-metal" in METAL_PLUGIN_HINT
    _, (broken,) = match_tensorflow_gpus(bare, gpus, None, metal_plugin=True)
    assert broken.tensorflow_missing_reason is not None
    assert "did not load" in broken.tensorflow_missing_reason


def test_apple_gpu_run_is_refused_without_tensorflow_metal(  # type: ignore[no-untyped-def]
    nvml_scenario, apple_scenario: Callable[..., FakeMac], monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml_scenario("missing")
    apple_scenario("m2max_idle")
    monkeypatch.setattr(runs, "metal_plugin_installed", lambda: False)
    with pytest.raises(DeviceError) as err:
        check_device(RunSpec(workload="matmul", device="gpu:0"))
    assert str(err.value) == f"gpu:0 (Apple M2 Max): {METAL_PLUGIN_HINT}"


def test_apple_gpu_run_is_pinned_to_the_metal_gpu(  # type: ignore[no-untyped-def]
    nvml_scenario, apple_scenario: Callable[..., FakeMac], monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml_scenario("missing")
    apple_scenario("m2max_idle")
    monkeypatch.setattr(runs, "metal_plugin_installed", lambda: True)
    spec = check_device(RunSpec(workload="matmul", device="gpu:0"))
    assert spec.gpu_vendor == "apple" and spec.vendor_index == 0
    assert RunSpec.model_validate_json(spec.model_dump_json()).gpu_vendor == "apple"
    env = worker_env(spec)
    assert env["CUDA_VISIBLE_DEVICES"] == "" and "ZE_AFFINITY_MASK" not in env


def test_the_plugin_is_looked_up_without_importing_tensorflow() -> None:
    assert runs.metal_plugin_installed() is False  # not installed in this venv (not a Mac)


def test_sampler_reads_the_apple_gpu_after_the_others(  # type: ignore[no-untyped-def]
    nvml_scenario, apple_scenario: Callable[..., FakeMac],
) -> None:
    nvml_scenario("missing")
    apple_scenario("m2max_busy")
    sampler = Sampler(interval_s=0.25, process=False, amd=False, intel=False)
    try:
        assert sampler.gpu_count == 1
        names = {m.name for m in sampler.metrics}
        assert {"gpu0.util_percent", "gpu0.memory_used_bytes", "gpu0.power_watts"} <= names
        summary = sampler.gpu_summary("monitored")
        assert summary is not None and "Apple: 1 GPU monitored" in summary
        values = sampler.sample_once().values
        assert values["gpu0.util_percent"] == 97.0 and values["gpu0.power_watts"] is None
    finally:
        sampler.stop()
