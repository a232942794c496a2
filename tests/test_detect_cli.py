"""`hwprof detect` as a user runs it, with the NVML scenarios."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from hwprof.cli.detect import _gpu_section
from hwprof.cli.main import main
from hwprof.services.detect import detect_all

REPO = Path(__file__).resolve().parent.parent


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_no_driver_one_line_exit_0(nvml_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("missing")
    code, out, _ = run_cli(capsys, "detect", "--no-tensorflow")
    assert code == 0
    assert out.count("no NVIDIA driver: NVML library not found") == 1
    assert "CPU 0" in out and "physical cores" in out and "DL extensions" in out


def render_gpus(scenario_name: str, nvml_scenario) -> str:  # type: ignore[no-untyped-def]
    nvml_scenario(scenario_name)
    report = detect_all(with_tensorflow=False)
    console = Console(width=200, record=True, no_color=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(_gpu_section(report))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def test_three_gpus_table_in_full(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    text = render_gpus("three_mixed", nvml_scenario)
    expected = (REPO / "tests/data/golden/detect_gpus_three_mixed.txt").read_text().rstrip("\n")
    assert text == expected


def test_gpu_lost_row(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    text = render_gpus("gpu_lost", nvml_scenario)
    assert "NVIDIA A100-SXM4-40GB" in text
    assert "GPU is lost" in text


def test_unsupported_power_prints_na(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    text = render_gpus("power_temp_unsupported", nvml_scenario)
    l40s = next(line for line in text.splitlines() if "L40S" in line)
    assert "n/a" in l40s and "400 W" not in l40s


def test_json_structure_is_stable(nvml_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("one_t4")
    code, out, _ = run_cli(capsys, "detect", "--json", "--no-tensorflow")
    assert code == 0
    data = json.loads(out)
    assert data["schema"] == "hwprof.detect/1"
    assert set(data) >= {
        "hwprof_version",
        "created_at",
        "host",
        "cpus",
        "nvml",
        "gpus",
        "tensorflow",
    }
    (gpu,) = data["gpus"]
    assert gpu["name"] == "NVIDIA T4" and gpu["compute_capability"] == [7, 5]
    assert gpu["memory_total_bytes"] == 17179869184
    assert data["cpus"][0]["logical_cpus"] == os.cpu_count()
    assert data["nvml"]["driver_version"] == "550.163.01"


def test_bad_argument_exit_2(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["detect", "--nonsense"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --nonsense" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["detect", "--probe-timeout", "nan"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --probe-timeout: 'nan' is not a finite number" in err


@pytest.mark.tf
def test_detect_as_a_user_runs_it() -> None:
    """The real command, in a real process, with the real TensorFlow probe: the JSON is complete."""
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-m", "hwprof", "detect", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["tensorflow"]["status"] == "ok"
    assert any(d["device_type"] == "CPU" for d in data["tensorflow"]["devices"])
    if data["nvml"]["available"]:  # a GPU host: NVML's GPUs, each described or its error said
        assert all(g["name"] or g["error"] for g in data["gpus"])
    else:  # no NVIDIA driver on this machine: said in words
        assert "no NVIDIA driver" in data["nvml"]["message"]


def test_version_and_help(capsys) -> None:  # type: ignore[no-untyped-def]
    import hwprof

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"hwprof {hwprof.__version__}"
    proc = subprocess.run(
        [sys.executable, "-m", "hwprof", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0 and "detect" in proc.stdout
