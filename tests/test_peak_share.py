"""% of peak against measured ceilings: runs, the ceilings cache, profiles, and what is shown.

No TensorFlow: runs are built from worker reports, the profile from its record, as a finished
profile would hold them.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from hwprof.cli.run import result_table
from hwprof.core.profile import NumericsCheck, ProfileRecord
from hwprof.core.profile import TestOutcome as Outcome
from hwprof.core.results import StepTimings, WorkerReport, summarize
from hwprof.core.roofline import Ceilings, place
from hwprof.core.snapshot import SnapshotRun
from hwprof.core.spec import RunSpec
from hwprof.services import studies
from hwprof.services.report import run_row
from hwprof.services.runs import device_ceiling, finish

TF = "2.21.0"
LABEL = "Intel(R) Xeon(R) Processor"


def run(workload: str = "mlp", flops: float = 5e9, precision: str = "fp32",
        mode: str = "train") -> SnapshotRun:
    """A finished run reaching ``flops`` FLOP/s against a 332.8 GFLOP/s estimate."""
    spec = RunSpec(workload=workload, mode=mode, device="cpu", precision=precision,  # type: ignore[arg-type]
                   steps=4, duration_seconds=None)
    rep = WorkerReport(tensorflow_version=TF, tf_device="/CPU:0", batch_size=8,
                       samples_per_step=8, flops_per_sample=flops / 16,
                       steps=StepTimings(start_s=(0.0, 0.5, 1.0, 1.5), seconds=(0.5,) * 4),
                       stop_reason="steps")
    result = summarize(spec, rep, peak_flops=332.8e9, peak_source="CPU fp32 peak estimate")
    return SnapshotRun(spec=spec, result=result)


def ceilings(fp32: float = 20e9, bf16: float | None = None) -> Ceilings:
    return Ceilings(device_key=studies.device_key("cpu", LABEL, TF), device_label=LABEL,
                    peak_flops=fp32, bandwidth_bytes_per_second=10e9,
                    measured_at="2025-01-01T00:00:00+00:00",
                    reduced_precision_flops={"mixed_bfloat16": bf16} if bf16 else {})


# -- a run ----------------------------------------------------------------------------------------
def test_a_run_is_held_against_the_measured_ceiling_with_the_estimate_beside() -> None:
    r = run(flops=5e9).result
    spec = run().spec
    assert r.percent_of_peak == pytest.approx(100 * 5e9 / 332.8e9)  # no ceiling: the estimate
    held = summarize(spec, r.report, peak_flops=332.8e9, peak_source="est",  # type: ignore[arg-type]
                     ceiling_flops=20e9, ceiling_source="fp32 matmul, measured today")
    assert held.percent_of_peak == pytest.approx(25.0)
    share = held.peak_share()
    assert share.basis == "measured"
    assert share.text == "25% of measured 20 GFLOP/s; 2% of the 333 GFLOP/s estimate"
    # above the measured ceiling: no figure above 100, the reason instead
    over = summarize(spec, r.report, peak_flops=332.8e9, ceiling_flops=4e9)  # type: ignore[arg-type]
    assert over.percent_of_peak is None
    assert over.peak_share().cell == "ceiling low"


def test_the_cached_ceiling_of_the_runs_precision_only() -> None:
    fp32 = RunSpec(workload="matmul", mode="infer", device="cpu")
    bf16 = fp32.model_copy(update={"precision": "mixed_bfloat16"})
    assert device_ceiling(fp32) == (None, None)  # nothing measured yet
    studies._store(ceilings())
    flops, source = device_ceiling(fp32)
    assert flops == 20e9 and source and "measured 2025-01-01" in source and LABEL in source
    assert device_ceiling(bf16) == (None, None)  # never against fp32's ceiling
    studies._store(ceilings(bf16=80e9))
    assert device_ceiling(bf16)[0] == 80e9
    assert device_ceiling(fp32.model_copy(update={"device": "gpu:0"})) == (None, None)


def test_finish_uses_the_ceiling_it_is_given() -> None:
    r = run(flops=5e9)
    assert r.result.report is not None
    done = finish(r.spec, r.result.report, 332.8e9, "est", None, 3.0,
                  ceiling=(10e9, "fp32 matmul"))
    assert done.ceiling_flops == 10e9 and done.percent_of_peak == pytest.approx(50.0)
    assert done.wall_seconds == 3.0


def test_front_ends_show_the_one_decision() -> None:
    r = run(flops=5e9)
    over = r.model_copy(update={"result": r.result.model_copy(update={
        "ceiling_flops": 4e9, "ceiling_source": "fp32 matmul", "percent_of_peak": None})})
    # the report's runs table and `hwprof run`'s output
    assert run_row(0, over)[7] == "ceiling low"
    buf = io.StringIO()
    Console(file=buf, width=400, no_color=True).print(result_table(over.spec, over.result))
    out = " ".join(buf.getvalue().split())
    assert "ceiling looks low" in out and "2% of the 333 GFLOP/s estimate" in out
    assert "%" not in out.split("ceiling looks low")[0].split("compute")[-1]  # no 125%
    fine = r.model_copy(update={"result": r.result.model_copy(update={
        "ceiling_flops": 20e9, "ceiling_source": "fp32 matmul", "percent_of_peak": 25.0})})
    assert run_row(0, fine)[7] == "25%"
    assert run_row(0, run("bandwidth", mode="infer"))[7] == "–"


def test_roofline_holds_a_run_only_against_its_own_precision() -> None:
    c = ceilings()
    bf16 = run("matmul", flops=40e9, precision="mixed_bfloat16", mode="infer")
    point = place(bf16, c)
    assert point is not None and point.percent_of_roof is None  # no bf16 ceiling: no verdict
    point = place(bf16, ceilings(bf16=80e9))
    assert point is not None and point.percent_of_roof == pytest.approx(50.0, rel=0.01)


# -- a profile's ceilings -------------------------------------------------------------------------
def profile(runs: dict[str, SnapshotRun], values: dict[str, tuple[float, str]],
            numerics_ok: bool = True) -> ProfileRecord:
    """A finished profile: each test's outcome with its run and value."""
    tests = []
    for test_id, r in runs.items():
        value, unit = values.get(test_id, (10.0, "samples/s"))
        numerics = None if test_id != "mlp.train" else NumericsCheck(
            max_relative_error=0.0 if numerics_ok else 1.0, tolerance=0.02, passed=numerics_ok)
        tests.append(Outcome(test_id=test_id, status="ok", run_id=r.run_id,
                                 precision=r.spec.precision, unit=unit, value=value,
                                 windows=3, numerics=numerics))
    return ProfileRecord(device="cpu", device_label=LABEL, tests=tuple(tests))


def test_a_profile_stores_its_ceilings_and_its_tests_use_them() -> None:
    runs = {"matmul.fp32": run("matmul", flops=20.2e9, mode="infer"),
            "matmul.bf16": run("matmul", flops=80e9, precision="mixed_bfloat16", mode="infer"),
            "bandwidth": run("bandwidth", mode="infer"),
            "mlp.train": run("mlp", flops=5e9)}
    record = profile(runs, {"matmul.fp32": (20.0, "GFLOP/s"), "matmul.bf16": (80.0, "GFLOP/s"),
                            "bandwidth": (12.5, "GB/s")})
    assert studies.profile_ceilings(record) == {
        "fp32": 20e9, "mixed_bfloat16": 80e9, "bandwidth": 12.5e9}
    adopted = studies.adopt_profile_ceilings(record, list(runs.values()))
    # in the same cache the roofline tab reads, under this device and TensorFlow
    cached = studies.load_all_ceilings()[studies.device_key("cpu", LABEL, TF)]
    assert cached == adopted.stored
    assert cached.peak_flops == 20e9 and cached.bandwidth_bytes_per_second == 12.5e9
    assert cached.reduced_precision_flops == {"mixed_bfloat16": 80e9}
    raw = json.loads(studies.ceilings_path().read_text())
    assert list(raw) == [cached.device_key]
    # the model test against the measured fp32 ceiling, the estimate beside it in its run
    mlp = adopted.record.outcome("mlp.train")
    assert mlp is not None and mlp.percent_of_ceiling == pytest.approx(25.0)
    assert "this profile" in (mlp.ceiling_source or "")
    mlp_run = next(r for r in adopted.runs if r.run_id == runs["mlp.train"].run_id)
    assert mlp_run.result.ceiling_flops == 20e9
    assert mlp_run.result.peak_share().text.startswith("25% of measured 20 GFLOP/s")
    # a ceiling test against itself would be 100%: it is given against the estimate
    mm = adopted.record.outcome("matmul.fp32")
    assert mm is not None and mm.percent_of_ceiling == pytest.approx(100 * 20.2e9 / 332.8e9)
    assert "estimate" in (mm.ceiling_source or "")
    # the order of tests and runs is kept; nothing else changed
    assert [t.test_id for t in adopted.record.tests] == list(runs)
    assert [r.run_id for r in adopted.runs] == [r.run_id for r in runs.values()]
    # a later run in fp32 is held against it
    assert device_ceiling(RunSpec(workload="mlp", device="cpu"))[0] == 20e9


def test_a_partial_profile_completes_the_cached_entry_or_stores_nothing() -> None:
    runs = {"matmul.fp32": run("matmul", flops=30e9, mode="infer"), "mlp.train": run(flops=6e9)}
    record = profile(runs, {"matmul.fp32": (30.0, "GFLOP/s")})
    alone = studies.adopt_profile_ceilings(record, list(runs.values()))
    assert alone.stored is None and studies.load_all_ceilings() == {}
    assert "none stored" in alone.notes[0]
    mlp = alone.record.outcome("mlp.train")
    assert mlp is not None and mlp.percent_of_ceiling == pytest.approx(20.0)  # still, in-profile
    studies._store(ceilings(fp32=20e9, bf16=70e9))  # an earlier roofline measurement
    merged = studies.adopt_profile_ceilings(record, list(runs.values()))
    assert merged.stored is not None and merged.stored.peak_flops == 30e9
    assert merged.stored.bandwidth_bytes_per_second == 10e9  # kept from the earlier entry
    assert merged.stored.reduced_precision_flops == {"mixed_bfloat16": 70e9}


def test_a_run_above_the_profiles_ceiling_says_it_looks_low() -> None:
    runs = {"matmul.fp32": run("matmul", flops=10e9, mode="infer"), "mlp.train": run(flops=15e9),
            "bandwidth": run("bandwidth", mode="infer")}
    record = profile(runs, {"matmul.fp32": (10.0, "GFLOP/s"), "bandwidth": (5.0, "GB/s")})
    adopted = studies.adopt_profile_ceilings(record, list(runs.values()))
    mlp = adopted.record.outcome("mlp.train")
    assert mlp is not None and mlp.percent_of_ceiling is None
    assert "ceiling looks low" in (mlp.ceiling_source or "")


def test_a_failed_or_wrong_ceiling_test_measured_nothing() -> None:
    runs = {"matmul.fp32": run("matmul", flops=10e9, mode="infer")}
    record = profile(runs, {"matmul.fp32": (10.0, "GFLOP/s")})
    failed = record.model_copy(update={"tests": (record.tests[0].model_copy(update={
        "numerics": NumericsCheck(max_relative_error=1.0, tolerance=0.02, passed=False)}),)})
    assert studies.profile_ceilings(failed) == {}
    other_suite = record.model_copy(update={"tests": (record.tests[0].model_copy(update={
        "test_id": "matmul.fp64"}),)})
    assert studies.profile_ceilings(other_suite) == {}
