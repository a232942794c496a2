"""Targets, study plans, confidence intervals, significance, crossovers and scaling."""

from __future__ import annotations

import math

import pytest

from hwprof.core.results import RunResult, failed_result
from hwprof.core.roofline import Ceilings, place, traffic_bytes_per_sample
from hwprof.core.snapshot import SnapshotRun
from hwprof.core.spec import RunSpec
from hwprof.core.study import (
    Study,
    analyze,
    crossover_text,
    crossovers,
    group_study,
    mean_ci,
    scaling_efficiency,
    speedup,
    stops_paying_off,
    tag_value,
)
from hwprof.core.targets import Target, TargetError, parse_target

BASE = RunSpec(workload="mlp", mode="infer", size=16, duration_seconds=1)


def ok(spec: RunSpec, throughput: float, **more: object) -> SnapshotRun:
    return SnapshotRun(spec=spec, result=RunResult(status="ok", throughput_per_second=throughput,
                                                   **more))  # type: ignore[arg-type]


# -- targets ---------------------------------------------------------------------------------------
def test_targets_parse_in_the_ways_people_write_them() -> None:
    t = parse_target("cpu threads=2")
    assert t.device == "cpu" and t.settings == {"intra_op_threads": 2}
    g = parse_target("gpu:0 precision=bf16 xla=on")
    assert g.settings == {"precision": "mixed_bfloat16", "xla": True}
    assert g.label == "gpu:0 bf16 xla"
    assert parse_target("GPU bf16 xla batch=64").label == "gpu:0 bf16 xla batch=64"
    assert parse_target("cpu xla=off").settings == {"xla": False}
    spec = parse_target("cpu threads=1 inter=1").apply(BASE)
    assert spec.intra_op_threads == 1 and spec.inter_op_threads == 1 and spec.workload == "mlp"


@pytest.mark.parametrize(("text", "says"), [
    ("", "empty target"),
    ("npu", "starts with a device"),
    ("cpu threads=0", "at least 1"),
    ("cpu threads=two", "whole number"),
    ("cpu precision=fp8", "fp32, bf16 or fp16"),
    ("cpu xla=maybe", "on or off"),
    ("cpu turbo=on", "unknown setting 'turbo'"),
    ("cpu fast", "not a setting"),
    ("cpu data=disk", "synthetic or pipeline"),
    ("cpu pipeline_threads=0", "at least 1"),
    ("cpu pipeline_threads=many", "whole number"),
    ("cpu synthetic source=64", "go with the pipeline"),
])
def test_bad_targets_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(TargetError, match=says):
        parse_target(text)


def test_targets_set_the_input_pipeline() -> None:
    base = RunSpec(workload="cifar10_cnn", batch_size=8, data="pipeline", pipeline_threads=2,
                   pipeline_source_size=96)
    one = parse_target("cpu pipeline_threads=1")
    assert one.settings == {"pipeline_threads": 1} and one.label == "cpu pipeline_threads=1"
    spec = one.apply(base)
    # the run's own batch and source size kept; the target's threads
    assert (spec.data, spec.pipeline_threads, spec.pipeline_source_size, spec.batch_size) == \
        ("pipeline", 1, 96, 8)
    auto = parse_target("cpu pipeline-threads=auto")
    assert auto.label == "cpu pipeline_threads=auto" and auto.apply(base).pipeline_threads is None
    # threads or source on a synthetic base: the target runs the pipeline
    synthetic = RunSpec(workload="cifar10_cnn")
    spec = parse_target("cpu source=64").apply(synthetic)
    assert (spec.data, spec.pipeline_source_size) == ("pipeline", 64)
    assert parse_target("cpu pipeline_source_size=64").label == "cpu source=64"
    assert parse_target("cpu data=pipeline").apply(synthetic).data == "pipeline"
    # synthetic drops the base's pipeline settings: what the input costs
    bare = parse_target("cpu synthetic")
    assert bare.label == "cpu synthetic"
    spec = bare.apply(base)
    assert (spec.data, spec.pipeline_threads, spec.pipeline_source_size) == \
        ("synthetic", None, None)
    for text in ("cpu pipeline pipeline_threads=4 source=128", "gpu:0 bf16 pipeline"):
        assert parse_target(parse_target(text).label) == parse_target(text)
    with pytest.raises(TargetError, match="no image input"):
        parse_target("cpu pipeline").apply(RunSpec(workload="mlp"))


def test_a_target_that_breaks_the_spec_names_itself() -> None:
    with pytest.raises(TargetError, match=r"cpu size=2.*at least"):
        Target("cpu", {"size": 2}).apply(RunSpec(workload="resnet50"))


# -- statistics ------------------------------------------------------------------------------------
def test_mean_ci_by_hand() -> None:
    m = mean_ci([10.0, 12.0, 14.0])  # mean 12, sd 2, t(2) = 4.303
    assert m is not None and m.mean == 12.0
    half = 4.303 * 2 / math.sqrt(3)
    assert m.low == pytest.approx(12 - half) and m.high == pytest.approx(12 + half)
    one = mean_ci([5.0])
    assert one is not None and one.low is None
    assert mean_ci([]) is None


def test_speedup_uses_trials_and_decides_significance() -> None:
    a = [ok(BASE, v) for v in (100.0, 101.0, 99.0)]
    b = [ok(BASE, v) for v in (200.0, 202.0, 198.0)]
    est = speedup(a, b)
    assert est is not None and est.ratio == pytest.approx(2.0) and est.significant
    same = [ok(BASE, v) for v in (101.0, 98.0, 100.5)]
    tie = speedup(a, same)
    assert tie is not None and tie.significant is False
    groups = {"cpu threads=1": a, "cpu threads=2": b, "cpu threads=2 again": same}
    findings = analyze("compare", groups)
    assert findings["baseline"] == "cpu threads=1"
    verdicts = findings["verdicts"]
    assert verdicts[0].startswith("cpu threads=2 is 2.00x faster than cpu threads=1 (95% CI")
    assert verdicts[1].startswith("no significant difference")


# -- crossovers ------------------------------------------------------------------------------------
XS = [1, 2, 4, 8, 16, 32]


def test_crossing_once_is_found_between_the_right_points() -> None:
    cpu = [100, 180, 300, 400, 450, 470]
    gpu = [20, 50, 150, 500, 1500, 3000]
    found = crossovers(XS, cpu, gpu)
    assert len(found) == 1 and 4 < found[0] < 8
    assert "cross at batch size ≈ " in crossover_text("cpu", "gpu:0", XS, cpu, gpu, "batch size")


def test_no_crossing_and_noise_is_not_a_crossing() -> None:
    a = [100, 200, 300, 400, 500, 600]
    b = [50, 100, 150, 200, 250, 300]
    assert crossovers(XS, a, b) == []
    assert "no crossover in the range (batch 1 to 32); a leads throughout" in crossover_text(
        "a", "b", XS, a, b, "batch")
    wobble = [101, 199, 302, 398, 501, 599]  # within 3% of a, on either side
    assert crossovers(XS, a, wobble) == []


def test_crossing_twice_and_gaps() -> None:
    a = [100, 100, 100, 100, 100, 100]
    b = [50, 80, 150, 200, 90, 60]
    found = crossovers(XS, a, b)
    assert len(found) == 2 and 2 < found[0] < 4 and 8 < found[1] < 16
    with_gap = [50, None, 150, None, 90, None]
    assert len(crossovers(XS, a, with_gap)) == 2


def test_thread_scaling() -> None:
    eff = scaling_efficiency([1, 2, 4], [100.0, 190.0, 196.0])
    assert eff == pytest.approx([1.0, 0.95, 0.49])
    assert stops_paying_off([1, 2, 4], [100.0, 190.0, 196.0]) == 2
    assert stops_paying_off([1, 2], [100.0, 190.0]) is None


# -- plans -----------------------------------------------------------------------------------------
def test_a_comparison_interleaves_and_rotates_its_trials() -> None:
    targets = [parse_target("cpu threads=1"), parse_target("cpu threads=2"),
               parse_target("cpu bf16")]
    study = Study("compare", BASE, targets)
    order = []
    while (p := study.next_run()) is not None:
        order.append(p.target)
        study.record(p, ok(p.spec, 100.0))
    assert order == ["cpu threads=1", "cpu threads=2", "cpu bf16",
                     "cpu threads=2", "cpu bf16", "cpu threads=1",
                     "cpu bf16", "cpu threads=1", "cpu threads=2"]
    assert all(tag_value(r, "study") == study.id for r in study.runs)
    assert list(group_study(study.runs)[study.id]) == ["cpu threads=1", "cpu threads=2",
                                                       "cpu bf16"]
    with pytest.raises(TargetError, match="same target twice"):
        Study("compare", BASE, [parse_target("cpu"), parse_target("cpu")])


def test_out_of_memory_ends_a_targets_sweep_not_the_study() -> None:
    targets = [parse_target("cpu threads=1"), parse_target("cpu threads=2")]
    study = Study("batch", BASE, targets, xs=[1, 2, 4, 8])
    done = []
    while (p := study.next_run()) is not None:
        done.append((p.target, p.spec.batch_size))
        if p.target == "cpu threads=2" and (p.spec.batch_size or 0) >= 4:
            run = SnapshotRun(spec=p.spec, result=failed_result("out of memory: OOM",
                                                                "out_of_memory"))
        else:
            run = ok(p.spec, float(p.spec.batch_size or 1))
        study.record(p, run)
    assert ("cpu threads=2", 8) not in done and ("cpu threads=1", 8) in done
    assert study.notes == ["cpu threads=2: out of memory at batch size 4; its sweep ends there"]
    findings = analyze("batch", group_study(study.runs)[study.id])
    assert findings["x"] == [1.0, 2.0, 4.0, 8.0]
    assert findings["series"]["cpu threads=2"][2] is None  # the OOM point is a gap


def test_a_memory_budget_ends_the_sweep_too() -> None:
    from hwprof.core.results import StepTimings, WorkerReport

    study = Study("batch", BASE, [parse_target("cpu")], xs=[1, 2, 4],
                  max_memory_bytes=1.5 * 2**30)
    p = study.next_run()
    assert p is not None
    report = WorkerReport(batch_size=1, samples_per_step=1,
                          steps=StepTimings(start_s=(), seconds=()),
                          peak_memory_bytes=2 * 2**30)
    study.record(p, ok(p.spec, 10.0, report=report))
    assert study.next_run() is None and "over the limit of 1.50 GiB" in study.notes[0]


def test_size_sweeps_are_for_mlp_and_matmul() -> None:
    with pytest.raises(TargetError, match="size sweep is for matmul and mlp"):
        Study("size", RunSpec(workload="resnet50"), [parse_target("cpu")])
    assert Study("size", BASE, [parse_target("cpu")]).xs[0] == 16


# -- roofline --------------------------------------------------------------------------------------
def test_roofline_places_a_run_by_its_intensity() -> None:
    spec = RunSpec(workload="matmul", mode="infer", size=1024)
    traffic = traffic_bytes_per_sample(spec)
    assert traffic == 3 * 1024 * 1024 * 4
    from hwprof.core.results import StepTimings, WorkerReport

    report = WorkerReport(batch_size=1, samples_per_step=1,
                          steps=StepTimings(start_s=(), seconds=()),
                          flops_per_sample=2.0 * 1024**3)
    run = ok(spec, 80.0, achieved_flops=160e9, report=report)
    c = Ceilings("k", "CPU", peak_flops=200e9, bandwidth_bytes_per_second=20e9,
                 measured_at="2026-11-24T00:00:00+00:00")
    point = place(run, c)
    assert point is not None and point.intensity == pytest.approx(2 * 1024 / 12)
    assert point.bound == "compute" and point.percent_of_roof == pytest.approx(80.0)
    assert c.attainable(1.0) == 20e9 and c.ridge_intensity == 10.0
    assert traffic_bytes_per_sample(RunSpec(workload="resnet50")) is None


def test_compare_takes_the_pipeline_as_base_flags() -> None:
    from hwprof.cli.main import build_parser
    from hwprof.cli.study import build_study

    args = build_parser().parse_args([
        "compare", "--workload", "cifar10_cnn", "--batch-size", "8", "--data", "pipeline",
        "--pipeline-source-size", "96", "--target", "cpu pipeline_threads=1",
        "--target", "cpu pipeline_threads=auto"])
    study = build_study("compare", args, "compare")
    assert (study.base.data, study.base.pipeline_source_size) == ("pipeline", 96)
    assert [t.label for t in study.targets] == ["cpu pipeline_threads=1",
                                                "cpu pipeline_threads=auto"]
    specs = [t.apply(study.base) for t in study.targets]
    assert [s.pipeline_threads for s in specs] == [1, None]
    assert {s.pipeline_source_size for s in specs} == {96}
    args = build_parser().parse_args(["compare", "--workload", "cifar10_cnn",
                                      "--pipeline-threads", "2", "--target", "cpu",
                                      "--target", "cpu xla"])
    with pytest.raises(TargetError, match="go with the pipeline"):
        build_study("compare", args, "compare")
