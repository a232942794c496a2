"""Runs on TPU chips: planned or refused before a worker starts; the worker's TPU set-up.

A real TPU run (TensorFlow with libtpu on a TPU VM) cannot happen here; what is tested is the
planning (the chip exists, libtpu is there, one chip per run), the worker's environment that pins
the chip, and that the worker asks TensorFlow for the local TPU and a TPUStrategy (a stand-in
``tf`` records the calls).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from fakes.tpu import TpuHost

from hwprof.cli.main import main
from hwprof.core.devices import TPU_INSTALL_HINT
from hwprof.core.spec import RunSpec
from hwprof.runner.run import worker_env
from hwprof.services import runs
from hwprof.services.runs import DeviceError, check_device, device_peak

TpuScenario = Callable[[str | None], TpuHost]


def spec(device: str, **more: Any) -> RunSpec:
    return RunSpec(workload="mlp", device=device, **more)


def test_no_tpu_here_is_refused_with_the_reason(tpu_scenario: TpuScenario) -> None:
    tpu_scenario(None)
    with pytest.raises(DeviceError, match=r"^tpu:0: no TPU chip \(no Google TPU on the PCI bus\); "
                       r"run on the CPU with --device cpu$"):
        check_device(spec("tpu:0"), libtpu=True)


def test_a_chip_that_is_not_here_names_the_ones_that_are(tpu_scenario: TpuScenario) -> None:
    tpu_scenario("v5litepod-4")
    with pytest.raises(DeviceError, match=r"tpu:4: this machine has 4 TPU chips "
                       r"\(tpu:0, tpu:1, tpu:2, tpu:3\)"):
        check_device(spec("tpu:4"), libtpu=True)


def test_without_libtpu_the_run_is_refused_with_what_to_install(
        tpu_scenario: TpuScenario) -> None:
    tpu_scenario("v5litepod-4")
    with pytest.raises(DeviceError) as err:
        check_device(spec("tpu:1"), libtpu=False)
    assert str(err.value) == f"tpu:1 (TPU v5e): {TPU_INSTALL_HINT}"
    with pytest.raises(DeviceError, match="libtpu"):
        check_device(spec("tpu:1"))  # this machine has no libtpu: found by name, never loaded


def test_with_libtpu_a_tpu_run_is_planned_on_one_chip(tpu_scenario: TpuScenario) -> None:
    tpu_scenario("v4-8")
    planned = check_device(spec("tpu:3"), libtpu=True)
    assert planned.device == "tpu:3" and planned.gpu_vendor is None
    assert check_device(spec("tpu:0", mode="train", replicas=1), libtpu=True).replicas == 1
    with pytest.raises(DeviceError, match="a run uses one TPU chip"):
        check_device(spec("tpu:0", mode="train", replicas=2), libtpu=True)
    value, source = device_peak(spec("tpu:3", precision="mixed_bfloat16"))
    assert value == 275e12 and source == "tpu:3 bf16 peak estimate"
    assert device_peak(spec("tpu:3"))[0] is None  # no fp32 figure for TPUs


def test_the_worker_is_pinned_to_its_chip_and_sees_no_gpu() -> None:
    env = worker_env(spec("tpu:2"))
    assert env["TPU_VISIBLE_CHIPS"] == "2"
    assert env["TPU_CHIPS_PER_PROCESS_BOUNDS"] == env["TPU_PROCESS_BOUNDS"] == "1,1,1"
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["HIP_VISIBLE_DEVICES"] == "-1"
    assert "TPU_VISIBLE_CHIPS" not in worker_env(spec("gpu:0"))
    assert "TPU_VISIBLE_CHIPS" not in worker_env(spec("cpu"))


def test_hwprof_run_refuses_before_a_worker_starts(
        tpu_scenario: TpuScenario, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    tpu_scenario("v5litepod-4")

    def no_worker(*_a: object, **_k: object) -> None:
        raise AssertionError("a worker was started")

    monkeypatch.setattr(runs, "WorkerRun", no_worker)
    assert main(["run", "mlp", "--device", "tpu:0"]) == 2
    err = capsys.readouterr().err
    assert "tpu:0 (TPU v5e): TensorFlow reaches TPUs through libtpu, which is not installed: " \
           "pip install tensorflow-tpu" in err


class _FakeTf:
    """The few TensorFlow calls the worker makes for a TPU, recorded."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        calls = self.calls

        def resolver(tpu: str) -> str:
            calls.append(f"TPUClusterResolver(tpu={tpu!r})")
            return "resolver"

        self.distribute = SimpleNamespace(
            cluster_resolver=SimpleNamespace(TPUClusterResolver=resolver),
            TPUStrategy=lambda r: calls.append(f"TPUStrategy({r})") or "strategy",
        )
        self.config = SimpleNamespace(
            experimental_connect_to_cluster=lambda r: calls.append(f"connect({r})"))
        self.tpu = SimpleNamespace(experimental=SimpleNamespace(
            initialize_tpu_system=lambda r: calls.append(f"initialize({r})")))


def test_the_worker_reaches_the_tpu_through_libtpu_and_a_tpu_strategy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from hwprof.workloads import worker

    monkeypatch.setattr(worker, "_TPU_RESOLVER", [])
    tf = _FakeTf()
    assert worker.configure_tensorflow(tf, spec("tpu:0")) == "/TPU:0"
    assert worker.make_strategy(tf, spec("tpu:0")) is None  # a plain run: placed on /TPU:0
    strategy = worker.make_strategy(tf, spec("tpu:0", mode="train", replicas=1))
    assert strategy == "strategy"
    assert tf.calls == ["TPUClusterResolver(tpu='local')", "connect(resolver)",
                        "initialize(resolver)", "TPUStrategy(resolver)"]  # initialized once


def test_hwprof_profile_says_tpu_chips_cannot_be_profiled_yet(
        tpu_scenario: TpuScenario, capsys: pytest.CaptureFixture[str]) -> None:
    tpu_scenario("v5litepod-4")
    assert main(["profile", "--device", "tpu:0", "--quick"]) == 2
    assert ("tpu:0: TPU chips cannot be profiled yet; measure one with hwprof run WORKLOAD "
            "--device tpu:0") in capsys.readouterr().err
