"""The suite worker (``hwprof _child suite``): a profile's tests one after another, in one process.

Importing TensorFlow takes seconds, and a profile runs a dozen tests with the same process settings
(device, thread pools), so one worker runs them all. It reads one
:class:`~hwprof.core.events.SuiteRequest` per line on its stdin and runs it as the run worker runs
its spec, with the same events, each tagged with the request; for a model test it then checks the
model's numbers against the CPU's fp32 result. End of input ends it.

TensorFlow is set up from the first request; a request for other process settings is refused (the
parent starts another worker for it). Between tests, Keras' global state is reset and memory
collected, so the tests do not see each other. A test that fails sends its error and the worker
waits for the next request: whether to go on with it is the parent's choice.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from hwprof.core import events
from hwprof.core.profile import NumericsCheck, check_numerics
from hwprof.core.spec import RunSpec
from hwprof.workloads.worker import (
    Channel,
    configure_tensorflow,
    error_kind,
    error_message,
    faults,
    reset_peak_memory,
    run_workload,
)

# ``wrong_numerics`` (FAULT_ENV) scales the device's output by this: a device that computes
# wrong answers fast, which the numerics check must catch
WRONG_NUMERICS_SCALE = 1.5


@dataclass
class _Worker:
    """What this process was set up for, once TensorFlow is imported."""

    tf: Any = None
    device: str = ""
    settings: events.ProcessSettings | None = None


def main(argv: list[str]) -> int:
    """Run requests from stdin until it closes; exit 0."""
    chan = Channel()
    worker = _Worker()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = events.SuiteRequest.model_validate_json(line)
        except (ValidationError, ValueError) as err:
            chan.tags = {"request": _request_number(line)}
            chan.send(events.ERROR, kind="exception", message=f"bad suite request: {err}")
            continue
        chan.tags = {"request": request.request, "test_id": request.test_id}
        chan.send(events.STARTED, pid=os.getpid(), t=time.monotonic())
        try:
            run_test(worker, request, chan)
        except Exception as err:
            traceback.print_exc(file=sys.stderr)
            chan.send(events.ERROR, kind=error_kind(err), message=error_message(err))
        finally:
            tidy()
    return 0


def _request_number(line: str) -> int | None:
    try:
        number = json.loads(line).get("request")
    except (ValueError, AttributeError):
        return None
    return number if isinstance(number, int) else None


def run_test(worker: _Worker, request: events.SuiteRequest, chan: Channel) -> None:
    """One test: set up TensorFlow if this is the first, run it, check it, send the result."""
    spec = request.spec
    if spec.distributed:
        raise ValueError("the suite worker runs one device per test, not distributed runs")
    settings = events.process_settings(spec)
    if worker.tf is None:
        import tensorflow as tf

        worker.device = configure_tensorflow(tf, spec)
        worker.tf, worker.settings = tf, settings
        freeze_imports()
    elif settings != worker.settings:
        raise ValueError(f"this worker was set up for {worker.settings}, not {settings}: "
                         "TensorFlow's device and thread pools are fixed once it has started")
    tf = worker.tf
    chan.send(events.READY, tensorflow_version=tf.__version__, tf_device=worker.device)
    active = faults(request.test_id)
    reset = reset_peak_memory(tf, spec)
    report, built = run_workload(tf, spec, worker.device, chan, active, peak_since_reset=reset)
    if request.numerics and built.model is not None:
        t0 = time.monotonic()
        try:
            if "broken_numerics" in active:
                raise RuntimeError("numerics check broken by the test suite")
            check = model_numerics(tf, spec, built, worker.device, "wrong_numerics" in active)
        except Exception as err:  # the measurement stands; the check's absence is noted
            traceback.print_exc(file=sys.stderr)
            note = f"the numerics check could not run: {error_message(err)}"
            report = report.model_copy(update={"notes": (*report.notes, note)})
        else:
            chan.send(events.NUMERICS, check=check.model_dump(mode="json"),
                      seconds=time.monotonic() - t0)
    chan.send(events.RESULT, report=report.model_dump(mode="json"))


def model_numerics(
    tf: Any, spec: RunSpec, built: Any, device: str, wrong: bool = False
) -> NumericsCheck:
    """The model's output on the device, at the test's precision, against fp32 on the CPU.

    The device's output, on the first samples of the test's own seeded input with the weights as
    the test left them, is for inference the timed graph's own (its last step's predictions: the
    frozen, optimised graph that was measured, at no cost), and for training the model's forward
    pass run eagerly on the device. The reference is the same model computing in fp32, run eagerly
    on ``/CPU:0`` (:func:`~hwprof.workloads.builders.fp32_reference`); for training in fp32 on the
    CPU that is the device's own computation, which is not run twice.
    """
    from hwprof.workloads.builders import NUMERICS_SAMPLES, first_output, fp32_reference

    if spec.mode == "infer" and built.last_output is not None:
        out = np.asarray(built.last_output[:NUMERICS_SAMPLES], dtype=np.float64)
    else:
        with tf.device(device):
            x = built.inputs[:NUMERICS_SAMPLES]
            out = np.asarray(first_output(built.model(x, training=False)).numpy(),
                             dtype=np.float64)
    if spec.mode != "infer" and spec.precision == "fp32" and device == "/CPU:0":
        reference = out  # the very computation the reference would repeat: fp32, eager, the CPU
    else:
        reference = np.asarray(fp32_reference(tf, spec, built).numpy(), dtype=np.float64)
    if wrong:
        out = out * WRONG_NUMERICS_SCALE
    return check_numerics(out, reference, spec.precision)


def freeze_imports() -> None:
    """Exempt what the imports made from garbage collection, for good.

    TensorFlow and Keras make hundreds of thousands of objects that live as long as the process;
    every full collection walks them all (about a second here, between every two tests, and a
    pause whenever Python collects on its own during a timed phase). Frozen, a collection walks
    only what the tests made since (0.01 to 0.3 s).
    """
    import keras  # the models' builders import it anyway: now, so that it is frozen too

    _ = keras.applications.ResNet50, keras.applications.MobileNetV2  # their modules, imported
    gc.collect()
    gc.freeze()


def tidy() -> None:
    """Forget the last test: Keras' global state and policy, and the memory it held."""
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.mixed_precision.set_global_policy("float32")
        try:
            keras.backend.clear_session(free_memory=False)  # the collection follows
        except TypeError:  # an older Keras 3 always collects
            keras.backend.clear_session()
    gc.collect()
