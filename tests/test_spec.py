"""Run specs: bad values are refused with a message that says what is wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hwprof.core.catalog import WORKLOADS, get_workload, workload_names
from hwprof.core.spec import RunSpec


def test_defaults_come_from_the_catalogue() -> None:
    s = RunSpec(workload="resnet50")
    assert s.effective_batch_size == 32 and s.effective_size == 224
    assert s.label() == "resnet50 train cpu b32 fp32"
    assert RunSpec(workload="mlp", device="GPU").device == "gpu:0"
    assert RunSpec(workload="mlp", device="gpu:1").gpu_index == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"workload": "nope"}, "unknown workload 'nope'"),
        ({"workload": "mlp", "batch_size": 0}, "greater than 0"),
        ({"workload": "mlp", "duration_seconds": -1}, "greater than 0"),
        ({"workload": "mlp", "device": "npu:0"}, "unknown device"),
        ({"workload": "mlp", "device": "gpu:x"}, "unknown device"),
        ({"workload": "bandwidth", "mode": "train"}, "has no train mode"),
        ({"workload": "matmul", "size": 2}, "at least 8"),
        ({"workload": "mlp", "scenario": "single-stream"}, "for inference"),
        ({"workload": "mlp", "mode": "infer", "scenario": "single-stream", "batch_size": 8},
         "batch 1"),
        ({"workload": "mlp", "duration_seconds": None}, "duration or a number of steps"),
        ({"workload": "mlp", "precision": "fp8"}, "fp32"),
        ({"workload": "mlp", "intra_op_threads": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_values_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RunSpec(**fields)  # type: ignore[arg-type]


def test_single_stream_is_batch_one() -> None:
    s = RunSpec(workload="mobilenet_v2", mode="infer", scenario="single-stream")
    assert s.effective_batch_size == 1


def test_catalogue_is_complete() -> None:
    from hwprof.workloads.builders import BUILT_NAMES

    assert set(workload_names()) == set(BUILT_NAMES)
    assert all(w.description and len(w.description) < 200 for w in WORKLOADS)
    with pytest.raises(KeyError, match="known: matmul"):
        get_workload("x")
