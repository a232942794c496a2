"""The profile's deployment section (hwprof-deploy/1): TFLite MobileNet-V2 on the CPU.

Planned only with ``--deploy`` (or a deployment test named in ``--only``), skipped with the reason
on a GPU, kept in the record's own section (old profiles load without it), never scored, set
against the device's own TensorFlow fp32 test, and shown by ``hwprof profile`` and comparisons.
One real profile runs a TFLite test and its TensorFlow baseline on the CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hwprof.core.devices import DetectReport
from hwprof.core.profile import (
    DeploySection,
    ProfileRecord,
    compare_profiles,
    deploy_rows,
    score_profile,
)
from hwprof.core.profile import TestOutcome as Outcome  # not a pytest class
from hwprof.core.profile_text import deploy_sentence
from hwprof.core.results import DeployedAccuracy
from hwprof.core.snapshot import Snapshot, load_snapshot, new_snapshot, save_snapshot
from hwprof.core.suite import (
    DEPLOY_SUITE,
    DEPLOY_VERSION,
    SUITE,
    DeviceCaps,
    check_only,
    plan,
    suite_test,
)
from hwprof.services.profile import run_profile

REPO = Path(__file__).resolve().parent.parent
CPU = DeviceCaps("cpu")
INT8 = "tflite.mobilenet_v2.infer.int8"
LATENCY = "tflite.mobilenet_v2.latency.int8"


@pytest.fixture(scope="module")
def machine() -> Iterator[DetectReport]:
    from hwprof.services.detect import detect_all

    yield detect_all(with_tensorflow=False)


def ok(test_id: str, value: float, *, unit: str = "img/s", top1: float | None = None,
       precision: str = "fp32") -> Outcome:
    acc = None
    if top1 is not None:
        acc = DeployedAccuracy(samples=16, max_relative_error=0.2, mean_relative_error=0.05,
                               top1_agreement=top1)
    return Outcome(test_id=test_id, status="ok", unit=unit, value=value, low=value * 0.95,
                   high=value * 1.05, windows=6, precision=precision, accuracy=acc,
                   model_bytes=3_900_000 if top1 is not None else None)


def record(scale: float = 1.0, device: str = "cpu") -> ProfileRecord:
    """A profile with MobileNet-V2's TensorFlow tests and a deployment section."""
    return ProfileRecord(
        device=device, partial=True,
        tests=(ok("mobilenet_v2.infer", 100.0), ok("mobilenet_v2.latency", 40.0, unit="ms")),
        deployment=DeploySection(tests=(
            ok(INT8, 290.0 * scale, top1=0.31, precision="int8"),
            ok(LATENCY, 10.0 / scale, unit="ms", top1=0.31, precision="int8"))))


# -- the plan ----------------------------------------------------------------------------------
def test_the_scored_suite_is_unchanged_and_the_deployment_section_is_its_own() -> None:
    assert len(SUITE) == 17 and not any(t.deployment for t in SUITE)
    assert DEPLOY_VERSION == "hwprof-deploy/1"
    assert [t.test_id for t in DEPLOY_SUITE] == [
        "tflite.mobilenet_v2.infer.fp32", INT8, LATENCY]
    assert not any(t.in_score for t in DEPLOY_SUITE)  # fp32 TFLite is no scored fp32 test
    assert suite_test(INT8).baseline == "mobilenet_v2.infer"
    assert check_only([INT8]) == [INT8]


def test_the_deployment_section_runs_with_deploy_only() -> None:
    ids = [p.test.test_id for p in plan("cpu", CPU)]
    assert not any(i.startswith("tflite.") for i in ids)
    planned = plan("cpu", CPU, deploy=True)
    deploy = [p for p in planned if p.test.deployment]
    assert [p.test.test_id for p in deploy] == [t.test_id for t in DEPLOY_SUITE]
    assert planned[-3:] == deploy  # after the suite
    for p in deploy:
        assert p.spec is not None and p.spec.runtime == "tflite" and p.spec.device == "cpu"
        assert p.expected_seconds > 0  # the ETA counts them
    specs = {p.test.test_id: p.spec for p in deploy}
    assert specs[INT8] is not None and specs[INT8].precision == "int8"
    assert specs[INT8].batch_size == 32 and specs[INT8].size == 224
    assert specs[LATENCY] is not None and specs[LATENCY].scenario == "single-stream"
    # a deployment test named in --only runs without --deploy
    assert [p.test.test_id for p in plan("cpu", CPU, only=[INT8])] == [INT8]


def test_a_gpu_profile_skips_the_deployment_section_with_the_reason() -> None:
    planned = [p for p in plan("gpu:0", DeviceCaps("gpu", compute_capability=(8, 0)),
                               deploy=True) if p.test.deployment]
    assert len(planned) == 3
    for p in planned:
        assert p.spec is None and p.expected_seconds == 0
        assert p.skip_reason is not None
        assert "runs on the CPU" in p.skip_reason and "GPU delegate" in p.skip_reason


# -- the record --------------------------------------------------------------------------------
def test_an_old_profile_loads_unchanged_without_a_deployment_section(
        machine: DetectReport, tmp_path: Path) -> None:
    old = {"suite": "hwprof-suite/1", "length": "quick", "device": "cpu",
           "tests": [{"test_id": "mobilenet_v2.infer", "status": "ok", "unit": "img/s",
                      "value": 100.0, "low": 95.0, "high": 105.0, "windows": 6}]}
    r = ProfileRecord.model_validate(old)
    assert r.deployment is None and r.deploy_tests == ()
    assert r.tests[0].accuracy is None and r.tests[0].model_bytes is None
    assert deploy_rows(r) == []
    # and through a snapshot file, which keeps it as it was
    snap = new_snapshot(machine, title="old").model_copy(
        update={"kind": "profile", "profile": r})
    path = tmp_path / "old.hwprof.json"
    save_snapshot(snap, path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["profile"].pop("deployment", None)
    path.write_text(json.dumps(doc), encoding="utf-8")
    loaded = load_snapshot(path)
    assert loaded.profile is not None and loaded.profile.deployment is None


def test_the_scores_do_not_see_the_deployment_section() -> None:
    r = record()
    plain = r.model_copy(update={"deployment": None})
    reference = {"mobilenet_v2.infer": 50.0, "mobilenet_v2.latency": 80.0, INT8: 1.0}
    a, b = score_profile(r, reference), score_profile(plain, reference)
    assert a.groups == b.groups and set(a.per_test) == set(b.per_test)
    assert INT8 not in a.per_test


def test_each_tflite_test_is_set_against_the_tensorflow_fp32_test() -> None:
    rows = {row.outcome.test_id: row for row in deploy_rows(record())}
    int8 = rows[INT8]
    assert int8.baseline_id == "mobilenet_v2.infer" and int8.speedup is not None
    assert int8.speedup.ratio == pytest.approx(2.9)
    assert deploy_sentence(int8) == ("TFLite int8 2.9× the TensorFlow fp32 test (speed), "
                                     "top-1 agreement 31%")
    lat = rows[LATENCY]
    assert lat.speedup is not None and lat.speedup.ratio == pytest.approx(4.0)  # 40 ms -> 10 ms
    # without the baseline in the profile it says so
    alone = record().model_copy(update={"tests": ()})
    row = deploy_rows(alone)[0]
    assert row.speedup is None and "no valid TensorFlow fp32 test" in deploy_sentence(row)
    # a GPU profile's section: each test skipped, with the reason
    skipped = Outcome(test_id=INT8, status="skipped", reason="TFLite here runs on the CPU")
    gpu = record().model_copy(update={"deployment": DeploySection(tests=(skipped,))})
    assert deploy_sentence(deploy_rows(gpu)[0]) == (
        "MobileNet-V2 inference, TFLite int8: skipped: TFLite here runs on the CPU")


def test_a_comparison_sets_the_deployment_tests_side_by_side() -> None:
    cmp = compare_profiles([record(1.0), record(2.0)], ["a", "b"])
    assert cmp.per_test[INT8][0] is not None
    assert cmp.per_test[INT8][0].ratio == pytest.approx(2.0)
    # the overall speedup counts the scored suite only (both equal there)
    assert cmp.overall[0] is not None and cmp.overall[0].ratio == pytest.approx(1.0)
    assert cmp.wins[0].startswith("b wins every test that differs")  # the TFLite ones


# -- the command line --------------------------------------------------------------------------
def hwprof(*args: str, data: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HWPROF_DATA_DIR": str(data), "KERAS_HOME": str(data / "keras"),
           "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "hwprof", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=timeout, env=env)


def saved(machine: DetectReport, tmp_path: Path, name: str, r: ProfileRecord) -> Path:
    snap = new_snapshot(machine, title=name).model_copy(
        update={"kind": "profile", "profile": r})
    path = tmp_path / f"{name}.hwprof.json"
    save_snapshot(snap, path)
    return path


def test_profile_compare_shows_the_deployment_section(machine: DetectReport,
                                                     tmp_path: Path) -> None:
    a = saved(machine, tmp_path, "a", record(1.0))
    b = saved(machine, tmp_path, "b", record(2.0))
    done = hwprof("profile", "--compare", str(a), str(b), data=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "TFLite int8 (deployment," in done.stdout and "b.hwprof.json is 2× faster" in done.stdout
    assert "top-1 agreement 31%" in done.stdout
    doc = json.loads(hwprof("profile", "--compare", str(a), str(b), "--json",
                            data=tmp_path).stdout)
    row = next(t for t in doc["tests"] if t["test_id"] == INT8)
    assert row["deployment"] is True
    assert row["profiles"][1]["speedup"]["ratio"] == pytest.approx(2.0)


def test_deploy_is_listed_and_explained(tmp_path: Path) -> None:
    done = hwprof("profile", "--list", "--json", data=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["deploy_suite"] == DEPLOY_VERSION
    sections = {t["test_id"]: t["section"] for t in doc["tests"]}
    assert sections[INT8] == "deployment" and sections["mobilenet_v2.infer"] == "suite"
    assert "--deploy" in hwprof("profile", "--help", data=tmp_path).stdout


# -- a real deployment test on the CPU ---------------------------------------------------------
@pytest.mark.tf
def test_a_real_deployment_test_runs_beside_its_tensorflow_baseline(
        machine: DetectReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWPROF_DATA_DIR", str(tmp_path))  # the TFLite model cache
    only = ["mobilenet_v2.infer", "tflite.mobilenet_v2.infer.fp32"]
    snap: Snapshot = run_profile("cpu", machine=machine, only=only, timed_seconds=1.0,
                                 env={"HWPROF_DATA_DIR": str(tmp_path)})
    r = snap.profile
    assert r is not None
    assert [t.test_id for t in r.tests] == ["mobilenet_v2.infer"]
    assert r.deployment is not None and r.deployment.suite == DEPLOY_VERSION
    (o,) = r.deployment.tests
    assert o.status == "ok", o.reason
    assert o.accuracy is not None and o.accuracy.top1_agreement > 0.9  # fp32: the same model
    assert o.model_bytes is not None and o.model_bytes > 1_000_000
    assert o.numerics is None  # its accuracy is the TFLite run's own
    (row,) = deploy_rows(r)
    assert row.speedup is not None and row.speedup.ratio > 0
    assert "the TensorFlow fp32 test" in deploy_sentence(row)
    assert [run.spec.runtime for run in snap.runs] == ["tf", "tflite"]


def test_the_profile_table_and_the_report_show_the_deployment_section(
        machine: DetectReport) -> None:
    import io

    from hwprof.cli.console import SafeConsole
    from hwprof.cli.profile import print_profile
    from hwprof.services.profile_view import view
    from hwprof.services.report import html_report

    snap = new_snapshot(machine, title="p").model_copy(
        update={"kind": "profile", "profile": record()})
    buf = io.StringIO()
    print_profile(SafeConsole(file=buf, width=200), view(snap))
    out = buf.getvalue()
    assert "deployment: hwprof-deploy/1, TFLite on the CPU" in out
    assert "- TFLite int8 2.9× the TensorFlow fp32 test (speed), top-1 agreement 31%" in out
    assert "3.9 MB" in out and "no reference profile has the deployment section yet" in out
    page = html_report(snap)
    assert "Deployment (hwprof-deploy/1, TFLite on the CPU)" in page
    assert "TFLite int8 2.9× the TensorFlow fp32 test (speed), top-1 agreement 31%" in page
    # without the section, nothing of it
    old = snap.model_copy(update={"profile": record().model_copy(update={"deployment": None})})
    buf = io.StringIO()
    print_profile(SafeConsole(file=buf, width=200), view(old))
    assert "deployment" not in buf.getvalue() and "Deployment (" not in html_report(old)
