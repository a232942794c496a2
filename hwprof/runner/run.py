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
STDERR_TAIL_LINES = 30
# how long a worker may take to exit once its output is closed (TensorFlow tears down its threads)
EXIT_WAIT_S = 10.0
# While no event comes, how often the run looks at its cancel flag (one set from outside, which
# nothing announces); a timeout or a stall is waited for exactly. Every wake-up of the parent
# takes a core from the workload it measures, so it wakes for the worker's events and this.
CANCEL_POLL_S = 0.5
EventCallback = Callable[[dict[str, Any]], None]


def worker_env(spec: RunSpec) -> dict[str, str]:
    """Environment for the worker: its device pinned (Keras' home: see launch.child_env)."""
    env = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    # NVML and CUDA number GPUs alike in PCI bus order, so gpu:N is the N-th GPU in both; a CPU
    # run sees no GPU at all, so TensorFlow cannot place anything there or take its memory.
    if spec.is_gpu and spec.gpu_index is not None:
        first, count = spec.gpu_index, spec.replicas or 1  # replicas: this GPU and the next ones
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(first + i) for i in range(count))
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
        self._on_event = on_event
        self.timeout_s = default_timeout(spec) if timeout_s is None else timeout_s
        self.stall_s = stall_s
        self._cancel = cancel if cancel is not None else threading.Event()
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._tmp = tempfile.TemporaryDirectory(prefix="hwprof-run-")
        self._stderr_path = os.path.join(self._tmp.name, "stderr.txt")
        self.t_start = time.monotonic()
        self.proc: subprocess.Popen[str] | None = None
        self.start_error: str | None = None
        self.compiled: dict[str, Any] = {}
        self.ready: dict[str, Any] = {}
        self.steps_start: list[float] = []
        self.steps_seconds: list[float] = []
        self.warmup_end_s: float | None = None
        full_env = worker_env(spec)
        if env:
            full_env.update(env)
        try:
            self.proc = start_child(
                ["run", spec.model_dump_json()], env=full_env, stderr_path=self._stderr_path
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

    def cancel(self) -> None:
        """Ask the run to end; :meth:`wait` ends the worker within about 3 s and returns."""
        self._cancel.set()
        self._lines.put("")  # wakes wait() at once (an empty line is no event)

    def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _elapsed(self) -> float:
        return time.monotonic() - self.t_start

    def wait(self) -> WorkerReport | RunResult:
        """Follow the worker until it ends; its report, or the failed/cancelled result."""
        try:
            return self._follow()
        finally:
            self._tmp.cleanup()

    def _follow(self) -> WorkerReport | RunResult:
        if self.proc is None:
            return failed_result(self.start_error or "no worker", "start_failed")
        last_event = time.monotonic()
        outcome: WorkerReport | RunResult | None = None
        while True:
            try:
                line = self._lines.get(timeout=self._poll_timeout(last_event))
            except queue.Empty:
                line = ""
            if line is None:  # stdout closed: the worker ended
                break
            if line:
                event = events.decode(line)
                if event is not None:
                    last_event = time.monotonic()
                    outcome = self._handle(event) or outcome
            if self._cancel.is_set():
                return self._end("cancelled by the user", "cancelled")
            if self.timeout_s is not None and self._elapsed() > self.timeout_s:
                return self._end(f"timed out after {self.timeout_s:g} s", "timeout")
            if time.monotonic() - last_event > self.stall_s:
                return self._end(
                    f"the worker sent nothing for {self.stall_s:g} s (a hung op?); it was ended",
                    "timeout",
                )
        code, ended_by_us = self._reap()
        if isinstance(outcome, WorkerReport) and (code == 0 or ended_by_us):
            if ended_by_us:  # the result is whole; only TensorFlow's teardown was slow
                note = (f"the worker sent its result but was still exiting {EXIT_WAIT_S:g} s "
                        "later, so it was ended (TensorFlow's teardown; the result is complete)")
                return outcome.model_copy(update={"notes": (*outcome.notes, note)})
            return outcome
        if isinstance(outcome, RunResult):
            return outcome
        return self._died(code)

    def _poll_timeout(self, last_event: float) -> float:
        """How long to wait for the next line: until the next check falls due, at most."""
        now = time.monotonic()
        due = min(CANCEL_POLL_S, last_event + self.stall_s - now)
        if self.timeout_s is not None:
            due = min(due, self.t_start + self.timeout_s - now)
        return max(0.0, due) + 0.001  # just past the deadline, so that one wake-up sees it

    def _handle(self, event: dict[str, Any]) -> WorkerReport | RunResult | None:
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
                return self._failed(f"the worker sent a malformed result: {err}", "exception")
        if kind == events.ERROR:
            ek = event.get("kind")
            error_kind: ErrorKind = ek if ek in ("out_of_memory", "exception") else "exception"
            message = str(event.get("message") or "the workload failed")
            if error_kind == "out_of_memory":
                message = f"out of memory: {message}"
            return self._failed(message, error_kind)
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

    def _stderr_tail(self) -> tuple[str, ...]:
        try:
            with open(self._stderr_path, errors="replace") as fh:
                lines = [ln.rstrip("\n") for ln in fh.readlines()]
        except OSError:
            return ()
        return tuple(lines[-STDERR_TAIL_LINES:])

    def _failed(self, reason: str, kind: ErrorKind) -> RunResult:
        return failed_result(
            reason,
            kind,
            stderr_tail=self._stderr_tail(),
            wall_seconds=self._elapsed(),
            report=self.partial_report(),
        )

    def _reap(self) -> tuple[int | None, bool]:
        """The worker's exit code, and whether it had to be ended after closing its output."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=EXIT_WAIT_S), False
        except subprocess.TimeoutExpired:  # stdout closed but still alive: end it
            return stop_child(self.proc, grace_seconds=1.0), True

    def _end(self, reason: str, kind: ErrorKind) -> RunResult:
        assert self.proc is not None
        stop_child(self.proc, grace_seconds=2.0)
        return self._failed(reason, kind)

    def _died(self, code: int | None) -> RunResult:
        if code is not None and code < 0:
            sig = -code
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = f"signal {sig}"
            if sig == signal.SIGKILL:
                return self._failed(
                    f"the worker was killed ({name}): most often the system ran out of memory",
                    "killed",
                )
            return self._failed(f"the worker crashed ({name})", "crash")
        return self._failed(f"the worker exited with code {code} without a result", "crash")
