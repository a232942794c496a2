"""A real input pipeline (issue 20, part 2): ``--data pipeline`` and the input-bound verdict.

The spec and flag tests are pure. The parser test reads a stand-in capture shaped like TensorFlow
2.21's (the consumer's ``IteratorGetNextOp::DoCompute`` on a ``tf_data_iterator_get_next`` line,
the map function's ops on a ``tf_data_private_threadpool`` line). The ``tf`` tests run real
pipelines through the CLI on the CPU.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from hwprof.core import trace
from hwprof.core.spec import RunSpec
from tests.snapshot_helpers import hwprof


# -- the spec and the flags ------------------------------------------------------------------------
def test_pipeline_spec_and_label() -> None:
    spec = RunSpec(workload="cifar10_cnn", data="pipeline", pipeline_threads=2)
    assert spec.effective_source_size == 64  # twice the 32 px image side
    assert "pipeline(threads=2, jpeg=64)" in spec.label()
    auto = RunSpec(workload="resnet50", mode="infer", size=64, data="pipeline",
                   pipeline_source_size=100)
    assert "pipeline(threads=auto, jpeg=100)" in auto.label()
    assert RunSpec(workload="mobilenet_v2").data == "synthetic"
    assert "pipeline" not in RunSpec(workload="mobilenet_v2").label()


@pytest.mark.parametrize(("fields", "words"), [
    ({"workload": "conv", "data": "pipeline"}, "conv has no image input"),
    ({"workload": "mlp", "data": "pipeline"}, "--data pipeline is for cifar10_cnn"),
    ({"workload": "cifar10_cnn", "pipeline_threads": 2}, "go with the pipeline"),
    ({"workload": "cifar10_cnn", "pipeline_source_size": 64}, "go with the pipeline"),
    ({"workload": "cifar10_cnn", "data": "pipeline", "pipeline_source_size": 16},
     "must be at least the image side (32 px)"),
    ({"workload": "cifar10_cnn", "data": "pipeline", "replicas": 2}, "runs on one device"),
    ({"workload": "cifar10_cnn", "data": "pipeline", "pipeline_threads": 0}, "greater than"),
    ({"workload": "cifar10_cnn", "data": "files"}, "'synthetic' or 'pipeline'"),
])
def test_pipeline_spec_refusals(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(words)):
        RunSpec(**fields)


def test_pipeline_flags_refused_before_the_run() -> None:
    cases = [
        (("conv", "--data", "pipeline"), "conv has no image input for a pipeline to decode"),
        (("cifar10_cnn", "--pipeline-threads", "2"), "go with the pipeline (--data pipeline)"),
        (("cifar10_cnn", "--data", "pipeline", "--pipeline-threads", "0"),
         "--pipeline-threads: Input should be greater than or equal to 1"),
    ]
    for flags, words in cases:
        r = hwprof("run", *flags, "--steps", "1")
        assert r.returncode == 2 and words in r.stderr, (flags, r.stderr)
        assert "Traceback" not in r.stderr


# -- the parser: the consumer's wait is input wait, the pipeline's background work is not ---------
@dataclass
class _Stat:
    metadata_id: int
    int64_value: int

    def WhichOneof(self, _: str) -> str:  # protobuf's name
        return "int64_value"


@dataclass
class _Event:
    metadata_id: int
    offset_ps: int
    duration_ps: int
    stats: list[_Stat] = field(default_factory=list)


@dataclass
class _Meta:
    name: str
    display_name: str = ""


@dataclass
class _Line:
    name: str
    events: list[_Event]
    timestamp_ns: int = 0
    display_name: str = ""


@dataclass
class _Plane:
    name: str
    lines: list[_Line]
    event_metadata: dict[int, _Meta]
    stat_metadata: dict[int, _Meta]


def _space(with_consumer: bool) -> Any:
    us = 1_000_000  # picoseconds
    meta = {1: _Meta("train"), 2: _Meta("conv:Conv2D", "Conv2D"),
            3: _Meta("IteratorGetNextOp::DoCompute"),
            4: _Meta("DecodeJpeg:DecodeJpeg", "DecodeJpeg"), 5: _Meta("random_crop:Slice", "Slice")}
    step = _Event(1, 0, 1000 * us, [_Stat(1, 0)])
    lines = [
        _Line("python", [step]),
        # the step waits 0-400 us for its batch, then computes 400-1000 us
        _Line("tf_Compute/1", [_Event(2, 400 * us, 600 * us)]),
        # the pipeline decodes 0-300 us (waited for) and 500-900 us (the next batch, in the
        # background while the step computes), and crops 300-350 us
        _Line("tf_data_private_threadpool/1", [_Event(4, 0, 300 * us), _Event(5, 300 * us, 50 * us),
                                               _Event(4, 500 * us, 400 * us)]),
    ]
    if with_consumer:
        lines.append(_Line("tf_data_iterator_get_next/1", [_Event(3, 0, 400 * us)]))
    plane = _Plane("/host:CPU", lines, meta, {1: _Meta("step_num")})
    return type("XSpace", (), {"planes": [plane]})()


def test_input_wait_is_the_consumers_wait() -> None:
    s = trace.summarize_capture(_space(with_consumer=True))
    (step,) = s.steps
    assert step.input_wait_s == pytest.approx(400e-6)  # the whole wait, crop included
    assert step.device_compute_s == pytest.approx(600e-6)  # the crop is not the step's compute
    assert step.device_idle_s + step.host_s == pytest.approx(0.0)
    v = trace.verdict(s, workload="cifar10_cnn", device="cpu")
    assert v.kind == "input-bound" and "40%" in v.text
    cats = {c.category: c for c in s.categories}
    assert cats["input pipeline"].count == 2 and cats["matmul/conv"].count == 1


def test_input_wait_without_consumer_marks_falls_back_to_pipeline_ops() -> None:
    (step,) = trace.summarize_capture(_space(with_consumer=False)).steps
    # the pipeline's work outside compute (decode and crop, 0-350 us) is the wait; its decode
    # during compute (500-900 us) is not
    assert step.input_wait_s == pytest.approx(350e-6)
    assert step.device_compute_s == pytest.approx(600e-6)


# -- real pipelines --------------------------------------------------------------------------------
def _traced_json(*flags: str) -> dict[str, Any]:
    r = hwprof("run", "cifar10_cnn", "--json", *flags)
    assert r.returncode == 0, r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


# The two runs differ only in the pipeline: cifar10_cnn on 16 x 16 images, batch 8, on the CPU.
# On a 2-core machine more threads cannot make a heavy decode free (it takes the cores the model
# needs), so the fed run also decodes small JPEGs: what makes the contrast large and stable.
COMMON = ("--size", "16", "--batch-size", "8", "--steps", "4", "--warmup", "2", "--trace", "8")
STARVED = ("--data", "pipeline", "--pipeline-threads", "1", "--pipeline-source-size", "1024")
FED = ("--data", "pipeline")


@pytest.mark.tf
def test_starved_pipeline_is_input_bound_and_a_fed_one_is_not() -> None:
    """Too few pipeline threads on an expensive decode is input-bound; a fed pipeline is not.

    Starved: one pipeline thread (map parallelism, tf.data's thread pool, one batch prefetched)
    decoding 1024 x 1024 JPEGs (about 6 ms each, 50 ms a batch against a 5-10 ms step): the step
    waits in IteratorGetNext most of the time. Eight steps are traced because the batches banked
    while the profiler starts (the prefetched one and the one the map holds) feed the first few.
    Fed: tf.data.AUTOTUNE threads and prefetch decoding 32 x 32 JPEGs (the default, twice the
    image side): the next batch is ready before the step asks. Same workload, size, batch, steps.
    """
    starved = _traced_json(*COMMON, *STARVED)
    fed = _traced_json(*COMMON, *FED)
    s_trace, f_trace = starved["result"]["report"]["trace"], fed["result"]["report"]["trace"]
    assert s_trace["verdict"]["kind"] == "input-bound", s_trace["verdict"]
    assert "prefetch" in s_trace["verdict"]["advice"]
    assert f_trace["verdict"]["kind"] != "input-bound", f_trace["verdict"]
    wait = [sum(st["input_wait_s"] for st in t["steps"]) / sum(st["step_s"] for st in t["steps"])
            for t in (s_trace, f_trace)]
    assert wait[0] > 2 * trace.INPUT_BOUND_SHARE and wait[1] < trace.INPUT_BOUND_SHARE / 2, wait
    # the wait is the consumer's IteratorGetNext; the decoding is the pipeline's category
    assert any(t["op_type"] == "DecodeJpeg" and t["category"] == "input pipeline"
               for t in s_trace["op_types"])
    # --json keeps the summary but not the raw trace (--trace-out and --save keep that)
    assert "chrome_trace_gzip_base64" not in s_trace and s_trace["chrome_trace_events"] > 0
    assert s_trace["capture_bytes"] > 0
    notes = " ".join(starved["result"]["report"]["notes"])
    assert "1024 x 1024 JPEGs" in notes and "prefetched: 1" in notes
    assert starved["spec"]["data"] == "pipeline" and starved["spec"]["pipeline_threads"] == 1


@pytest.mark.tf
@pytest.mark.parametrize("xla", ["--no-xla", "--xla"])
def test_pipeline_inference_runs(xla: str) -> None:
    """Serving from the pipeline, with and without XLA (the model's part is compiled apart)."""
    doc = _traced_json("--mode", "infer", "--size", "16", "--batch-size", "4", "--steps", "3",
                       "--warmup", "1", "--data", "pipeline", "--pipeline-threads", "2", xla)
    rep = doc["result"]["report"]
    assert len(rep["steps"]["seconds"]) == 3 and rep["samples_per_step"] == 4
    assert any("tf.data pipeline decoding 32 x 32 JPEGs" in n for n in rep["notes"])
