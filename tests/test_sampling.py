"""The sampler: schedule, ring buffers, subscribers, stopping, the process tree, recording."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from hwprof.backends import process as process_backend
from hwprof.backends.process import ProcessTreeBackend
from hwprof.core.telemetry import (
    MetricInfo,
    TelemetryRecord,
    clock_event_reason_labels,
    clock_event_reason_names,
    metric_info,
    metric_infos,
)
from hwprof.sampling import (
    QueueSubscriber,
    RingBuffer,
    Sampler,
    TelemetryRecorder,
    TelemetrySample,
)


class FakeClock:
    """A monotonic clock that only moves when something sleeps or works."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class CountingSource:
    """A metric source whose value is how often it was read."""

    def __init__(self, name: str = "test.reads") -> None:
        self.name = name
        self.reads = 0

    def metrics(self) -> tuple[MetricInfo, ...]:
        return metric_infos([self.name])

    def sample(self) -> dict[str, float | None]:
        self.reads += 1
        return {self.name: float(self.reads)}


def bare_sampler(
    interval: float = 0.5, clock: FakeClock | None = None, **kw: object
) -> Sampler:
    """A sampler with only a counting source (fast and deterministic)."""
    extra = kw.pop("extra_sources", None) or [CountingSource()]
    if clock is None:
        return Sampler(
            interval, host=False, process=False, gpus=False, extra_sources=extra, **kw  # type: ignore[arg-type]
        )
    return Sampler(
        interval,
        host=False,
        process=False,
        gpus=False,
        extra_sources=extra,  # type: ignore[arg-type]
        clock=clock,
        sleep=clock.sleep,
        **kw,  # type: ignore[arg-type]
    )


# -- schedule --------------------------------------------------------------------------------------
def test_schedule_does_not_drift_with_work_in_every_tick() -> None:
    clock = FakeClock()
    s = bare_sampler(0.5, clock)
    got: list[TelemetrySample] = []
    s.subscribe(lambda smp: (got.append(smp), clock.sleep(0.013)))  # every tick costs 13 ms
    s.run(max_ticks=200)
    assert len(got) == 200 and s.skipped_ticks == 0
    t0 = s.t0
    assert t0 is not None
    for smp in got:
        assert smp.monotonic_s == pytest.approx(t0 + smp.tick * 0.5, abs=1e-9)
    # A sleep(interval) loop would now be 200 * 13 ms = 2.6 s late; this one is on time.
    assert got[-1].monotonic_s == pytest.approx(t0 + 200 * 0.5, abs=1e-9)


def test_a_slow_tick_skips_missed_slots_then_returns_to_the_grid() -> None:
    clock = FakeClock()
    s = bare_sampler(0.5, clock)
    got: list[TelemetrySample] = []

    def slow_at_ten(smp: TelemetrySample) -> None:
        got.append(smp)
        if smp.tick == 10:
            clock.sleep(1.3)  # overruns tick 11's slot entirely and part of tick 12's

    s.subscribe(slow_at_ten)
    s.run(max_ticks=40)
    t0 = s.t0
    assert t0 is not None
    ticks = [smp.tick for smp in got]
    assert 11 not in ticks and ticks[:10] == list(range(1, 11)) and ticks[10] == 12
    assert s.skipped_ticks == 1
    late = next(smp for smp in got if smp.tick == 12)
    assert late.monotonic_s == pytest.approx(t0 + 6.3)  # ran at once, not in a burst
    assert late.scheduled_s == pytest.approx(t0 + 6.0)
    for smp in got:
        if smp.tick != 12:
            assert smp.monotonic_s == pytest.approx(t0 + smp.tick * 0.5, abs=1e-9)
    assert got[-1].tick == 41  # 40 samples, one slot skipped: no drift after the slow tick


def test_overrun_shorter_than_the_interval_keeps_every_tick() -> None:
    clock = FakeClock()
    s = bare_sampler(0.5, clock)
    got: list[TelemetrySample] = []
    s.subscribe(lambda smp: (got.append(smp), clock.sleep(0.2 if smp.tick == 5 else 0)))
    s.run(max_ticks=20)
    assert [smp.tick for smp in got] == list(range(1, 21))
    assert s.skipped_ticks == 0


def test_real_thread_keeps_the_schedule_after_a_slow_subscriber() -> None:
    s = bare_sampler(0.1)
    got: list[TelemetrySample] = []
    enough = threading.Event()

    def slow_once(smp: TelemetrySample) -> None:
        got.append(smp)
        if smp.tick == 3:
            time.sleep(0.25)
        if len(got) >= 15:
            enough.set()

    s.subscribe(slow_once)
    with s:
        assert enough.wait(10)
    t0 = s.t0
    assert t0 is not None
    ticks = [smp.tick for smp in got]
    assert ticks == sorted(ticks) and 4 not in ticks  # tick 4's slot was lost to the slow one
    for smp in got:
        assert smp.scheduled_s == pytest.approx(t0 + smp.tick * 0.1, abs=1e-9)
    lateness = [smp.monotonic_s - smp.scheduled_s for smp in got if smp.tick >= 6]
    assert all(x >= -1e-3 for x in lateness)
    assert float(np.median(lateness)) < 0.03 and max(lateness) < 0.15


def test_first_sample_is_one_interval_after_start_with_counters_primed() -> None:
    clock = FakeClock()
    src = CountingSource()
    s = bare_sampler(0.5, clock, extra_sources=[src])
    got: list[TelemetrySample] = []
    s.subscribe(got.append)
    s.run(max_ticks=1)
    assert src.reads == 2  # one priming read, one sample
    assert got[0].tick == 1 and got[0].get("test.reads") == 2.0
    assert got[0].monotonic_s == pytest.approx((s.t0 or 0) + 0.5)


def test_interval_below_100_ms_is_refused() -> None:
    with pytest.raises(ValueError, match=r"at least 0\.1"):
        Sampler(0.05, host=False, process=False, gpus=False)
    with pytest.raises(ValueError):
        Sampler(float("nan"), host=False, process=False, gpus=False)


# -- ring buffer -----------------------------------------------------------------------------------
def test_ring_buffer_wraps_and_reads_oldest_first() -> None:
    ring = RingBuffer(["a", "b"], capacity=5)
    nbytes = ring.nbytes
    assert len(ring.window()) == 0 and ring.latest() is None
    for i in range(12):
        ring.append(float(i), [i * 10.0, math.nan if i % 3 == 0 else -i])
    assert len(ring) == 5 and ring.appended == 12 and ring.nbytes == nbytes
    w = ring.window()
    assert w.timestamps.tolist() == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert w.values["a"].tolist() == [70.0, 80.0, 90.0, 100.0, 110.0]
    assert np.isnan(w.values["b"][2]) and w.values["b"][0] == -7.0  # 9 % 3 == 0 is a gap
    assert ring.window(since=8.5, until=10.0).timestamps.tolist() == [9.0, 10.0]
    assert ring.window(last=2, names=["b"]).values["b"].tolist() == [-10.0, -11.0]
    assert list(ring.window(names=["b"]).values) == ["b"]
    assert ring.latest() == (11.0, pytest.approx(np.array([110.0, -11.0])))
    w.values["a"][0] = -1  # a copy: the buffer is untouched
    assert ring.window().values["a"][0] == 70.0
    with pytest.raises(KeyError):
        ring.window(names=["nope"])


def test_ring_buffer_exactly_full_and_before_full() -> None:
    ring = RingBuffer(["a"], capacity=3)
    ring.append(1.0, [1.0])
    ring.append(2.0, [2.0])
    assert ring.window().values["a"].tolist() == [1.0, 2.0]
    ring.append(3.0, [3.0])
    assert ring.window().values["a"].tolist() == [1.0, 2.0, 3.0]
    ring.append(4.0, [4.0])
    assert ring.window().values["a"].tolist() == [2.0, 3.0, 4.0]


def test_sampler_memory_is_fixed_however_long_it_runs() -> None:
    clock = FakeClock()
    s = bare_sampler(0.1, clock, capacity=50)
    before = s.memory_bytes
    assert before == 50 * (len(s.names) + 1) * 8
    s.run(max_ticks=500)
    assert s.memory_bytes == before
    w = s.window()
    assert len(w) == 50
    assert w.values["test.reads"].tolist() == [float(r) for r in range(452, 502)]
    assert len(s.window(seconds=1.0)) == 11  # the newest and the ten before it


# -- subscribers -----------------------------------------------------------------------------------
def test_a_subscriber_that_raises_is_dropped_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    s = bare_sampler(0.5, clock)
    good: list[TelemetrySample] = []
    bad_calls = []

    def bad(smp: TelemetrySample) -> None:
        bad_calls.append(smp.tick)
        raise RuntimeError("boom")

    s.subscribe(bad)
    s.subscribe(good.append)
    with caplog.at_level(logging.ERROR, logger="hwprof.sampling.sampler"):
        s.run(max_ticks=5)
    assert bad_calls == [1]
    assert [smp.tick for smp in good] == [1, 2, 3, 4, 5]
    assert "dropped" in caplog.text and "boom" in caplog.text


def test_subscription_cancel_and_queue_subscriber() -> None:
    clock = FakeClock()
    s = bare_sampler(0.5, clock)
    q = QueueSubscriber(maxsize=3)
    got: list[int] = []
    sub = s.subscribe(lambda smp: got.append(smp.tick))
    s.subscribe(q)
    s.subscribe(lambda smp: sub.cancel() if smp.tick == 2 else None)
    s.run(max_ticks=6)
    assert got == [1, 2]
    assert [smp.tick for smp in q.drain()] == [4, 5, 6] and q.dropped == 3
    assert q.get(timeout=0.01) is None


def test_a_failing_source_gives_gaps_and_the_sampler_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Flaky(CountingSource):
        def sample(self) -> dict[str, float | None]:
            self.reads += 1
            if self.reads % 2:
                raise OSError("sensor went away")
            return {self.name: 1.0}

    clock = FakeClock()
    s = bare_sampler(0.5, clock, extra_sources=[Flaky("flaky.value"), CountingSource()])
    with caplog.at_level(logging.ERROR):
        s.run(max_ticks=4)
    w = s.window()
    assert np.isnan(w.values["flaky.value"]).tolist() == [False, True, False, True]
    assert w.values["test.reads"].tolist() == [2.0, 3.0, 4.0, 5.0]
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1  # logged once, not every tick


# -- thread life -----------------------------------------------------------------------------------
def test_start_stop_is_clean_and_quick() -> None:
    s = bare_sampler(0.5)
    got = threading.Event()
    s.subscribe(lambda smp: got.set())
    with s:
        assert s.running
        names = [t.name for t in threading.enumerate()]
        assert "hwprof-sampler" in names
        assert got.wait(5)
        began = time.monotonic()
    assert time.monotonic() - began < 0.5  # stop does not wait out the interval
    assert not s.running
    with pytest.raises(RuntimeError, match="runs once"):
        s.start()


def test_stop_from_a_subscriber_does_not_deadlock() -> None:
    s = bare_sampler(0.1)
    seen: list[int] = []
    s.subscribe(lambda smp: (seen.append(smp.tick), s.stop()))
    s.start()
    deadline = time.monotonic() + 5
    while s.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not s.running and seen == [1]
    s.stop()


def test_real_host_sampler_reads_every_metric() -> None:
    with Sampler(0.1, gpus=False) as s:
        q = QueueSubscriber()
        s.subscribe(q)
        first = q.get(timeout=5)
        second = q.get(timeout=5)
    assert first is not None and second is not None
    assert set(second.values) == set(s.names)
    util = second.get("cpu.util_percent")
    assert util is not None and 0.0 <= util <= 100.0
    assert (second.get("host.memory_total_bytes") or 0) > 0
    assert second.get("proc.cpu_percent") is None  # nothing watched


# -- the process tree ------------------------------------------------------------------------------
BUSY_TREE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(0.05)"])
deadline = time.time() + 30
while time.time() < deadline:
    pass
"""


def end_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill a test's process and everything it started."""
    import psutil

    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        kids = []
    for p in [*kids, psutil.Process(proc.pid)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    proc.wait(10)
    psutil.wait_procs(kids, timeout=5)


@pytest.fixture
def busy_tree() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", BUSY_TREE])
    yield proc
    end_tree(proc)


def wait_for(q: QueueSubscriber, cond: object, timeout: float = 15) -> TelemetrySample:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        smp = q.get(timeout=0.5)
        if smp is not None and cond(smp):  # type: ignore[operator]
            return smp
    raise AssertionError("condition not met in time")


def test_watch_process_tree_then_unwatch(busy_tree: subprocess.Popen[bytes]) -> None:
    tree = ProcessTreeBackend(children_refresh_s=0.2)
    with Sampler(0.1, host=False, gpus=False, process=tree) as s:
        q = QueueSubscriber()
        s.subscribe(q)
        s.watch_process(busy_tree.pid)
        assert s.watched_pid == busy_tree.pid
        smp = wait_for(
            q,
            lambda x: (x.get("proc.processes") or 0) >= 2 and (x.get("proc.cpu_percent") or 0) > 40,
        )
        assert (smp.get("proc.rss_bytes") or 0) > 1_000_000
        assert (smp.get("proc.threads") or 0) >= 2
        assert tree.pids() >= {busy_tree.pid}
        s.unwatch_process()
        smp = wait_for(q, lambda x: x.get("proc.cpu_percent") is None)
        assert smp.get("proc.rss_bytes") is None and s.watched_pid is None
    with pytest.raises(ProcessLookupError):
        ProcessTreeBackend().watch(2**22 + 12345)


TWO_CHILDREN = """
import subprocess, sys, threading, time
sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
subprocess.Popen(sleeper)
threading.Thread(target=lambda: subprocess.Popen(sleeper)).start()  # a child of another thread
time.sleep(60)
"""


@pytest.fixture
def two_children() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", TWO_CHILDREN])
    yield proc
    end_tree(proc)


def sample_until_three(backend: ProcessTreeBackend) -> dict[str, float | None]:
    deadline = time.monotonic() + 15
    while True:
        out = backend.sample()
        if out["proc.processes"] == 3 or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


@pytest.mark.skipif(not process_backend.has_child_lists(1), reason="a kernel without child lists")
def test_the_tree_is_listed_without_reading_every_process(
    two_children: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """psutil's children() reads the stat file of every process of the machine at each refresh
    (milliseconds, at 4 Hz beside the workload); the kernel's child lists are a few reads."""
    import psutil

    def scan(*args: object, **kwargs: object) -> list[psutil.Process]:
        raise AssertionError("the whole process table was read")

    backend = ProcessTreeBackend(children_refresh_s=0.0)
    backend.watch(two_children.pid)
    with monkeypatch.context() as patch:
        patch.setattr(psutil.Process, "children", scan)
        out = sample_until_three(backend)
    assert out["proc.processes"] == 3  # the child of the second thread too
    assert backend.pids() >= {two_children.pid}
    assert process_backend.linux_tree(two_children.pid)[0] == two_children.pid


def test_the_portable_tree_listing_finds_the_same(
    two_children: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process_backend, "has_child_lists", lambda pid: False)
    backend = ProcessTreeBackend(children_refresh_s=0.0)
    backend.watch(two_children.pid)
    assert sample_until_three(backend)["proc.processes"] == 3


def test_a_watched_process_that_ends_turns_into_gaps() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    tree = ProcessTreeBackend(children_refresh_s=0.1)
    try:
        tree.watch(proc.pid)
        deadline = time.monotonic() + 10
        while not tree.sample()["proc.rss_bytes"]:  # 0 for a moment while it execs
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert tree.sample()["proc.processes"] == 1
    finally:
        proc.kill()
        proc.wait(10)
    time.sleep(0.15)
    assert all(v is None for v in tree.sample().values())


# -- records for snapshots -------------------------------------------------------------------------
def test_record_is_a_valid_snapshot_block_with_gaps_as_none() -> None:
    class Gappy(CountingSource):
        def sample(self) -> dict[str, float | None]:
            self.reads += 1
            return {self.name: None if self.reads % 2 else float(self.reads)}

    clock = FakeClock()
    s = bare_sampler(0.5, clock, extra_sources=[Gappy("gpu0.power_watts")])
    s.run(max_ticks=6)
    rec = s.record()
    assert rec.sample_count == 6 and rec.interval_seconds == 0.5
    assert rec.series("gpu0.power_watts") == (2.0, None, 4.0, None, 6.0, None)
    info = rec.metric("gpu0.power_watts")
    assert info is not None and info.unit == "W"
    again = TelemetryRecord.model_validate_json(rec.model_dump_json(by_alias=True))
    assert again == rec
    doc = json.loads(rec.model_dump_json(by_alias=True))
    assert doc["schema"] == "hwprof.telemetry/1" and doc["values"]["gpu0.power_watts"][1] is None
    part = rec.between(rec.timestamps_s[1], rec.timestamps_s[3])
    assert part.series("gpu0.power_watts") == (None, 4.0, None)
    assert s.record(since=rec.timestamps_s[4]).sample_count == 2


def test_telemetry_record_refuses_inconsistent_blocks() -> None:
    m = metric_infos(["cpu.util_percent"])
    with pytest.raises(ValueError, match="values for 2 timestamps"):
        TelemetryRecord(
            interval_seconds=0.5, metrics=m, timestamps_s=(1.0, 2.0),
            values={"cpu.util_percent": (1.0,)},
        )
    with pytest.raises(ValueError, match="differ"):
        TelemetryRecord(interval_seconds=0.5, metrics=m, timestamps_s=(), values={})
    with pytest.raises(ValueError, match="backwards"):
        TelemetryRecord(
            interval_seconds=0.5, metrics=m, timestamps_s=(2.0, 1.0),
            values={"cpu.util_percent": (1.0, float("nan"))},
        )
    rec = TelemetryRecord(
        interval_seconds=0.5, metrics=m, timestamps_s=(1.0, 2.0),
        values={"cpu.util_percent": (1.0, float("nan"))},
    )
    assert rec.series("cpu.util_percent") == (1.0, None)


def test_recorder_keeps_a_long_run_in_bounded_memory() -> None:
    clock = FakeClock()
    s = bare_sampler(0.5, clock)
    rec = TelemetryRecorder(s, max_samples=100)
    rec.start()
    s.run(max_ticks=1000)
    block = rec.stop()
    assert rec.decimation == 16 and 50 <= block.sample_count <= 100
    assert block.decimation == 16
    reads = block.series("test.reads")
    # every kept sample is a real tick; 16 ticks apart once thinned
    assert reads[0] == 2.0 and all(b - a == 16 for a, b in itertools.pairwise(reads))
    assert list(block.timestamps_s) == sorted(block.timestamps_s)


def test_recorder_with_context_manager_and_names() -> None:
    clock = FakeClock()
    s = bare_sampler(0.5, clock)
    with TelemetryRecorder(s, names=["test.reads"]) as rec:
        s.run(max_ticks=3)
    block = rec.record()
    assert block.names == ("test.reads",) and block.series("test.reads") == (2.0, 3.0, 4.0)
    with pytest.raises(KeyError):
        TelemetryRecorder(s, names=["nope"])


# -- what metrics mean -----------------------------------------------------------------------------
def test_metric_info_for_every_kind_of_name() -> None:
    core = metric_info("cpu.core12.util_percent")
    assert (core.unit, core.label) == ("%", "CPU 12 utilization")
    gpu = metric_info("gpu3.power_watts")
    assert gpu.unit == "W" and "GPU 3" in gpu.label and gpu.description
    assert metric_info("gpu0.energy_joules").kind == "counter"
    assert metric_info("gpu1.clock_event_reasons").kind == "bitmask"
    assert metric_info("proc.gpu2.memory_bytes").label == "workload memory on GPU 2"
    assert metric_info("host.memory_used_bytes").unit == "B"
    unknown = metric_info("disk.read_bytes_per_second")
    assert unknown.unit == "B/s" and unknown.label == "disk.read_bytes_per_second"


def test_clock_event_reasons_decode() -> None:
    assert clock_event_reason_names(0x4 | 0x40) == ("sw_power_cap", "hw_thermal_slowdown")
    assert clock_event_reason_labels(0x1) == ("idle",)
    assert clock_event_reason_names(0) == ()
    assert clock_event_reason_names(None) == () and clock_event_reason_names(float("nan")) == ()
    assert clock_event_reason_names(4.0) == ("sw_power_cap",)


def test_ring_windows_match_a_plain_list_through_many_wraps() -> None:
    """Every (since, until, last) window equals the same rows kept in a plain list."""
    import random

    from hwprof.sampling.ring import RingBuffer

    rnd = random.Random(7)
    ring = RingBuffer(["a", "b"], capacity=13)
    rows: list[tuple[float, float, float]] = []
    for k in range(60):
        t = float(k)
        rows.append((t, k * 1.0, -k * 1.0))
        ring.append(t, [k * 1.0, -k * 1.0])
        kept = rows[-13:]
        for _ in range(5):
            since = rnd.choice([None, rnd.uniform(-5, 65)])
            until = rnd.choice([None, rnd.uniform(-5, 65)])
            last = rnd.choice([None, rnd.randint(0, 20)])
            want = [r for r in kept if (since is None or r[0] >= since)
                    and (until is None or r[0] <= until)]
            if last is not None:
                want = want[max(0, len(want) - last):] if last else []
            w = ring.window(since=since, until=until, last=last, names=["b"])
            assert w.timestamps.tolist() == [r[0] for r in want]
            assert w.values["b"].tolist() == [r[2] for r in want]
