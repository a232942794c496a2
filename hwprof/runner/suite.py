"""A profile's tests in persistent worker processes: TensorFlow's start-up is paid once.

:class:`SuiteRunner` keeps one suite worker (``hwprof _child suite``, see
:mod:`hwprof.workloads.suite_worker`) for the process settings of the tests it is given (device,
thread pools; the environment is the runner's) and sends it one test at a time on its stdin. The
isolation of one process per run stays where it matters: a test that crashes its worker, hangs (no
event for ``stall_s``), runs out of memory or fails in any other way ends as that test's outcome,
with the reason and the worker's stderr tail, and the worker is ended; the next test gets a new
one. Cancel ends the worker within seconds. :meth:`SuiteRunner.run` always returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hwprof.core import events
from hwprof.core.results import RunResult, WorkerReport, failed_result
from hwprof.core.spec import RunSpec
from hwprof.runner.run import (
    DEFAULT_STALL_SECONDS,
    START_STALL_SECONDS,
    EventCallback,
    Failure,
    RunEvents,
    WorkerProcess,
    default_timeout,
    died,
    failed_run,
    worker_env,
)


@dataclass(frozen=True)
class SuiteTestRun:
    """One test's outcome from a suite worker."""

    outcome: WorkerReport | RunResult  # the report, or the failed/cancelled result with why
    numerics: dict[str, Any] | None  # the worker's numerics check (a NumericsCheck as JSON)
    numerics_seconds: float
    new_worker: bool  # this test started its worker, and so paid for its start-up
    worker_pid: int | None
    worker_ended: bool  # the worker did not survive the test (a new one runs the next)


class SuiteRunner:
    """Runs suite tests one at a time in a persistent worker process, replaced when one fails.

    ``env``: extra environment for every worker. ``stall_s``: a test that sends nothing for this
    long is hung; a new worker's start-up (importing TensorFlow, slow on a busy machine) may take
    ``start_stall_s`` instead, if longer. :meth:`close` ends the last worker (``with
    contextlib.closing(SuiteRunner()) as runner:``).
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        stall_s: float = DEFAULT_STALL_SECONDS,
        start_stall_s: float = START_STALL_SECONDS,
        cancel: threading.Event | None = None,
    ) -> None:
        self._env = dict(env or {})
        self.stall_s = stall_s
        self.start_stall_s = max(stall_s, start_stall_s)
        self._cancel = cancel if cancel is not None else threading.Event()
        self._worker: WorkerProcess | None = None
        self._settings: events.ProcessSettings | None = None
        self._fresh = False  # the worker has not run a test yet
        self._requests = 0
        self.started_pids: list[int] = []  # every worker process this runner started

    @property
    def workers_started(self) -> int:
        """How many worker processes were started (each paid TensorFlow's start-up)."""
        return len(self.started_pids)

    def prepare(self, spec: RunSpec) -> int | None:
        """Have a worker ready for ``spec`` (starting one if none fits); its pid."""
        settings = events.process_settings(spec)
        worker = self._worker
        if worker is not None and (settings != self._settings or worker.proc is None
                                   or worker.proc.poll() is not None):
            self._retire()  # other settings, or it died between tests
        if self._worker is None:
            env = worker_env(spec)
            env.update(self._env)
            self._worker = WorkerProcess(["suite"], env=env, stdin_pipe=True)
            self._settings, self._fresh = settings, True
            if self._worker.pid is not None:
                self.started_pids.append(self._worker.pid)
        return self._worker.pid

    def run(
        self,
        spec: RunSpec,
        test_id: str,
        *,
        numerics: bool = False,
        on_event: EventCallback | None = None,
        timeout_s: float | None = None,
    ) -> SuiteTestRun:
        """Run one test; its outcome, never an exception for a failed test.

        ``numerics``: check the model's output against the CPU's fp32 result after timing.
        ``timeout_s``: the longest the test may take (default: its duration plus 10 minutes).
        """
        t0 = time.monotonic()
        self.prepare(spec)
        worker = self._worker
        assert worker is not None
        new, self._fresh = self._fresh, False
        if worker.proc is None:
            self._retire()
            return SuiteTestRun(failed_result(worker.start_error or "no worker", "start_failed"),
                                None, 0.0, new, None, True)
        number = self._requests
        self._requests += 1
        run_events = RunEvents(spec, on_event)
        numerics_event: dict[str, Any] = {}

        def handle(event: dict[str, Any]) -> WorkerReport | Failure | None:
            if event.get("request") != number:
                return None  # not this test's (an earlier one's straggler)
            if event["event"] == events.NUMERICS:
                numerics_event.update(event)
            return run_events.handle(event)

        request = events.SuiteRequest(request=number, test_id=test_id, spec=spec,
                                      numerics=numerics)
        worker.send(request.model_dump_json())  # if it has gone, its closed output says why
        followed = worker.follow(
            handle, cancel=self._cancel,
            timeout_s=default_timeout(spec) if timeout_s is None else timeout_s,
            stall_s=self.stall_s, since=t0, until_outcome=True,
            start_stall_s=self.start_stall_s if new else None)
        outcome: WorkerReport | RunResult
        if isinstance(followed.outcome, WorkerReport):
            outcome = followed.outcome
        else:
            failure = followed.ended or followed.outcome
            if failure is None:  # its output closed before the test's end: the worker died
                failure = died(worker.reap()[0])
            outcome = failed_run(failure, worker, run_events, t0)
        ended = not isinstance(outcome, WorkerReport)
        if ended:
            # whatever failed may have left the process in a bad state (memory it cannot give
            # back, a half-built graph): the next test gets a new one
            self._retire()
        check = numerics_event.get("check")
        seconds = numerics_event.get("seconds")
        return SuiteTestRun(
            outcome,
            check if isinstance(check, dict) else None,
            float(seconds) if isinstance(seconds, int | float) else 0.0,
            new,
            worker.pid,
            ended,
        )

    def _retire(self) -> None:
        worker, self._worker, self._settings = self._worker, None, None
        if worker is not None:
            worker.end(grace_seconds=2.0)  # it holds nothing to save: SIGTERM at once
            worker.cleanup()

    def close(self) -> None:
        """End the worker (the profile is over)."""
        self._retire()
