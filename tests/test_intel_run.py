"""Run planning on Intel GPUs: refused without the Intel Extension, pinned with ZE_AFFINITY_MASK."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fakes.intel import IntelMachine

import hwprof.services.runs as runs
from hwprof.runner.run import worker_env
from hwprof.services.runs import INTEL_EXTENSION_HINT, DeviceError, check_device


def _spec(device: str):  # type: ignore[no-untyped-def]
    from hwprof.core.spec import RunSpec

    return RunSpec(workload="matmul", device=device)


def test_intel_gpu_run_is_refused_without_the_extension(  # type: ignore[no-untyped-def]
    nvml_scenario, intel_scenario: Callable[[str], IntelMachine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml_scenario("missing")
    intel_scenario("igpu_and_a770")
    monkeypatch.setattr(runs, "intel_extension_installed", lambda: False)
    with pytest.raises(DeviceError) as err:
        check_device(_spec("gpu:1"))
    assert str(err.value) == f"gpu:1 (Intel Arc A770): {INTEL_EXTENSION_HINT}"
    assert "pip install intel-extension-for-tensorflow[xpu]" in str(err.value)


def test_intel_gpu_run_is_pinned_with_ze_affinity_mask(  # type: ignore[no-untyped-def]
    nvml_scenario, intel_scenario: Callable[[str], IntelMachine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml_scenario("missing")
    intel_scenario("igpu_and_a770")
    monkeypatch.setattr(runs, "intel_extension_installed", lambda: True)
    spec = check_device(_spec("gpu:1"))
    assert spec.gpu_vendor == "intel" and spec.vendor_index == 1
    env = worker_env(spec)
    assert env["ZE_AFFINITY_MASK"] == "1" and env["CUDA_VISIBLE_DEVICES"] == ""


def test_the_extension_is_found_without_importing_it() -> None:
    assert runs.intel_extension_installed() is False  # not installed in this venv


def test_an_intel_pinned_spec_validates_again() -> None:
    from hwprof.core.spec import RunSpec

    spec = RunSpec(workload="matmul", device="gpu:2", gpu_vendor="intel", vendor_index=0)
    assert RunSpec.model_validate_json(spec.model_dump_json()).gpu_vendor == "intel"
