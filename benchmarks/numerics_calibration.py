"""What the numerics check measures here: every model test in fp32 and in bf16, and a wrong device.

The tolerances in ``hwprof.core.profile.NUMERICS_TOLERANCE`` are calibrated from this: for each
model test of the suite, the max relative error of the model's output on this machine against the
CPU's fp32 output, in fp32 and in mixed bf16 (on CPUs with AVX512_BF16/AMX), and what a device that
computes wrong answers gives (the ``wrong_numerics`` fault: its output off by half, on the first
test). Each test runs in one suite worker, with a short timed phase (the weights it checks are
those the test left).

    .venv/bin/python benchmarks/numerics_calibration.py [--seconds 0.5] [--only a,b]
"""

from __future__ import annotations

import argparse
import contextlib
import os

from hwprof.core.profile import NUMERICS_TOLERANCE
from hwprof.core.suite import SUITE, DeviceCaps, plan
from hwprof.runner.suite import SuiteRunner
from hwprof.workloads.worker import FAULT_ENV

PRECISIONS = ("fp32", "mixed_bfloat16")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="each test's timed phase")
    parser.add_argument("--only", type=lambda s: s.split(","), default=None)
    args = parser.parse_args()
    models = [t for t in SUITE if t.is_model and t.precision == "fp32"
              and (args.only is None or t.test_id in args.only)]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    worst: dict[str, float] = {}
    wrong: list[float] = []
    with contextlib.closing(SuiteRunner(env={FAULT_ENV: "wrong_numerics@wrong"})) as runner:
        print(f"  {'test':24s}" + "".join(f"{p:>16s}" for p in PRECISIONS) + f"{'wrong':>10s}")
        for test in models:
            spec = plan("cpu", DeviceCaps("cpu"), only=[test.test_id],
                        timed_seconds=args.seconds)[0].spec
            assert spec is not None
            spec = spec.model_copy(update={"warmup_steps": 1})
            row = f"  {test.test_id:24s}"
            for precision in PRECISIONS:
                run = runner.run(spec.model_copy(update={"precision": precision}),
                                 test.test_id, numerics=True)
                err = (run.numerics or {}).get("max_relative_error")
                row += f"{err:16.3g}" if isinstance(err, float) else f"{'-':>16s}"
                if isinstance(err, float):
                    worst[precision] = max(worst.get(precision, 0.0), err)
            if not wrong:  # it scales the output: the same error for every model
                run = runner.run(spec, "wrong", numerics=True)
                err = (run.numerics or {}).get("max_relative_error")
                if isinstance(err, float):
                    wrong.append(err)
                    row += f"{err:10.3g}"
            print(row, flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for precision in PRECISIONS:
        tol = NUMERICS_TOLERANCE[precision]
        seen = worst.get(precision)
        margin = f"{tol / seen:.0f}x the worst seen" if seen else "nothing measured"
        print(f"{precision}: worst {seen if seen is not None else '-'}, tolerance {tol:g} "
              f"({margin})")
    if wrong:
        print(f"a wrong device: at least {min(wrong):.3g} "
              f"({min(wrong) / max(NUMERICS_TOLERANCE.values()):.1f}x the widest tolerance)")


if __name__ == "__main__":
    main()
