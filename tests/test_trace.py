"""Where the time goes (issue 20, part 1): the capture's parser, categories, verdict, export.

The parser tests read a real, trimmed capture (tests/data/trace/, made by make_fixture.py there);
reading it needs TensorFlow's XSpace protobuf module, so they are marked ``tf``. The CLI tests run
real traced workloads on the CPU.
"""

from __future__ import annotations

import gzip
import json
import shlex
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hwprof.core import trace
from hwprof.core.snapshot import load_snapshot
from hwprof.core.spec import RunSpec
from tests.snapshot_helpers import hwprof

FIXTURE = Path(__file__).parent / "data" / "trace" / "cifar10_cnn_train_b8.xplane.pb"


# -- the Chrome trace event format (the parts hwprof writes), checked structurally ----------------
# jsonschema is not installed here; these models are the format's schema for the events hwprof
# writes: "X" complete events (ts/dur in microseconds) and "M" metadata naming processes/threads.
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _NameArgs(_Strict):
    name: str


class _Metadata(_Strict):
    ph: Literal["M"]
    name: Literal["process_name", "thread_name"]
    pid: int
    tid: int
    args: _NameArgs


class _Complete(_Strict):
    ph: Literal["X"]
    name: str
    cat: str
    pid: int
    tid: int
    ts: float = Field(ge=0)
    dur: float = Field(ge=0)


class _ChromeTrace(_Strict):
    displayTimeUnit: Literal["ms", "ns"]  # the format's own names
    traceEvents: list[_Metadata | _Complete]


def _check_chrome_trace(data: bytes) -> _ChromeTrace:
    doc = _ChromeTrace.model_validate(json.loads(gzip.decompress(data)))
    named = {(e.pid, e.tid) for e in doc.traceEvents if isinstance(e, _Metadata)}
    for e in doc.traceEvents:
        if isinstance(e, _Complete):
            assert (e.pid, 0) in named and (e.pid, e.tid) in named, "an event's thread is unnamed"
    return doc


# -- pure: categories, families, stand-ins ---------------------------------------------------------
@pytest.mark.parametrize(("op_type", "category"), [
    ("_MklNativeFusedConv2D", "matmul/conv"), ("Conv2DBackpropFilter", "matmul/conv"),
    ("_MklMatMul", "matmul/conv"), ("BatchMatMulV2", "matmul/conv"), ("Einsum", "matmul/conv"),
    ("FusedBatchNormV3", "normalization"), ("_MklFusedBatchNormGradV3", "normalization"),
    ("Mul", "elementwise"), ("ReluGrad", "elementwise"), ("BiasAddGrad", "elementwise"),
    ("Transpose", "data movement"), ("ReadVariableOp", "data movement"),
    ("CollectiveReduceV2", "collectives"), ("NcclAllReduce", "collectives"),
    ("IteratorGetNext", "input pipeline"), ("SomethingNew", "host/other"),
])
def test_categories(op_type: str, category: str) -> None:
    assert trace.categorize(op_type) == category


def test_op_family_strips_onednn_and_gradients() -> None:
    assert trace.op_family("_MklNativeConv2DBackpropFilterWithBias") == "Conv2D"
    assert trace.op_family("_MklNativeFusedConv2D") == "Conv2D"
    assert trace.op_family("ReluGrad") == "Relu"
    assert trace.op_family("_FusedBatchNormEx") == "BatchNormEx"
    assert trace.categorize("_FusedBatchNormEx") == "normalization"
    assert trace.split_op("a/b:MatMul") == ("a/b", "MatMul")
    assert trace.split_op("ExecutorState::Process") is None


def test_empty_capture_is_a_clear_error() -> None:
    with pytest.raises(trace.TraceError, match="no trace planes"):
        trace.summarize_capture(SimpleNamespace(planes=[]))
    empty_plane = SimpleNamespace(name="/host:CPU", lines=[], event_metadata={},
                                  stat_metadata={})
    with pytest.raises(trace.TraceError, match="no TensorFlow ops"):
        trace.summarize_capture(SimpleNamespace(planes=[empty_plane]))


def _summary(**split: float) -> trace.TraceSummary:
    step = trace.StepSplit(step_num=0, step_s=1.0, ops=10, **split)
    kinds = [trace.OpTypeTime(op_type="Conv2D", category="matmul/conv", where="host",
                              self_time_s=0.6, count=5),
             trace.OpTypeTime(op_type="Mul", category="elementwise", where="host",
                              self_time_s=0.2, count=5)]
    return trace.TraceSummary(steps_traced=1, where_ops_run="CPU (host threads)",
                              op_types=tuple(kinds), steps=(step,), op_time_s=0.8,
                              ops_per_step=8400, median_op_s=9e-6)


def test_verdicts_by_threshold() -> None:
    busy = _summary(device_compute_s=0.8, device_idle_s=0.1, host_s=0.1, input_wait_s=0.0)
    v = trace.verdict(busy, workload="conv", device="cpu")
    assert v.kind == "compute-bound" and "Conv2D and its gradients take 75%" in v.text
    assert v.command == 'hwprof compare --workload conv --mode train --target "cpu" --target ' \
        '"cpu xla"'
    starved = _summary(device_compute_s=0.5, device_idle_s=0.0, host_s=0.1, input_wait_s=0.4)
    v = trace.verdict(starved, workload="conv", device="cpu")
    assert v.kind == "input-bound" and "40%" in v.text and "prefetch" in v.advice
    launch = _summary(device_compute_s=0.3, device_idle_s=0.4, host_s=0.3, input_wait_s=0.0)
    v = trace.verdict(launch, workload="conv", device="cpu")
    assert v.kind == "launch-bound" and "8,400 small ops per step, median 9 us" in v.text
    v = trace.verdict(launch, workload="conv", device="cpu", xla=True, batch_size=16)
    assert v.command is not None and "batch=64" in v.command


def test_an_input_bound_pipeline_gets_a_comparison_that_parses() -> None:
    from hwprof.cli.main import build_parser
    from hwprof.cli.study import build_study
    from hwprof.core.targets import parse_target

    starved = _summary(device_compute_s=0.5, device_idle_s=0.0, host_s=0.1, input_wait_s=0.4)
    spec = RunSpec(workload="cifar10_cnn", device="cpu", batch_size=8, size=32, data="pipeline",
                   pipeline_threads=1, pipeline_source_size=96)
    v = trace.verdict(starved, workload="cifar10_cnn", device="cpu", batch_size=8, size=32,
                      data="pipeline", pipeline_threads=1, source_size=96)
    assert v.kind == "input-bound" and "more threads than 1" in v.advice
    assert v.command == ('hwprof compare --workload cifar10_cnn --mode train --batch-size 8 '
                         '--size 32 --data pipeline --pipeline-source-size 96 '
                         '--target "cpu pipeline_threads=1" --target "cpu pipeline_threads=auto"')
    targets = [w for w in shlex.split(v.command) if "pipeline_threads=" in w]
    assert [parse_target(t).apply(spec).pipeline_threads for t in targets] == [1, None]
    # the command as hwprof compare reads it: the run's batch, side and source size kept
    study = build_study("compare", build_parser().parse_args(shlex.split(v.command)[1:]),
                        "compare")
    runs = [t.apply(study.base) for t in study.targets]
    assert [(r.batch_size, r.size, r.data, r.pipeline_source_size, r.pipeline_threads)
            for r in runs] == [(8, 32, "pipeline", 96, 1), (8, 32, "pipeline", 96, None)]
    # already at AUTOTUNE: what the input costs, against synthetic data
    v = trace.verdict(starved, workload="cifar10_cnn", device="gpu:0", batch_size=8, size=32,
                      data="pipeline", source_size=64)
    assert v.command is not None and v.command.endswith('--target "gpu:0" --target '
                                                        '"gpu:0 synthetic"')
    study = build_study("compare", build_parser().parse_args(shlex.split(v.command)[1:]),
                        "compare")
    assert [t.apply(study.base).data for t in study.targets] == ["pipeline", "synthetic"]
    # an input wait that is not hwprof's pipeline: advice only
    v = trace.verdict(starved, workload="conv", device="cpu")
    assert v.kind == "input-bound" and v.command is None


def test_tracing_overhead() -> None:
    assert trace.tracing_overhead([1.2, 1.1, 1.3], [1.0, 1.0, 0.9]) == pytest.approx(1.2)
    assert trace.tracing_overhead([], [1.0]) is None


def test_spec_trace_steps() -> None:
    spec = RunSpec(workload="conv", trace_steps=5)
    assert "trace=5" in spec.label()
    with pytest.raises(ValidationError):
        RunSpec(workload="conv", trace_steps=0)
    assert RunSpec(workload="conv").trace_steps is None


# -- the real capture ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def space() -> Any:
    pb = pytest.importorskip("tensorflow.tsl.profiler.protobuf.xplane_pb2")
    return pb.XSpace.FromString(FIXTURE.read_bytes())


@pytest.mark.tf
def test_parser_on_a_real_capture(space: Any) -> None:
    s = trace.summarize_capture(space)
    assert s.steps_traced == 2 and s.where_ops_run == "CPU (host threads)"
    assert s.ops and s.ops[0].self_time_s >= s.ops[-1].self_time_s
    assert s.categories[0].category == "matmul/conv"
    assert sum(c.share for c in s.categories) == pytest.approx(1.0)
    assert any(t.op_type == "_MklNativeConv2DBackpropInput" for t in s.op_types)
    for step in s.steps:
        parts = step.device_compute_s + step.device_idle_s + step.host_s + step.input_wait_s
        assert parts == pytest.approx(step.step_s)
        assert step.device_compute_s > step.host_s  # a conv net on a CPU: mostly op time
    assert s.ops_per_step == pytest.approx(s.steps[0].ops)
    assert s.median_op_s is not None and s.median_op_s < 1e-3
    v = trace.verdict(s, workload="cifar10_cnn", device="cpu")
    assert v.kind == "compute-bound" and v.text.startswith("compute-bound: Conv2D")


@pytest.mark.tf
def test_chrome_trace_export_and_its_cap(space: Any) -> None:
    data, kept, dropped = trace.chrome_trace(space)
    assert dropped == 0
    doc = _check_chrome_trace(data)
    assert sum(isinstance(e, _Complete) for e in doc.traceEvents) == kept
    names = {e.args.name for e in doc.traceEvents if isinstance(e, _Metadata)}
    assert "/host:CPU" in names and "python" in names
    small, kept_small, dropped_small = trace.chrome_trace(space, max_gzip_bytes=4000)
    assert len(small) <= 4000 and dropped_small > 0 and kept_small + dropped_small == kept
    cut = _check_chrome_trace(small)
    shortest_kept = min(e.dur for e in cut.traceEvents if isinstance(e, _Complete))
    all_durs = sorted(e.dur for e in doc.traceEvents if isinstance(e, _Complete))
    assert shortest_kept >= all_durs[dropped_small - 1]  # the shortest went first


@pytest.mark.tf
def test_unreadable_capture_gives_a_note() -> None:
    pytest.importorskip("tensorflow")
    from hwprof.workloads.tracing import summarize_bytes

    spec = RunSpec(workload="conv", trace_steps=2)
    for data in (b"", b"\xff\x00 not a protobuf \x12\x34"):
        summary, note = summarize_bytes(data, spec, [0.1], [0.1])
        assert summary is None and note is not None and note.startswith("no trace:")


# -- a real traced run through the CLI -------------------------------------------------------------
@pytest.mark.tf
def test_traced_run_shows_ops_verdict_and_exports(tmp_path: Path) -> None:
    snap, out = tmp_path / "t.hwprof.json", tmp_path / "t.json.gz"
    common = ("run", "cifar10_cnn", "--batch-size", "8", "--steps", "6", "--warmup", "1")
    r = hwprof(*common, "--trace", "2", "--trace-out", str(out), "--save", str(snap))
    assert r.returncode == 0, r.stderr
    assert "top ops" in r.stdout and "Conv2DBackprop" in r.stdout.replace("\n", "")
    assert "verdict: compute-bound" in r.stdout.replace("\n", " ")
    assert "tracing cost" in r.stdout
    _check_chrome_trace(out.read_bytes())
    run = load_snapshot(snap).runs[0]
    assert run.spec.trace_steps == 2
    rep = run.result.report
    assert rep is not None and rep.trace is not None and rep.trace.steps_traced == 2
    # the timed results are the untraced steps only, shaped as an untraced run's
    assert len(rep.steps) == 6 and rep.stop_reason == "steps"
    assert rep.trace.tracing_overhead is not None
    plain_snap = tmp_path / "p.hwprof.json"
    assert hwprof(*common, "--save", str(plain_snap)).returncode == 0
    plain = load_snapshot(plain_snap).runs[0].result.report
    assert plain is not None and plain.trace is None and len(plain.steps) == len(rep.steps)
    # the export from the saved snapshot; never over an existing file unasked
    again = tmp_path / "again.json.gz"
    r = hwprof("report", str(snap), "--trace-out", str(again))
    assert r.returncode == 0, r.stderr
    assert again.read_bytes() == out.read_bytes()
    r = hwprof("report", str(snap), "--trace-out", str(again))
    assert r.returncode == 2 and "exists" in r.stderr
    r = hwprof("report", str(plain_snap), "--trace-out", str(tmp_path / "none.json.gz"))
    assert r.returncode == 2 and "no traced run" in r.stderr


def test_trace_out_flags_refused_before_the_run(tmp_path: Path) -> None:
    existing = tmp_path / "t.json.gz"
    existing.write_bytes(b"keep me")
    cases = [
        (("--trace-out", str(tmp_path / "x.json.gz")), "goes with --trace"),
        (("--trace", "--trace-out", str(tmp_path / "x.json")), "ends in .json.gz"),
        (("--trace", "--trace-out", str(existing)), "exists"),
        (("--trace", "0"), "--trace: Input should be greater than or equal to 1"),
    ]
    for flags, words in cases:
        r = hwprof("run", "conv", "--steps", "1", *flags)
        assert r.returncode == 2 and words in r.stderr, (flags, r.stderr)
    assert existing.read_bytes() == b"keep me"


def test_a_verdicts_command_measures_the_runs_own_batch_and_size() -> None:
    busy = _summary(device_compute_s=0.8, device_idle_s=0.1, host_s=0.1, input_wait_s=0.0)
    v = trace.verdict(busy, workload="cifar10_cnn", device="cpu", batch_size=32, size=48)
    assert v.command == ('hwprof compare --workload cifar10_cnn --mode train --size 48 '
                         '--batch-size 32 --target "cpu" --target "cpu xla"')
    launch = _summary(device_compute_s=0.3, device_idle_s=0.4, host_s=0.3, input_wait_s=0.0)
    v = trace.verdict(launch, workload="cifar10_cnn", device="cpu", xla=True, batch_size=8,
                      size=48)
    assert v.command == ('hwprof compare --workload cifar10_cnn --mode train --size 48 '
                         '--target "cpu xla batch=8" --target "cpu xla batch=32"')
