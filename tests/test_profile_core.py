"""The profile suite's definition, a test's value, scores with intervals, and comparisons.

No TensorFlow: runs are built from step timings as a worker reports them.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from snapshot_helpers import machine

from hwprof.core.profile import (
    NumericsCheck,
    ProfileRecord,
    Score,
    Speedup,
    TestOutcome,
    check_numerics,
    compare_profiles,
    geometric_score,
    max_relative_error,
    mean_interval,
    measure,
    quantile_interval,
    score_of_test,
    score_profile,
    wins_sentence,
)
from hwprof.core.results import StepTimings, WorkerReport, summarize
from hwprof.core.snapshot import load_snapshot, new_snapshot, save_snapshot
from hwprof.core.suite import (
    SUITE,
    SUITE_VERSION,
    DeviceCaps,
    check_only,
    native_precision,
    plan,
    suite_test,
)

CPU_PLAIN = DeviceCaps("cpu", cpu_flags=frozenset({"avx2", "fma"}))
CPU_AMX = DeviceCaps("cpu", cpu_flags=frozenset({"avx512f", "amx_bf16", "avx512_bf16"}))
GPU_T4 = DeviceCaps("gpu", compute_capability=(7, 5))
GPU_A100 = DeviceCaps("gpu", compute_capability=(8, 0))
GPU_P100 = DeviceCaps("gpu", compute_capability=(6, 0))

# What every test of hwprof-suite/1 runs. Changing it changes what its results mean: that is a new
# suite version, never a silent edit. If this fails, bump SUITE_VERSION (and the reference
# profile) or undo the change. (How long a test measures, its title and its ETA hint may change.)
PINNED = "1fe867d012037dc3"
MEANING = ("test_id", "category", "workload", "mode", "precision", "batch_size", "size",
           "scenario", "gpu_only")


# -- the suite -------------------------------------------------------------------------------------
def test_the_suite_has_what_the_issue_asks_for() -> None:
    ids = [t.test_id for t in SUITE]
    assert len(ids) == len(set(ids))
    for needed in ("matmul.fp32", "matmul.bf16", "matmul.fp16", "bandwidth", "mlp.train",
                   "cifar10_cnn.train", "mobilenet_v2.train", "resnet50.train", "lstm.train",
                   "transformer.train", "mobilenet_v2.infer", "resnet50.infer",
                   "transformer.infer", "mobilenet_v2.latency", "transformer.latency"):
        assert needed in ids
    mixed = [t for t in SUITE if t.precision == "mixed"]
    assert {t.category for t in mixed} >= {"train", "infer"}
    assert all(t.scenario == "single-stream" for t in SUITE if t.category == "latency")


def test_the_suite_is_pinned_to_its_version() -> None:
    settings = json.dumps([{k: asdict(t)[k] for k in MEANING} for t in SUITE], sort_keys=True)
    digest = hashlib.sha256(settings.encode()).hexdigest()[:16]
    assert SUITE_VERSION == "hwprof-suite/1"
    assert digest == PINNED, (
        f"the suite's settings changed (fingerprint {digest}): bump SUITE_VERSION and the "
        "reference profile, or undo the change")


@pytest.mark.parametrize("caps", [CPU_PLAIN, CPU_AMX, GPU_T4, GPU_A100, GPU_P100])
def test_every_device_runs_every_scored_test_with_fixed_settings(caps: DeviceCaps) -> None:
    device = "cpu" if caps.kind == "cpu" else "gpu:0"
    planned = plan(device, caps)
    scored = [p for p in planned if p.test.in_score]
    # the overall score compares like with like: every device runs every fp32 test
    assert {p.test.test_id for p in scored} == {t.test_id for t in SUITE if t.in_score}
    for p in scored:
        assert p.spec is not None and p.skip_reason is None
        assert p.spec.precision == "fp32" and not p.spec.xla and p.spec.device == device
        assert p.spec.batch_size == (None if p.test.scenario == "single-stream"
                                     else p.test.batch_size)
        assert p.spec.effective_size == p.test.size


def test_mixed_precision_runs_where_the_hardware_has_it_and_says_why_not() -> None:
    amx = {p.test.test_id: p for p in plan("cpu", CPU_AMX)}
    assert amx["transformer.train.mixed"].spec.precision == "mixed_bfloat16"  # type: ignore[union-attr]
    assert amx["matmul.bf16"].spec.precision == "mixed_bfloat16"  # type: ignore[union-attr]
    plain = {p.test.test_id: p for p in plan("cpu", CPU_PLAIN)}
    assert plain["transformer.train.mixed"].spec is None
    assert "no native bf16" in (plain["transformer.train.mixed"].skip_reason or "")
    assert "matmul.fp16" not in plain  # GPU-only tests are not listed for a CPU
    t4 = {p.test.test_id: p for p in plan("gpu:0", GPU_T4)}
    assert t4["transformer.train.mixed"].spec.precision == "mixed_float16"  # type: ignore[union-attr]
    assert t4["matmul.fp16"].spec is not None
    assert t4["matmul.bf16"].spec is None and "8.0" in (t4["matmul.bf16"].skip_reason or "")
    a100 = {p.test.test_id: p for p in plan("gpu:0", GPU_A100)}
    assert a100["matmul.bf16"].spec.precision == "mixed_bfloat16"  # type: ignore[union-attr]
    p100 = {p.test.test_id: p for p in plan("gpu:0", GPU_P100)}
    assert p100["mobilenet_v2.infer.mixed"].spec is None
    assert "tensor cores" in (p100["mobilenet_v2.infer.mixed"].skip_reason or "")
    assert native_precision(suite_test("matmul.fp16"), CPU_AMX)[0] is None


def test_lengths_only_and_threads() -> None:
    quick = {p.test.test_id: p.spec for p in plan("cpu", CPU_AMX, "quick")}
    full = {p.test.test_id: p.spec for p in plan("cpu", CPU_AMX, "full")}
    for tid, spec in quick.items():
        assert spec is not None and full[tid] is not None
        assert full[tid].duration_seconds > spec.duration_seconds  # type: ignore[union-attr,operator]
        assert spec.steady_cv is not None and full[tid].steady_cv is None  # type: ignore[union-attr]
    only = plan("cpu", CPU_AMX, only=["mlp.train", "bandwidth"], intra_op_threads=1,
                timed_seconds=1.0)
    assert [p.test.test_id for p in only] == ["bandwidth", "mlp.train"]  # suite order
    assert all(p.spec and p.spec.intra_op_threads == 1 and p.spec.duration_seconds == 1.0
               for p in only)
    with pytest.raises(ValueError, match="unknown test: nope"):
        check_only(["mlp.train", "nope"])
    with pytest.raises(KeyError, match="no test 'x'"):
        suite_test("x")


def test_the_quick_profile_is_planned_within_five_minutes_here() -> None:
    expected = sum(p.expected_seconds for p in plan("cpu", CPU_AMX, "quick"))
    assert expected < 240  # plus one TensorFlow start: well inside the 5-minute budget


# -- a test's value --------------------------------------------------------------------------------
def _run_result(workload: str, mode: str, seconds: list[float], samples: int = 8,
                scenario: str = "offline", flops: float | None = 1e6,
                unit_bytes: float | None = None):  # type: ignore[no-untyped-def]
    from hwprof.core.spec import RunSpec

    spec = RunSpec(workload=workload, mode=mode, scenario=scenario,  # type: ignore[arg-type]
                   batch_size=None if scenario == "single-stream" else samples)
    starts = tuple(float(np.cumsum([0.0, *seconds])[i]) for i in range(len(seconds)))
    rep = WorkerReport(batch_size=spec.effective_batch_size, samples_per_step=samples,
                       flops_per_sample=flops, bytes_per_sample=unit_bytes,
                       steps=StepTimings(start_s=starts, seconds=tuple(seconds)))
    return summarize(spec, rep)


def test_throughput_is_the_mean_of_windows_with_an_interval() -> None:
    rng = np.random.default_rng(1)
    seconds = list(0.1 + 0.01 * rng.standard_normal(60))
    m = measure(suite_test("mlp.train"), _run_result("mlp", "train", seconds, samples=256))
    assert m is not None and m.unit == "samples/s"
    assert m.windows >= 10
    assert m.low is not None and m.high is not None and m.low < m.value < m.high
    assert m.value == pytest.approx(2560, rel=0.05)


def test_matmul_in_gflops_and_latency_in_ms() -> None:
    gemm = measure(suite_test("matmul.fp32"),
                   _run_result("matmul", "infer", [0.01] * 200, samples=1, flops=2 * 2048**3))
    assert gemm is not None and gemm.unit == "GFLOP/s"
    assert gemm.value == pytest.approx(2 * 2048**3 / 0.01 / 1e9)
    lat = measure(suite_test("transformer.latency"),
                  _run_result("transformer", "infer", [0.002] * 80 + [0.004] * 20, samples=1,
                              scenario="single-stream"))
    assert lat is not None and lat.unit == "ms"
    assert lat.value == pytest.approx(4.0)  # p90 of 80 x 2 ms and 20 x 4 ms
    assert lat.latency_ms is not None and lat.latency_ms["p50"] == pytest.approx(2.0)


def test_intervals() -> None:
    m, lo, hi = mean_interval([10.0, 11.0, 9.0, 10.0])
    assert m == 10.0 and lo is not None and hi is not None and lo < 10 < hi
    assert mean_interval([5.0]) == (5.0, None, None)
    x = list(np.linspace(1, 100, 1000))
    q, lo, hi = quantile_interval(x, 0.9)
    assert lo is not None and hi is not None and lo <= q <= hi
    assert quantile_interval([1.0, 2.0, 3.0], 0.9)[1:] == (None, None)  # too few for ranks
    with pytest.raises(ValueError):
        mean_interval([])


# -- numerics --------------------------------------------------------------------------------------
def test_numerics_pass_right_answers_and_fail_wrong_ones() -> None:
    ref = np.linspace(-3, 3, 100).reshape(10, 10)
    assert max_relative_error(ref, ref) == 0.0
    assert check_numerics(ref * (1 + 1e-4), ref, "fp32").passed
    assert check_numerics(ref + 0.01 * 3, ref, "mixed_bfloat16").passed  # bf16 rounding
    wrong = check_numerics(ref * 1.5, ref, "mixed_bfloat16")  # fast and wrong
    assert not wrong.passed and "wrong answers" in wrong.detail
    nan = ref.copy()
    nan[0, 0] = np.nan
    bad = check_numerics(nan, ref, "fp32")
    assert not bad.passed and bad.max_relative_error is None and "NaN" in bad.detail
    with pytest.raises(ValueError, match="shape"):
        max_relative_error(ref, ref[:5])


# -- scores ----------------------------------------------------------------------------------------
def outcome(test_id: str, value: float, rel: float = 0.02, **kw: object) -> TestOutcome:
    unit = "ms" if suite_test(test_id).category == "latency" else "x/s"
    return TestOutcome(test_id=test_id, status="ok", value=value, low=value * (1 - rel),
                       high=value * (1 + rel), windows=10, unit=unit, **kw)  # type: ignore[arg-type]


REF = {"matmul.fp32": 200.0, "mlp.train": 30000.0, "resnet50.infer": 30.0,
       "transformer.latency": 4.0, "transformer.train.mixed": 350.0}


def record(values: dict[str, float], device: str = "cpu") -> ProfileRecord:
    return ProfileRecord(device=device, tests=tuple(outcome(t, v) for t, v in values.items()))


def test_the_reference_scores_1000_and_twice_as_fast_2000() -> None:
    ref = score_profile(record(REF), REF)
    assert ref.overall is not None
    assert ref.overall.value == pytest.approx(1000)
    assert ref.overall.low is not None and ref.overall.low < 1000 < (ref.overall.high or 0)
    assert ref.overall.tests == 4  # the mixed-precision test has its own sub-score
    assert ref.groups["mixed precision"] is not None
    twice = {k: (v / 2 if k == "transformer.latency" else v * 2) for k, v in REF.items()}
    s = score_profile(record(twice), REF)
    assert s.overall is not None and s.overall.value == pytest.approx(2000)
    assert s.per_test["transformer.latency"].value == pytest.approx(2000)  # half the latency
    assert s.groups["training"] is not None and s.groups["training"].tests == 1
    assert s.groups["inference"] is not None and s.groups["inference"].tests == 2


def test_the_interval_of_a_geometric_mean_narrows_with_more_tests() -> None:
    one = geometric_score([Score(1000, 900, 1111, 1)])
    four = geometric_score([Score(1000, 900, 1111, 1)] * 4)
    assert one is not None and four is not None
    assert (four.high or 0) - (four.low or 0) < (one.high or 0) - (one.low or 0)
    failed = TestOutcome(test_id="mlp.train", status="failed", reason="crashed")
    assert score_of_test(failed, 1.0) is None


def test_a_device_with_wrong_numerics_gets_no_overall_score() -> None:
    wrong = NumericsCheck(max_relative_error=0.4, tolerance=0.02, passed=False, detail="wrong")
    rec = ProfileRecord(device="gpu:0", tests=(
        outcome("matmul.fp32", 2000.0), outcome("mlp.train", 300000.0),
        outcome("resnet50.infer", 3000.0, numerics=wrong), outcome("transformer.latency", 1.0)))
    s = score_profile(rec, REF)
    assert s.overall is None
    assert s.invalid_reason is not None and "resnet50.infer" in s.invalid_reason
    assert "resnet50.infer" not in s.per_test  # a wrong answer scores nothing, however fast


def test_missing_and_failed_tests_are_named() -> None:
    rec = ProfileRecord(device="cpu", tests=(
        outcome("matmul.fp32", 200.0),
        TestOutcome(test_id="resnet50.infer", status="out_of_memory", reason="OOM"),
    ))
    s = score_profile(rec, REF)
    assert set(s.missing) == {"mlp.train", "resnet50.infer", "transformer.latency"}
    assert s.overall is not None and s.overall.tests == 1


# -- comparisons -----------------------------------------------------------------------------------
def test_profiles_side_by_side_say_where_each_wins() -> None:
    cpu = record(REF)
    gpu_values = {"matmul.fp32": 20000.0, "mlp.train": 600000.0, "resnet50.infer": 3000.0,
                  "transformer.latency": 8.0, "transformer.train.mixed": 7000.0}
    gpu = record(gpu_values, device="gpu:0")
    cmp = compare_profiles([cpu, gpu], ["the CPU", "the GPU"])
    assert cmp.per_test["matmul.fp32"][0] is not None
    assert cmp.per_test["matmul.fp32"][0].ratio == pytest.approx(100)  # type: ignore[union-attr]
    lat = cmp.per_test["transformer.latency"][0]
    assert lat is not None and lat.ratio == pytest.approx(0.5) and lat.significant
    assert cmp.overall[0] is not None and cmp.overall[0].significant
    assert cmp.wins[0] == "the CPU wins Transformer latency; the GPU wins everything else"


def test_no_difference_is_called_no_difference() -> None:
    same = [Speedup("mlp.train", 1.01, 0.95, 1.07), Speedup("matmul.fp32", 0.99, 0.9, 1.1)]
    assert wins_sentence("a", "b", same).startswith("no significant difference on")
    with pytest.raises(ValueError):
        compare_profiles([record(REF)], ["a"])


# -- in a snapshot ---------------------------------------------------------------------------------
def test_a_profile_snapshot_round_trips_and_old_snapshots_load(tmp_path: Path) -> None:
    snap = new_snapshot(machine()).model_copy(
        update={"kind": "profile", "profile": record(REF)})
    path = tmp_path / "p.hwprof.json"
    save_snapshot(snap, path)
    back = load_snapshot(path)
    assert back.kind == "profile" and back.profile == snap.profile
    doc = json.loads(path.read_text())
    del doc["kind"], doc["profile"]  # as every snapshot written before profiles existed
    old = tmp_path / "old.hwprof.json"
    old.write_text(json.dumps(doc))
    assert load_snapshot(old).kind == "session" and load_snapshot(old).profile is None
    doc["profile"] = {"device": "cpu", "tests": [{"test_id": "mlp.train", "status": "ok",
                                                  "value": math.nan}]}
    nan = tmp_path / "nan.hwprof.json"
    nan.write_text(json.dumps(doc))
    from hwprof.core.snapshot_io import SnapshotError

    with pytest.raises(SnapshotError):
        load_snapshot(nan)
