"""Run one workload in its own worker process and collect what it reports.

The worker is ``hwprof _child run SPEC_JSON`` in a new process group. Its stdout is read on a
thread (so the caller can cancel at any moment); its stderr goes to a temporary file whose last
lines are kept for the report of a failed run. Whatever the worker does (finishes, raises, runs out
of memory, crashes, hangs, is cancelled), :meth:`WorkerRun.wait` returns: a
:class:`~hwprof.core.results.WorkerReport`, or a failed/cancelled
:class:`~hwprof.core.results.RunResult` that says why.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hwprof.core import events
from hwprof.core.results import (
    ErrorKind,
    RunResult,
    StepTimings,
    WorkerReport,
    failed_result,
)
from hwprof.core.spec import RunSpec
from hwprof.runner.launch import start_child, stop_child

# Importing TensorFlow and compiling a large model (ResNet-50 on a slow CPU) takes a while; a worker
# that sends nothing for this long is taken to be hung.
DEFAULT_STALL_SECONDS = 300.0
# A suite worker's start-up (Python, hwprof, TensorFlow imported) may be silent this long even when
# the stall limit of its tests is shorter: on a busy 2-core machine the import alone took 12 s
START_STALL_SECONDS = 120.0
STDERR_TAIL_LINES = 30
# how long a worker may take to exit once its output is closed (TensorFlow tears down its threads)
EXIT_WAIT_S = 10.0
# A follower sleeps until an event, a deadline or this long, whichever comes first: the longest a
# cancel set from outside waits to be seen (WorkerRun.cancel and WorkerProcess.wake are at once)
CANCEL_POLL_S = 0.5
EventCallback = Callable[[dict[str, Any]], None]


def worker_env(spec: RunSpec) -> dict[str, str]:
    """Environment for the worker: its device pinned (Keras' home: see launch.child_env)."""
    env = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    # NVML and CUDA number GPUs alike in PCI bus order, so gpu:N is the N-th GPU in both; a CPU
    # run sees no GPU at all, so TensorFlow cannot place anything there or take its memory.
    # AMD GPUs are pinned with HIP's own numbering (PCI bus order, as amdgpu's sysfs lists them).
    # ROCm's HIP reads HIP_VISIBLE_DEVICES or, for CUDA compatibility, CUDA_VISIBLE_DEVICES (ROCm's
    # environment-variable reference), so an AMD run sets both to the same HIP indices: whichever
    # HIP honours, it sees the same GPU (a ROCm TensorFlow uses no NVIDIA GPU either way). "-1" (no
    # such device) hides every AMD GPU from a ROCm TensorFlow on CPU and NVIDIA runs.
    env["HIP_VISIBLE_DEVICES"] = "-1"
    if spec.is_gpu and spec.gpu_index is not None:
        first = spec.vendor_index if spec.vendor_index is not None else spec.gpu_index
        count = spec.replicas or 1  # replicas: this GPU and the next ones of its vendor
        ids = ",".join(str(first + i) for i in range(count))
        if spec.gpu_vendor == "amd":
            env["HIP_VISIBLE_DEVICES"] = ids
            env["CUDA_VISIBLE_DEVICES"] = ids
        elif spec.gpu_vendor == "intel":
            # Level Zero (Intel's XPU runtime) numbers GPUs in PCI bus order, as i915/xe list them;
            # it reads no CUDA variable, so CUDA is shown no GPU (an Intel run uses no NVIDIA GPU)
            env["ZE_AFFINITY_MASK"] = ids
            env["CUDA_VISIBLE_DEVICES"] = ""
        elif spec.gpu_vendor == "apple":
            # a Mac has one GPU, the tensorflow-metal plug-in's GPU:0, and no variable that pins
            # it (Metal reads none); CUDA is shown no GPU, as for Intel
            env["CUDA_VISIBLE_DEVICES"] = ""
        else:
            env["CUDA_VISIBLE_DEVICES"] = ids
    else:
        env["CUDA_VISIBLE_DEVICES"] = ""
    if spec.cluster is not None and spec.task_index is not None:
        # tf.distribute.MultiWorkerMirroredStrategy reads the cluster from TF_CONFIG
        env["TF_CONFIG"] = json.dumps({"cluster": {"worker": list(spec.cluster)},
                                       "task": {"type": "worker", "index": spec.task_index}})
    return env


def default_timeout(spec: RunSpec) -> float | None:
    """The longest a run may take in all: its duration plus room to start and compile."""
    return spec.duration_seconds + 600.0 if spec.steps is None and spec.duration_seconds else None


@dataclass(frozen=True)
class Failure:
    """A run's end without a report: why, in words, and the protocol's kind of error."""

    reason: str
    kind: ErrorKind


class RunEvents:
    """One run's events as they arrive: what they have said so far, and the run's end.

    Shared by the one-run worker (:class:`WorkerRun`) and the suite worker's tests
    (:mod:`hwprof.runner.suite`), so both read the protocol the same way.
    """

    def __init__(self, spec: RunSpec, on_event: EventCallback | None = None) -> None:
        self.spec = spec
        self._on_event = on_event
        self.compiled: dict[str, Any] = {}
        self.ready: dict[str, Any] = {}
        self.steps_start: list[float] = []
        self.steps_seconds: list[float] = []
        self.warmup_end_s: float | None = None

    def handle(self, event: dict[str, Any]) -> WorkerReport | Failure | None:
        """Take one event in: the report or the failure it ends the run with, else None."""
        kind = event["event"]
        if kind == events.READY:
            self.ready = event
        elif kind == events.COMPILED:
            self.compiled = event
        elif kind == events.WARMUP and event.get("done") == event.get("total"):
            self.warmup_end_s = time.monotonic()
        elif kind == events.STEPS:
            self.steps_start.extend(event.get("start_s", ()))
            self.steps_seconds.extend(event.get("seconds", ()))
        if self._on_event is not None:
            with contextlib.suppress(Exception):  # a listener's bug must not lose the run
                self._on_event(event)
        if kind == events.RESULT:
            try:
                return WorkerReport.model_validate(event["report"])
            except (ValidationError, KeyError) as err:
                return Failure(f"the worker sent a malformed result: {err}", "exception")
        if kind == events.ERROR:
            ek = event.get("kind")
            error_kind: ErrorKind = ek if ek in ("out_of_memory", "exception") else "exception"
            message = str(event.get("message") or "the workload failed")
            if error_kind == "out_of_memory":
                message = f"out of memory: {message}"
            return Failure(message, error_kind)
        return None

    def partial_report(self) -> WorkerReport | None:
        """What was measured so far (for a cancelled run), if the first step ran."""
        if not self.compiled or not self.steps_seconds:
            return None
        with contextlib.suppress(ValidationError):
            return WorkerReport(
                tensorflow_version=self.ready.get("tensorflow_version"),
                tf_device=self.ready.get("tf_device"),
                batch_size=self.spec.effective_batch_size,
                samples_per_step=self.compiled["samples_per_step"],
                flops_per_sample=self.compiled.get("flops_per_sample"),
                bytes_per_sample=self.compiled.get("bytes_per_sample"),
                time_to_first_step_s=self.compiled.get("time_to_first_step_s"),
                warmup_steps=self.spec.warmup_steps,
                steps=StepTimings(
                    start_s=tuple(self.steps_start), seconds=tuple(self.steps_seconds)
                ),
            )
        return None


@dataclass(frozen=True)
class Followed:
    """How following a worker ended: the run's own end, or ours (cancel, timeout, stall)."""

    outcome: WorkerReport | Failure | None  # what the run's events ended it with, if anything
    ended: Failure | None = None  # the worker was ended by us, and why
    closed: bool = False  # the worker closed its output (it ended)


class WorkerProcess:
    """A started worker process: its stdout lines read on a thread, its stderr in a file.

    ``stdin_pipe``: requests can be written to it (:meth:`send`), as the suite worker takes them.
    """

    def __init__(
        self, args: list[str], *, env: Mapping[str, str], stdin_pipe: bool = False
    ) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._tmp = tempfile.TemporaryDirectory(prefix="hwprof-run-")
        self._stderr_path = os.path.join(self._tmp.name, "stderr.txt")
        self.proc: subprocess.Popen[str] | None = None
        self.start_error: str | None = None
        self.t_start = time.monotonic()
        try:
            self.proc = start_child(
                args, env=env, stderr_path=self._stderr_path, stdin_pipe=stdin_pipe
            )
        except OSError as err:
            self.start_error = f"could not start the worker process: {err}"
            return
        self._reader = threading.Thread(
            target=self._read_stdout, name="hwprof-run-reader", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int | None:
        """The worker's process id."""
        return self.proc.pid if self.proc is not None else None

    def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def wake(self) -> None:
        """Wake :meth:`follow` at once (after a cancel is set); an empty line is no event."""
        self._lines.put("")

    def send(self, line: str) -> bool:
        """Write one line to the worker's stdin; False when it is gone (its end says why)."""
        if self.proc is None or self.proc.stdin is None:
            return False
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True

    def close_input(self) -> None:
        """Close the worker's stdin: a suite worker ends when it reads no more requests."""
        if self.proc is not None and self.proc.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                self.proc.stdin.close()

    def follow(
        self,
        handle: Callable[[dict[str, Any]], WorkerReport | Failure | None],
        *,
        cancel: threading.Event,
        timeout_s: float | None,
        stall_s: float,
        since: float | None = None,
        until_outcome: bool = False,
        start_stall_s: float | None = None,
    ) -> Followed:
        """Read events into ``handle`` until the worker closes its output.

        With ``until_outcome``, only until ``handle`` returns an outcome (a suite worker goes on
        to its next test). A cancel, ``timeout_s`` after ``since`` (monotonic; default: the
        process start), or ``stall_s`` without an event ends the worker; before its ``ready``
        event (TensorFlow imported), ``start_stall_s`` if given.
        """
        deadline = None if timeout_s is None else (since or self.t_start) + timeout_s
        last_event = time.monotonic()
        outcome: WorkerReport | Failure | None = None
        quiet_limit = stall_s if start_stall_s is None else start_stall_s
        while True:
            now = time.monotonic()
            due = min(CANCEL_POLL_S, last_event + quiet_limit - now)
            if deadline is not None:
                due = min(due, deadline - now)
            try:  # just past the next check's moment, so that one wake-up sees it due
                line = self._lines.get(timeout=max(0.0, due) + 0.001)
            except queue.Empty:
                line = ""
            if line is None:  # stdout closed: the worker ended
                return Followed(outcome, closed=True)
            if line:
                event = events.decode(line)
                if event is not None:
                    last_event = time.monotonic()
                    if event["event"] == events.READY:
                        quiet_limit = stall_s
                    outcome = handle(event) or outcome
                    if until_outcome and outcome is not None:
                        return Followed(outcome)
            ended = None
            if cancel.is_set():
                ended = Failure("cancelled by the user", "cancelled")
            elif deadline is not None and time.monotonic() > deadline:
                ended = Failure(f"timed out after {timeout_s:g} s", "timeout")
            elif time.monotonic() - last_event > quiet_limit:
                ended = Failure(
                    f"the worker sent nothing for {quiet_limit:g} s (a hung op?); it was ended",
                    "timeout",
                )
            if ended is not None:
                self.end(grace_seconds=2.0)
                return Followed(outcome, ended=ended)

    def stderr_tail(self) -> tuple[str, ...]:
        """The last lines the worker wrote on stderr."""
        try:
            with open(self._stderr_path, errors="replace") as fh:
                lines = [ln.rstrip("\n") for ln in fh.readlines()]
        except OSError:
            return ()
        return tuple(lines[-STDERR_TAIL_LINES:])

    def reap(self) -> tuple[int | None, bool]:
        """The worker's exit code, and whether it had to be ended after closing its output."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=EXIT_WAIT_S), False
        except subprocess.TimeoutExpired:  # stdout closed but still alive: end it
            return stop_child(self.proc, grace_seconds=1.0), True

    def end(self, grace_seconds: float = 2.0) -> int | None:
        """End the worker now (terminate, then kill)."""
        if self.proc is None:
            return None
        self.close_input()
        return stop_child(self.proc, grace_seconds=grace_seconds)

    def cleanup(self) -> None:
        """Close the pipes and remove the stderr file (once the worker has ended)."""
        if self.proc is not None:
            self.close_input()
            self._reader.join(timeout=2.0)  # it reads to the end of output the worker left
            if not self._reader.is_alive() and self.proc.stdout is not None:
                with contextlib.suppress(OSError, ValueError):
                    self.proc.stdout.close()
        self._tmp.cleanup()


def died(code: int | None) -> Failure:
    """Why a worker that ended without a result did: its signal or exit code in words."""
    if code is not None and code < 0:
        sig = -code
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        if sig == signal.SIGKILL:
            return Failure(
                f"the worker was killed ({name}): most often the system ran out of memory",
                "killed",
            )
        return Failure(f"the worker crashed ({name})", "crash")
    return Failure(f"the worker exited with code {code} without a result", "crash")


def failed_run(
    failure: Failure, worker: WorkerProcess, run: RunEvents, t_start: float
) -> RunResult:
    """A failed or cancelled run's result: the reason, the stderr tail, what was measured."""
    return failed_result(
        failure.reason,
        failure.kind,
        stderr_tail=worker.stderr_tail(),
        wall_seconds=time.monotonic() - t_start,
        report=run.partial_report(),
    )


class WorkerRun:
    """One worker process, started at once: :meth:`wait` for the outcome, :meth:`cancel` ends it."""

    def __init__(
        self,
        spec: RunSpec,
        *,
        on_event: EventCallback | None = None,
        timeout_s: float | None = None,
        stall_s: float = DEFAULT_STALL_SECONDS,
        env: Mapping[str, str] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.spec = spec
        self.timeout_s = default_timeout(spec) if timeout_s is None else timeout_s
        self.stall_s = stall_s
        self._cancel = cancel if cancel is not None else threading.Event()
        self.events = RunEvents(spec, on_event)
        self.t_start = time.monotonic()
        full_env = worker_env(spec)
        if env:
            full_env.update(env)
        self.worker = WorkerProcess(["run", spec.model_dump_json()], env=full_env)

    @property
    def pid(self) -> int | None:
        """The worker's process id."""
        return self.worker.pid

    def cancel(self) -> None:
        """Ask the run to end; :meth:`wait` ends the worker within about 3 s and returns."""
        self._cancel.set()
        self.worker.wake()

    def wait(self) -> WorkerReport | RunResult:
        """Follow the worker until it ends; its report, or the failed/cancelled result."""
        try:
            return self._follow()
        finally:
            self.worker.cleanup()

    def _follow(self) -> WorkerReport | RunResult:
        if self.worker.proc is None:
            return failed_result(self.worker.start_error or "no worker", "start_failed")
        followed = self.worker.follow(self.events.handle, cancel=self._cancel,
                                      timeout_s=self.timeout_s, stall_s=self.stall_s,
                                      since=self.t_start)
        if followed.ended is not None:
            return self._failed(followed.ended)
        outcome = followed.outcome
        code, ended_by_us = self.worker.reap()
        if isinstance(outcome, WorkerReport) and (code == 0 or ended_by_us):
            if ended_by_us:  # the result is whole; only TensorFlow's teardown was slow
                note = (f"the worker sent its result but was still exiting {EXIT_WAIT_S:g} s "
                        "later, so it was ended (TensorFlow's teardown; the result is complete)")
                return outcome.model_copy(update={"notes": (*outcome.notes, note)})
            return outcome
        if isinstance(outcome, Failure):
            return self._failed(outcome)
        return self._failed(died(code))

    def partial_report(self) -> WorkerReport | None:
        """What was measured so far (for a cancelled run), if the first step ran."""
        return self.events.partial_report()

    def _failed(self, failure: Failure) -> RunResult:
        return failed_run(failure, self.worker, self.events, self.t_start)
