"""TPU chips: their device ids (``tpu:N``) beside ``cpu`` and ``gpu:N``, parsed in one place."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hwprof.core.devices import DeviceId, DeviceIdError, parse_device_id
from hwprof.core.spec import RunSpec
from hwprof.core.targets import TargetError, parse_target


@pytest.mark.parametrize(("text", "kind", "index", "canonical"), [
    ("cpu", "cpu", None, "cpu"),
    (" CPU ", "cpu", None, "cpu"),
    ("gpu:0", "gpu", 0, "gpu:0"),
    ("GPU:12", "gpu", 12, "gpu:12"),
    ("gpu", "gpu", 0, "gpu:0"),
    ("cuda", "gpu", 0, "gpu:0"),
    ("tpu:3", "tpu", 3, "tpu:3"),
    ("TPU", "tpu", 0, "tpu:0"),
])
def test_device_ids_parse(text: str, kind: str, index: int | None, canonical: str) -> None:
    d = parse_device_id(text)
    assert d == DeviceId(kind, index)  # type: ignore[arg-type]
    assert str(d) == canonical


@pytest.mark.parametrize("text", ["", "npu:0", "gpu:x", "gpu:", "tpu:-1", "gpu:1234", "gpu0",
                                  "cpu:0"])
def test_bad_device_ids_get_one_message(text: str) -> None:
    with pytest.raises(DeviceIdError) as err:
        parse_device_id(text)
    assert str(err.value).endswith('use "cpu", "gpu:N" or "tpu:N" (e.g. gpu:0)')


def test_every_front_door_takes_tpu_ids_and_refuses_the_rest_alike() -> None:
    spec = RunSpec(workload="mlp", device="TPU:1")
    assert spec.device == "tpu:1" and spec.is_tpu and spec.tpu_index == 1
    assert not spec.is_gpu and spec.gpu_index is None
    assert RunSpec(workload="mlp", device="gpu:2").tpu_index is None
    assert parse_target("tpu:0 bf16").label == "tpu:0 bf16"
    with pytest.raises(ValidationError, match=r'use "cpu", "gpu:N" or "tpu:N"'):
        RunSpec(workload="mlp", device="npu:0")
    with pytest.raises(TargetError, match=r'a device, "cpu", "gpu:N" or "tpu:N", not .npu:0'):
        parse_target("npu:0 bf16")


def test_the_cli_says_the_same_words_for_a_bad_device(capsys: pytest.CaptureFixture[str]) -> None:
    from hwprof.cli.main import main

    assert main(["roofline", "--device", "npu:0"]) == 2
    assert main(["run", "mlp", "--device", "npu:0"]) == 2
    err = capsys.readouterr().err
    assert err.count('unknown device \'npu:0\': use "cpu", "gpu:N" or "tpu:N"') == 2
