"""Odd arguments get a clear refusal (exit 2, one message naming the flag), never a traceback.

NaN once switched limits off (``--timeout nan``, ``--max-memory-gb nan``), ``--values nan,inf``
and ``monitor --pid -1`` ended in tracebacks, and a study's messages named flags that do not exist.
"""

from __future__ import annotations

import pytest

from hwprof.cli.main import main
from hwprof.core.spec import RunSpec
from hwprof.services.runs import DeviceError, check_device


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the command in this process; it must exit 2 before any work. Its stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refused it
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert "Traceback" not in err and out == ""
    return err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "mlp", "--timeout", "nan"], "argument --timeout: 'nan' is not a finite number"),
        (["run", "mlp", "--timeout", "inf"], "argument --timeout: 'inf' is not a finite number"),
        (["run", "mlp", "--timeout", "-1"], "argument --timeout: -1 must be more than 0"),
        (["run", "mlp", "--duration", "nan"], "argument --duration: 'nan' is not a finite"),
        (["run", "mlp", "--duration", "1e9"], "more than the most allowed, 86400 s"),
        (["sweep", "mlp", "--over", "batch", "--duration", "nan"], "argument --duration: 'nan'"),
        (["sweep", "mlp", "--over", "batch", "--max-memory-gb", "nan"],
         "argument --max-memory-gb: 'nan' is not a finite number; give a number of GB above 0"),
        (["sweep", "mlp", "--over", "batch", "--max-memory-gb", "0"], "0 must be more than 0"),
        (["sweep", "mlp", "--over", "batch", "--target", "cpu", "--values", "nan,inf"],
         "sweep values 'nan,inf': whole numbers of at least 1"),
        (["sweep", "mlp", "--over", "batch", "--target", "cpu", "--values", "1,1e400"],
         "whole numbers of at least 1"),
        (["roofline", "--duration", "inf"], "argument --duration/--seconds: 'inf' is not a"),
        (["roofline", "--seconds", "nan"], "argument --duration/--seconds: 'nan'"),
        (["detect", "--probe-timeout", "nan"], "argument --probe-timeout: 'nan' is not a finite"),
        (["monitor", "--pid", "-1"], "--pid -1: a process id is 0 or more"),
        (["monitor", "--pid", str(2**70)], f"--pid {2**70}: no such process"),
        (["monitor", "--interval", "1e9"], "--interval must be at most 86400 s, a day"),
        (["monitor", "--duration", "nan"], "argument --duration/--seconds: 'nan' is not a"),
        (["compare", "--workload", "mlp", "--target", "cpu", "--target", "cpu bf16", "--trials",
          "1000000000"], "--trials must be from 1 to 1000"),
    ],
)
def test_odd_numbers_are_refused_by_name(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], nvml_scenario
) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("missing")
    assert says in refused(capsys, *argv)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--warmup", "-1"], "hwprof sweep: --warmup: Input should be greater than or equal to 0"),
        (["--mode", "train", "--target", "cpu threads=0"], "threads=0: must be at least 1"),
    ],
)
def test_a_studys_messages_name_flags_that_exist(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(capsys, "sweep", "mlp", "--over", "threads", *argv)
    assert says in err and "--warmup-steps" not in err and "duration-seconds" not in err


def test_a_sweep_refuses_a_target_that_sets_what_it_sweeps(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = refused(capsys, "sweep", "mlp", "--over", "batch", "--target", "cpu batch=4",
                  "--values", "1,2")
    assert "cpu batch=4: a batch size sweep sets batch= itself" in err
    err = refused(capsys, "sweep", "mlp", "--over", "size", "--target", "cpu size=8")
    assert "cpu size=8: a model size sweep sets size= itself" in err
    err = refused(capsys, "sweep", "mlp", "--over", "batch", "--target", "cpu",
                  "--batch-size", "64")
    assert "--batch-size is what a batch size sweep varies" in err


def test_a_gpu_that_is_not_there_is_refused_on_any_host(
    capsys: pytest.CaptureFixture[str], nvml_scenario
) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("one_t4")
    check_device(RunSpec(workload="mlp", device="gpu:0"))  # the one GPU: fine
    with pytest.raises(DeviceError, match=r"gpu:1: this machine has 1 GPU \(gpu:0\)"):
        check_device(RunSpec(workload="mlp", device="gpu:1"))
    err = refused(capsys, "run", "mlp", "--device", "gpu:5")
    assert err == "hwprof run: gpu:5: this machine has 1 GPU (gpu:0)\n"
    # a study says the device once, as the target it belongs to ("gpu:7: gpu:7: ..." before)
    err = refused(capsys, "compare", "--workload", "mlp", "--target", "gpu:7 bf16",
                  "--target", "cpu")
    assert err == "hwprof compare: gpu:7 bf16: this machine has 1 GPU (gpu:0)\n"
    nvml_scenario("missing")
    err = refused(capsys, "sweep", "mlp", "--over", "batch", "--target", "gpu:0")
    assert err.startswith("hwprof sweep: gpu:0: no NVIDIA GPU can be used here (no NVIDIA")
    assert err.count("gpu:0") == 1


def test_snapshots_of_a_missing_folder_says_so_on_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    err = refused(capsys, "snapshots", str(tmp_path / "missing"))
    assert f"{tmp_path / 'missing'} is not a folder" in err
