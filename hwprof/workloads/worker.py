"""The run worker (``hwprof _child run SPEC_JSON``): one workload, one device, one process.

It pins its device and sets TensorFlow's thread pools before TensorFlow's first op, builds the
workload, runs the first step (tracing and compilation, reported apart), the warm-up steps, then
timed steps in a plain loop, each synchronised with the device, until throughput is steady, the
duration is up or the step count is reached. Events go to the parent as JSON lines (see
:mod:`hwprof.core.events`).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import time
import traceback
from typing import IO, Any

from pydantic import ValidationError

from hwprof.core import events
from hwprof.core.results import StepTimings, WorkerReport
from hwprof.core.spec import STEADY_WINDOWS, RunSpec
from hwprof.core.stats import is_steady

# How often timed steps are sent to the parent: each message wakes two of its threads, which take
# a core from the steps being timed; twice a second is still live for a chart and an ETA.
FLUSH_SECONDS = 0.5
STEADY_WINDOW_SECONDS = 0.5  # the steadiness test looks at windows at least this long
# Tests make a worker fail on purpose at the start of its timed loop: abort (a crash), raise,
# hang; or run out of memory (oom_above_batch=N), get a model's numbers wrong (wrong_numerics)
# or fail to check them (broken_numerics). ``FAULT@TEST_ID`` limits a fault to one suite test;
# ``;`` separates faults.
# Only ever read here; nothing sets it outside the test suite.
FAULT_ENV = "HWPROF_FAULT_INJECTION"


class Channel:
    """The protocol stream: the real stdout, claimed for events; fd 1 then points at stderr."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self._out: IO[str] = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)  # TensorFlow's C++ code and any print() now land in stderr
        sys.stdout = sys.stderr
        self.tags: dict[str, Any] = {}  # added to every event (the suite worker's request)

    def send(self, event: str, **data: Any) -> None:
        """Write one event line."""
        self._out.write(events.encode(event, **data, **self.tags) + "\n")
        self._out.flush()


def main(argv: list[str]) -> int:
    """Run the spec given as JSON; exit 0 when a result was sent, 1 after an error event."""
    chan = Channel()
    chan.send(events.STARTED, pid=os.getpid(), t=time.monotonic())
    try:
        spec = RunSpec.model_validate_json(argv[0] if argv else "")
    except (ValidationError, ValueError) as err:
        chan.send(events.ERROR, kind="exception", message=f"bad run spec: {err}")
        return 1
    try:
        report = run(spec, chan)
    except Exception as err:
        traceback.print_exc(file=sys.stderr)
        chan.send(events.ERROR, kind=error_kind(err), message=error_message(err))
        return 1
    chan.send(events.RESULT, report=report.model_dump(mode="json"))
    return 0


def error_kind(err: BaseException) -> str:
    """The protocol's name for what went wrong."""
    if type(err).__name__ == "ResourceExhaustedError":
        return "out_of_memory"
    return "exception"


def error_message(err: BaseException) -> str:
    """A one-paragraph message (TensorFlow's errors carry pages of op context)."""
    text = str(err).strip() or type(err).__name__
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)  # TF's op-context prefix
    first = text.split("\n\n")[0].strip()
    if len(first) > 600:
        first = first[:600] + "…"
    return f"{type(err).__name__}: {first}"


def configure_tensorflow(tf: Any, spec: RunSpec) -> str:
    """Thread pools and GPU memory growth, before the first op; the TF device name to use."""
    if spec.intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(spec.intra_op_threads)
    if spec.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(spec.inter_op_threads)
    if spec.is_tpu:
        tpu_resolver(tf)  # before the first op: TensorFlow reaches the chip through libtpu
        return "/TPU:0"
    if not spec.is_gpu:
        if spec.replicas and spec.replicas > 1:
            # N logical CPU devices on the one physical CPU: MirroredStrategy's replicas here
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(spec.replicas)])
        return "/CPU:0"
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        raise RuntimeError(
            f"TensorFlow sees no GPU for {spec.device} (CUDA_VISIBLE_DEVICES="
            f"{os.environ.get('CUDA_VISIBLE_DEVICES', '')!r}); a CPU-only TensorFlow build, or the"
            " CUDA libraries are missing (pip install 'tensorflow[and-cuda]')"
        )
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    return "/GPU:0"  # the one GPU CUDA_VISIBLE_DEVICES leaves visible


COLLECTIVE_TIMEOUT_S = 60.0  # a peer that stops answering fails the step instead of hanging it


_TPU_RESOLVER: list[Any] = []  # the TPU system is initialized once per worker


def tpu_resolver(tf: Any) -> Any:
    """The local TPU, connected and initialized (libtpu; the worker's env names the chip)."""
    if not _TPU_RESOLVER:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        _TPU_RESOLVER.append(resolver)
    return _TPU_RESOLVER[0]


def make_strategy(tf: Any, spec: RunSpec) -> Any:
    """The tf.distribute strategy a distributed run trains under (None for a plain run)."""
    if spec.cluster is not None:
        timeout = float(os.environ.get("HWPROF_PEER_TIMEOUT", COLLECTIVE_TIMEOUT_S))
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    if spec.replicas is None:
        return None
    if spec.is_tpu:  # the chip's TensorCores are the replicas; the batch is per replica
        return tf.distribute.TPUStrategy(tpu_resolver(tf))
    kind = "GPU" if spec.is_gpu else "CPU"
    devices = [d.name for d in tf.config.list_logical_devices(kind)][: spec.replicas]
    if len(devices) < spec.replicas:
        raise RuntimeError(f"{spec.replicas} replicas asked for, but TensorFlow sees "
                           f"{len(devices)} {kind} device(s)")
    if kind == "CPU":
        # CPU devices have no NCCL: gather and broadcast through one device
        ops = tf.distribute.ReductionToOneDevice(reduce_to_device=devices[0])
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=ops)
    return tf.distribute.MirroredStrategy(devices=devices)


def peak_memory(
    tf: Any, spec: RunSpec, since_reset: bool | None = None
) -> tuple[int | None, str]:
    """The run's peak memory: TensorFlow's GPU allocator peak, or the process's RSS high mark.

    ``since_reset``: None in a one-run worker; in the suite worker, whether
    :func:`reset_peak_memory` started a new peak for this test (if not, the peak is the
    worker's since it started, earlier tests included, and says so).
    """
    earlier = " since the worker started (earlier tests included)" if since_reset is False else ""
    if spec.is_gpu:
        try:
            return int(tf.config.experimental.get_memory_info("GPU:0")["peak"]), (
                "TensorFlow GPU allocator peak" + earlier
            )
        except Exception:
            return None, "TensorFlow GPU allocator peak (unavailable)"
    try:
        import resource  # POSIX only: Windows has no getrusage
    except ImportError:
        return None, "worker process peak RSS (not available on this platform)"
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return int(rss_kib * scale), f"worker process peak RSS{earlier} (includes TensorFlow itself)"


def reset_peak_memory(tf: Any, spec: RunSpec) -> bool:
    """Start a new peak before a suite test; whether the platform allows it.

    A GPU's allocator statistics reset through TensorFlow. On Linux, writing 5 to
    ``/proc/self/clear_refs`` resets the RSS high-water mark, which getrusage then reports;
    elsewhere the peak stays the worker's since it started.
    """
    if spec.is_gpu:
        try:
            tf.config.experimental.reset_memory_stats("GPU:0")
        except Exception:
            return False
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def faults(test_id: str | None = None) -> list[str]:
    """The faults FAULT_ENV injects into this run (``test_id``: the suite test it runs)."""
    active = []
    for item in os.environ.get(FAULT_ENV, "").split(";"):
        fault, _, only = item.strip().partition("@")
        if fault and (not only or only == test_id):
            active.append(fault)
    return active


def inject_fault(active: list[str]) -> None:
    """The test suite's way to make a worker crash, raise or hang (see FAULT_ENV).

    ``oom_above_batch=N`` (checked in :func:`run_workload`) makes batches above N fail as
    TensorFlow does when memory runs out, to test sweeps that reach the memory limit.
    """
    if "abort" in active:
        os.abort()
    if "raise" in active:
        raise RuntimeError("fault injected by the test suite")
    if "hang" in active:
        while True:
            time.sleep(1)


def run(spec: RunSpec, chan: Channel) -> WorkerReport:
    """Build, compile, warm up and time the workload."""
    import tensorflow as tf

    device = configure_tensorflow(tf, spec)
    chan.send(events.READY, tensorflow_version=tf.__version__, tf_device=device)
    return run_workload(tf, spec, device, chan, faults())[0]


def run_workload(
    tf: Any, spec: RunSpec, device: str, chan: Channel, active_faults: list[str],
    peak_since_reset: bool | None = None,
) -> tuple[WorkerReport, Any]:
    """The workload's run in a configured TensorFlow: its report, and the built workload.

    ``peak_since_reset``: see :func:`peak_memory` (None: a one-run worker).
    """
    from hwprof.workloads.builders import build

    for fault in active_faults:  # a small memory, simulated: TensorFlow's own error
        if fault.startswith("oom_above_batch="):
            limit = int(fault.split("=", 1)[1])
            if spec.effective_batch_size > limit:
                raise tf.errors.ResourceExhaustedError(
                    None, None, f"OOM when allocating tensor (simulated: batch above {limit})")
    strategy = make_strategy(tf, spec)
    with contextlib.nullcontext() if strategy is not None else tf.device(device):
        tflite_info = None
        if spec.runtime == "tflite":  # converted and run by TFLite's interpreter
            from hwprof.workloads.tflite import build_tflite

            built, tflite_info = build_tflite(tf, spec)
        else:
            built = build(tf, spec, strategy)
        t0 = time.monotonic()
        built.step().numpy()
        first = time.monotonic() - t0
        chan.send(
            events.COMPILED,
            time_to_first_step_s=first,
            samples_per_step=built.samples_per_step,
            flops_per_sample=built.flops_per_sample,
            bytes_per_sample=built.bytes_per_sample,
        )
        warmups, note = warm_up(spec, built, chan)
        warmup_end = time.monotonic()
        inject_fault(active_faults)
        starts, seconds, stop_reason, loss = timed_loop(spec, built, chan)
        # the run's own peak, before the profiler's buffers add to it
        memory, memory_source = peak_memory(tf, spec, since_reset=peak_since_reset)
        trace_summary, trace_note = None, None
        if spec.trace_steps:  # after the timed loop: timed results are never traced ones
            from hwprof.workloads.tracing import capture

            trace_summary, trace_note = capture(tf, spec, built, seconds)
    report = WorkerReport(
        tensorflow_version=tf.__version__,
        tf_device=device,
        batch_size=spec.effective_batch_size,
        samples_per_step=built.samples_per_step,
        flops_per_sample=built.flops_per_sample,
        bytes_per_sample=built.bytes_per_sample,
        time_to_first_step_s=first,
        warmup_steps=warmups,
        warmup_end_s=warmup_end,
        steps=StepTimings(start_s=tuple(starts), seconds=tuple(seconds)),
        stop_reason=stop_reason,
        peak_memory_bytes=memory,
        memory_source=memory_source,
        final_loss=loss,
        notes=(*built.notes, *([note] if note else []), *([trace_note] if trace_note else [])),
        trace=trace_summary,
        tflite=tflite_info,
    )
    return report, built


def warmup_budget(spec: RunSpec) -> float | None:
    """The longest the warm-up may take: as long as the timed phase may (None: no bound).

    Warm-up steps are for caches and autotuning, which the first steps see to; a step that
    takes longer than the whole timed phase gains nothing from more of them, and a huge batch
    would otherwise spend minutes warming up before a 3-second measurement.
    """
    return spec.duration_seconds


def warm_up(spec: RunSpec, built: Any, chan: Channel) -> tuple[int, str]:
    """The untimed warm-up steps, within :func:`warmup_budget`; how many ran, and a note if cut.

    The first warm-up step always runs: the first step's time is mostly tracing and compiling,
    so only a clean step says what a step costs. Before each further step, the last step's time
    says whether the next would end past the budget; if so, the warm-up ends there, noted.
    """
    budget = warmup_budget(spec)
    begin = time.monotonic()
    last = 0.0
    for i in range(spec.warmup_steps):
        spent = time.monotonic() - begin
        if i > 0 and budget is not None and spent + last > budget:
            return i, (f"warm-up cut to {i} of {spec.warmup_steps} steps: a step takes about "
                       f"{last:.3g} s and the warm-up may take at most the {budget:g} s the "
                       "timed phase may (--duration)")
        t0 = time.monotonic()
        built.step().numpy()
        last = time.monotonic() - t0
        chan.send(events.WARMUP, done=i + 1, total=spec.warmup_steps)
    return spec.warmup_steps, ""


def timed_loop(
    spec: RunSpec, built: Any, chan: Channel
) -> tuple[list[float], list[float], str, float | None]:
    """Timed steps until steady, out of time, or the step count; stream them as they come."""
    starts: list[float] = []
    seconds: list[float] = []
    window_rates: list[float] = []
    win_time, win_steps, sent = 0.0, 0, 0
    clock = time.monotonic
    begin = clock()
    deadline = begin + spec.duration_seconds if spec.duration_seconds else float("inf")
    use_steady = spec.steps is None and spec.steady_cv is not None
    last_flush = begin
    value: Any = None
    while True:
        t0 = clock()
        value = built.step().numpy()  # reading the result waits for the device
        t1 = clock()
        starts.append(t0)
        seconds.append(t1 - t0)
        win_time += t1 - t0
        win_steps += 1
        reason = None
        if win_time >= STEADY_WINDOW_SECONDS:
            window_rates.append(win_steps * built.samples_per_step / win_time)
            win_time, win_steps = 0.0, 0
            if use_steady and is_steady(window_rates, spec.steady_cv or 0.0, STEADY_WINDOWS):
                reason = "steady"
        if spec.steps is not None and len(seconds) >= spec.steps:
            reason = "steps"
        elif reason is None and t1 >= deadline:
            reason = "duration"
        if reason or t1 - last_flush >= FLUSH_SECONDS:
            chan.send(events.STEPS, start_s=starts[sent:], seconds=seconds[sent:])
            sent, last_flush = len(seconds), t1
        if reason:
            built.last_output = value  # an inference step's value: the model's predictions
            try:
                loss = float(value)
            except (TypeError, ValueError):
                loss = None
            return starts, seconds, reason, loss if loss is None or math.isfinite(loss) else None
