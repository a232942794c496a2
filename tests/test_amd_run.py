"""Planning a run on an AMD GPU (fake amdgpu trees): the device list, pinning, refusal, the peak.

No ROCm TensorFlow exists here: nothing below starts a worker on an AMD GPU.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes.amd import AmdMachine

from hwprof.core.devices import DetectReport, TensorFlowInfo, TfDevice
from hwprof.core.spec import RunSpec
from hwprof.runner.run import worker_env
from hwprof.services.runs import (
    DeviceError,
    check_device,
    device_peak,
    pin_gpu,
    tensorflow_rocm_support,
)

AmdScenario = Callable[[str], AmdMachine]
ROCM_TF = (True, "2.16.2")
CUDA_TF = (False, "2.21.0")


def test_worker_env_pins_each_vendor_by_its_own_numbering() -> None:
    amd = RunSpec(workload="mlp", device="gpu:1", gpu_vendor="amd", vendor_index=0)
    env = worker_env(amd)
    assert env["HIP_VISIBLE_DEVICES"] == "0" and env["CUDA_VISIBLE_DEVICES"] == "0"
    nvidia = worker_env(RunSpec(workload="mlp", device="gpu:1"))  # saved before AMD support
    assert nvidia["CUDA_VISIBLE_DEVICES"] == "1" and nvidia["HIP_VISIBLE_DEVICES"] == "-1"
    cpu = worker_env(RunSpec(workload="mlp"))
    assert cpu["CUDA_VISIBLE_DEVICES"] == "" and cpu["HIP_VISIBLE_DEVICES"] == "-1"
    two = worker_env(RunSpec(workload="mlp", device="gpu:2", replicas=2, gpu_vendor="amd",
                             vendor_index=1))
    assert two["HIP_VISIBLE_DEVICES"] == "1,2"


def test_old_specs_load_and_a_cpu_run_has_no_vendor() -> None:
    old = RunSpec.model_validate({"workload": "mlp", "device": "gpu:0"})
    assert old.gpu_vendor is None and old.vendor_index is None
    with pytest.raises(ValueError, match="CPU run has no GPU vendor"):
        RunSpec(workload="mlp", gpu_vendor="amd", vendor_index=0)


def test_an_amd_gpu_on_a_mixed_machine_is_planned_with_its_hip_number(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario
) -> None:
    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    planned = check_device(RunSpec(workload="mlp", device="gpu:1"), rocm=ROCM_TF)
    assert planned.gpu_vendor == "amd" and planned.vendor_index == 0
    env = worker_env(planned)
    assert env["HIP_VISIBLE_DEVICES"] == "0" and env["CUDA_VISIBLE_DEVICES"] == "0"
    t4 = check_device(RunSpec(workload="mlp", device="gpu:0"), rocm=ROCM_TF)
    assert t4.gpu_vendor == "nvidia" and worker_env(t4)["CUDA_VISIBLE_DEVICES"] == "0"
    with pytest.raises(DeviceError, match=r"this machine has 2 GPUs \(gpu:0, gpu:1\)"):
        check_device(RunSpec(workload="mlp", device="gpu:2"), rocm=ROCM_TF)
    with pytest.raises(DeviceError, match="different vendors"):
        check_device(RunSpec(workload="mlp", device="gpu:0", replicas=2), rocm=ROCM_TF)


def test_an_amd_only_machine_counts_its_gpus(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario
) -> None:
    nvml_scenario("missing")
    amd_scenario("three_amd")
    planned = check_device(RunSpec(workload="mlp", device="gpu:2"), rocm=ROCM_TF)
    assert planned.gpu_vendor == "amd" and worker_env(planned)["HIP_VISIBLE_DEVICES"] == "2"
    with pytest.raises(DeviceError, match=r"has 3 GPUs \(gpu:0, gpu:1, gpu:2\)"):
        check_device(RunSpec(workload="mlp", device="gpu:3"), rocm=ROCM_TF)


def test_no_rocm_tensorflow_refuses_with_the_install_hint(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario
) -> None:
    nvml_scenario("missing")
    amd_scenario("one_mi300x")
    with pytest.raises(DeviceError) as caught:
        check_device(RunSpec(workload="mlp", device="gpu:0"), rocm=CUDA_TF)
    text = str(caught.value)
    assert text.startswith("gpu:0 (AMD Instinct MI300X): AMD GPU found; TensorFlow 2.21.0 has no")
    assert "pip install tensorflow-rocm, the release built for ROCm 6.2.0" in text


def test_hwprof_run_refuses_an_amd_gpu_before_a_worker_starts(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario, capsys: pytest.CaptureFixture[str]
) -> None:
    from hwprof.cli.main import main

    if tensorflow_rocm_support()[0]:
        pytest.skip("this TensorFlow is a ROCm build")
    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    assert main(["run", "mlp", "--device", "gpu:1", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "gpu:1 (AMD Instinct MI300X): AMD GPU found" in err
    assert "pip install tensorflow-rocm" in err and "Traceback" not in err


def test_rocm_support_is_read_from_tensorflows_build_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = tmp_path / "tensorflow" / "python" / "platform"
    platform.mkdir(parents=True)
    (tmp_path / "tensorflow" / "__init__.py").write_text("raise ImportError('never imported')\n")
    (platform / "build_info.py").write_text(
        "build_info = collections.OrderedDict([('is_cuda_build', False), "
        "('is_rocm_build', True), ('rocm_version', '6.2.0')])\n")
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert tensorflow_rocm_support()[0] is True
    (platform / "build_info.py").write_text("build_info = {'is_rocm_build': False}\n")
    assert tensorflow_rocm_support()[0] is False


def test_device_peak_finds_an_amd_gpu(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario
) -> None:
    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    value, source = device_peak(RunSpec(workload="mlp", device="gpu:1"))
    assert value == pytest.approx(81.7e12, rel=0.01)  # MI300X: 81.7 TFLOP/s fp32 (vector)
    assert source.startswith("gpu:1 fp32 peak estimate")


def _machine(rocm: bool) -> DetectReport:
    from hwprof.backends.cpu import detect_cpu, detect_host
    from hwprof.services.detect import (
        DetectFunctions,
        detect_amd_gpus,
        detect_gpus,
        detect_progressively,
    )

    tf = TensorFlowInfo(status="ok", version="2.16.2", built_with_cuda=not rocm,
                        built_with_rocm=rocm, devices=(
                            TfDevice(name="/physical_device:CPU:0", device_type="CPU", index=0),
                            TfDevice(name="/physical_device:GPU:0", device_type="GPU", index=0)))
    functions = DetectFunctions(host=detect_host, gpus=detect_gpus, cpu=detect_cpu,
                                tensorflow=lambda _c: tf,
                                amd=lambda offset: detect_amd_gpus(None, offset))
    report = detect_progressively(functions).to_report()
    assert report is not None
    return report


def test_the_profile_picker_refuses_an_amd_gpu_without_rocm_tensorflow(  # type: ignore[no-untyped-def]
    nvml_scenario, amd_scenario: AmdScenario
) -> None:
    from hwprof.services.profile_session import check_device as check_profile_device
    from hwprof.services.session import SessionError

    nvml_scenario("one_t4")
    amd_scenario("one_mi300x")
    cuda = _machine(rocm=False)
    with pytest.raises(SessionError, match=r"gpu:1: AMD GPU found.*pip install tensorflow-rocm"):
        check_profile_device("gpu:1", cuda)
    check_profile_device("gpu:0", cuda)  # the T4: fine
    rocm = _machine(rocm=True)
    check_profile_device("gpu:1", rocm)
    # the profile's tests are pinned by vendor, as a run is
    spec = pin_gpu(RunSpec(workload="matmul", mode="infer", device="gpu:1"), rocm.gpus)
    assert spec.gpu_vendor == "amd" and spec.vendor_index == 0
