"""`hwprof monitor`: live CPU, memory, GPU and workload telemetry: terminal, CSV or JSON lines.

In a terminal it shows a table that refreshes every tick, with small bars whose colour changes at
10% and 75% utilization (memory: 10% and 80%), as nvitop does. ``--csv FILE`` records every tick
(the header is fixed at the start from the metric list; each row is flushed as it is written),
``--json`` prints one JSON object per tick to stdout for machines. Ctrl-C, SIGTERM or the end of
``--duration`` stops it with the file complete. A row is written whole or not at all: when the disk
fills up, the file keeps every whole row written before and the command says so and exits with 1.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from hwprof.cli.args import limit_seconds
from hwprof.cli.console import make_console, plain, safe
from hwprof.core.telemetry import clock_event_reason_labels
from hwprof.core.units import NA, fmt_bytes, fmt_num
from hwprof.sampling import MIN_INTERVAL_S, QueueSubscriber, Sampler, TelemetrySample

TIME_COLUMNS = ("time_monotonic_s", "time_unix_s")
MAX_INTERVAL_S = 86_400.0  # a reading a day; beyond that the sampler's clock arithmetic overflows
UTIL_THRESHOLDS = (10.0, 75.0)
MEMORY_THRESHOLDS = (10.0, 80.0)


def register(sub: Any) -> None:
    """Add `monitor` to the CLI."""
    p = sub.add_parser(
        "monitor",
        help="live CPU, memory and GPU telemetry (terminal view, CSV, JSON lines)",
        description="Watch CPU, memory, GPU (NVIDIA, AMD, Intel, Apple) and workload telemetry "
        "live, and record it. "
        "In a terminal: a refreshing table. --csv records every tick to a file; --json prints one "
        "JSON object per tick to stdout. Ctrl-C (or the end of --duration) stops it, leaving the "
        "file complete.",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=0.5,
        metavar="S",
        help=f"seconds between readings, at least {MIN_INTERVAL_S} (default 0.5)",
    )
    p.add_argument(
        "--duration", "--seconds", dest="seconds", type=limit_seconds, default=None, metavar="S",
        help="stop after S seconds (--seconds is the old name)",
    )
    p.add_argument("--csv", metavar="FILE", help="record every tick to this CSV file")
    p.add_argument("--force", action="store_true", help="let --csv overwrite an existing file")
    p.add_argument(
        "--json", action="store_true", help="print one JSON object per tick to stdout"
    )
    p.add_argument(
        "--pid", type=int, default=None, help="also watch this process and its children"
    )
    p.set_defaults(handler=run_monitor)


def _fail(message: str, code: int = 2) -> int:
    print(f"hwprof monitor: {safe(message)}", file=sys.stderr)
    return code


def run_monitor(args: argparse.Namespace) -> int:
    """Check the arguments, then sample until told to stop."""
    interval = args.interval
    if not math.isfinite(interval) or interval < MIN_INTERVAL_S:
        return _fail(f"--interval must be at least {MIN_INTERVAL_S} s (got {interval:g})")
    if interval > MAX_INTERVAL_S:
        return _fail(f"--interval must be at most {MAX_INTERVAL_S:g} s, a day (got {interval:g})")
    if args.pid is not None and args.pid < 0:
        return _fail(f"--pid {args.pid}: a process id is 0 or more (see `ps` or the task "
                     "manager)")
    csv_file: IO[str] | None = None
    if args.csv is not None:
        if os.path.isdir(args.csv):
            return _fail(f"cannot write the CSV file {args.csv}: it is a directory")
        from hwprof.core.outputs import OutputPathError, check_output

        try:  # never over an existing file (a snapshot, say) unless --force
            check_output(args.csv, force=args.force, flag="--csv")
        except OutputPathError as err:
            return _fail(f"cannot write the CSV file: {err}")
        try:
            csv_file = open(args.csv, "w", newline="", encoding="utf-8")  # noqa: SIM115
        except OSError as err:
            return _fail(f"cannot write the CSV file {args.csv}: {err.strerror or err}")
    try:
        return _monitor(args, csv_file)
    finally:
        if csv_file is not None:
            csv_file.close()


class CsvWriteError(Exception):
    """The CSV file took no more rows (a full disk, a quota, a file size limit)."""


class CsvRows:
    """The CSV file, written a whole row at a time straight to its descriptor.

    Each row is formatted first, then written with ``os.write`` until all of it is in the file (so
    a reader sees it at once). If the disk fills up part way, the file is cut back to where the
    row began: a reader never finds half a row. The text wrapper that opened the file is never
    written through, so closing it has nothing left to flush (and nothing left to fail).
    """

    def __init__(self, fh: IO[str]) -> None:
        self._fd = fh.fileno()
        self._size = os.lseek(self._fd, 0, os.SEEK_CUR)
        self.rows = 0

    def write(self, cells: list[str], *, header: bool = False) -> None:
        """Append one row; CsvWriteError (the file as it was before) when it does not fit."""
        text = io.StringIO()
        csv.writer(text).writerow(cells)
        data = memoryview(text.getvalue().encode("utf-8"))
        written = 0
        try:
            while written < len(data):
                n = os.write(self._fd, data[written:])
                if n <= 0:
                    raise OSError(28, "No space left on device")
                written += n
        except OSError as err:
            with contextlib.suppress(OSError):  # cutting a file back frees space: it works
                os.ftruncate(self._fd, self._size)
                os.lseek(self._fd, self._size, os.SEEK_SET)
            raise CsvWriteError(err.strerror or str(err)) from err
        self._size += written
        if not header:
            self.rows += 1


def _last_tick(interval: float, seconds: float) -> int:
    """How many ticks fall within ``seconds`` (tick k is read at k * interval)."""
    return math.floor(seconds / interval + 1e-6)


def _monitor(args: argparse.Namespace, csv_file: IO[str] | None) -> int:
    sampler = Sampler(args.interval, process=args.pid is not None)
    sink: CsvRows | None = None
    try:
        if args.pid is not None:
            try:
                sampler.watch_process(args.pid)
            except (ProcessLookupError, ValueError, OverflowError):
                return _fail(f"--pid {args.pid}: no such process")
        err = make_console(stderr=True)
        summary = sampler.gpu_summary("monitored")
        if summary:  # a vendor's GPUs cannot be read: said once, per vendor
            tail = "" if sampler.gpu_count else "; monitoring the CPU"
            err.print(plain(f"hwprof monitor: {summary}{tail}"), soft_wrap=True)
        if csv_file is not None:
            sink = CsvRows(csv_file)
            sink.write([*TIME_COLUMNS, *sampler.names], header=True)
        out = make_console()
        live_view = not args.json and out.is_terminal
        lines = not args.json and not live_view and csv_file is None
        queue = QueueSubscriber(maxsize=4096)
        sampler.subscribe(queue)
        deadline: float | None = None
        last_due = 0.0  # when the last tick within --duration is read

        def emit(sample: TelemetrySample) -> None:
            if sink is not None:
                sink.write(_csv_row(sample, sampler.names))
            if args.json:
                print(json.dumps(_json_row(sample, sampler.names), allow_nan=False), flush=True)
            elif lines:
                print(_plain_line(sample, sampler), flush=True)

        with _stop_on_signals() as stopped:
            sampler.start()
            with _live(out, live_view) as live:
                done = last_seen = False
                while not done and not stopped.is_set():
                    sample = queue.get(timeout=0.1)
                    if deadline is None and sampler.t0 is not None and args.seconds is not None:
                        deadline = sampler.t0 + args.seconds
                        last_due = sampler.t0 + args.interval * _last_tick(args.interval,
                                                                           args.seconds)
                        last_seen = last_due <= sampler.t0  # no tick falls within: none to wait
                    if sample is not None:
                        if deadline is not None and sample.scheduled_s > deadline + 1e-6:
                            done = True  # read after the end: not part of the recording
                            continue
                        emit(sample)
                        if live is not None:
                            rows = sink.rows if sink is not None else 0
                            live.update(render_view(sample, sampler, args.csv, rows), refresh=True)
                        last_seen = last_seen or (deadline is not None
                                                  and sample.scheduled_s >= last_due - 1e-6)
                    if deadline is not None:
                        now = time.monotonic()
                        # stop on time, with the last reading due in the time; a sampler that
                        # fell behind is not waited for long (nor an interval longer than it all)
                        done = (last_seen and now >= deadline) or \
                            now > deadline + min(2 * args.interval, 5.0)
            sampler.stop()
            for sample in queue.drain():  # what was read before the stop: keep it
                if deadline is None or sample.scheduled_s <= deadline + 1e-6:
                    emit(sample)
        if sink is not None:
            err.print(plain(f"hwprof monitor: wrote {sink.rows} rows to {args.csv}"),
                      soft_wrap=True)
        if stopped.signum is not None:
            return 128 + stopped.signum
        return 0
    except CsvWriteError as problem:
        sampler.stop()
        rows = sink.rows if sink is not None else 0
        return _fail(f"could not write to the CSV file {args.csv}: {problem}. It keeps the "
                     f"{rows} whole rows written before; free some space and run again.", code=1)
    except BrokenPipeError:  # `hwprof monitor --json | head`: the reader left
        _quiet_stdout()
        return 0
    except OSError as problem:  # stdout itself failed (`--json > file` on a full disk)
        sampler.stop()
        _quiet_stdout()
        return _fail(f"could not write to standard output: {problem.strerror or problem}",
                     code=1)
    finally:
        sampler.stop()


def _quiet_stdout() -> None:
    """Point stdout at the null device, so Python's own flush at exit has nothing to fail on."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


class _StopFlag(threading.Event):
    signum: int | None = None


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[_StopFlag]:
    """Turn SIGINT/SIGTERM into a flag the loop checks, so a row is never cut in half."""
    flag = _StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        flag.signum = signum
        flag.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _live(console: Console, enabled: bool) -> Iterator[Live | None]:
    if not enabled:
        yield None
        return
    with Live(
        Text("hwprof monitor: first reading in one interval…"),
        console=console,
        auto_refresh=False,
        transient=False,
    ) as live:
        yield live


# -- rows for machines
# ---------------------------------------------------------------------------------------------
def _number(value: float | None) -> float | int | None:
    """A value as JSON/CSV should show it: integers without ".0", others to 4 decimals."""
    if value is None:
        return None
    if float(value).is_integer():
        return int(value)
    return round(float(value), 4)


def _csv_row(sample: TelemetrySample, names: tuple[str, ...]) -> list[str]:
    cells = [f"{sample.monotonic_s:.6f}", f"{sample.unix_s:.6f}"]
    for name in names:
        v = _number(sample.values.get(name))
        cells.append("" if v is None else str(v))
    return cells


def _json_row(sample: TelemetrySample, names: tuple[str, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "time_monotonic_s": round(sample.monotonic_s, 6),
        "time_unix_s": round(sample.unix_s, 6),
    }
    for name in names:
        row[name] = _number(sample.values.get(name))
    return row


def _plain_line(sample: TelemetrySample, sampler: Sampler) -> str:
    """One grep-able line per tick, for a pipe without --json or --csv."""
    v = sample.values
    parts = [
        f"t={sample.monotonic_s - (sampler.t0 or sample.monotonic_s):.1f}s",
        f"cpu={fmt_num(v.get('cpu.util_percent'), '{:.1f}')}%",
        f"mem={fmt_bytes(v.get('host.memory_used_bytes'))}",
    ]
    for i in _gpu_indexes(sampler.names):
        p = f"gpu{i}."
        parts.append(
            f"gpu{i}={fmt_num(v.get(p + 'util_percent'), '{:.0f}')}%"
            f"/{fmt_bytes(v.get(p + 'memory_used_bytes'))}"
            f"/{fmt_num(v.get(p + 'power_watts'), '{:.0f}')}W"
        )
    if sampler.watched_pid is not None:
        parts.append(f"proc_cpu={fmt_num(v.get('proc.cpu_percent'), '{:.0f}')}%")
    return " ".join(parts)


# -- the terminal view
# ---------------------------------------------------------------------------------------------
def load_style(percent: float | None, thresholds: tuple[float, float] = UTIL_THRESHOLDS) -> str:
    """Nvitop's colours: light load green, moderate yellow, heavy red; no reading dim."""
    if percent is None:
        return "dim"
    if percent < thresholds[0]:
        return "green"
    if percent < thresholds[1]:
        return "yellow"
    return "red"


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(
    percent: float | None, width: int = 20, thresholds: tuple[float, float] = UTIL_THRESHOLDS
) -> Text:
    """A small horizontal bar, coloured by load; an empty dim frame when there is no reading."""
    if percent is None:
        return Text("·" * width, style="dim")
    filled = max(0.0, min(1.0, percent / 100.0)) * width
    full = int(filled)
    part = _EIGHTHS[int((filled - full) * 8)] if full < width else ""
    body = "█" * full + part.strip()
    return Text.assemble(
        (body, load_style(percent, thresholds)), ("·" * (width - len(body)), "dim")
    )


def _pct(
    value: float | None,
    thresholds: tuple[float, float] = UTIL_THRESHOLDS,
    *,
    style_value: float | None = None,
    fmt: str = "{:5.1f} %",
) -> Text:
    """A percentage coloured by load (``style_value`` picks the colour when it differs)."""
    shade = value if style_value is None else style_value
    return Text(NA if value is None else fmt.format(value), style=load_style(shade, thresholds))


def _gpu_indexes(names: tuple[str, ...]) -> list[int]:
    return sorted(
        {int(n[3 : n.index(".")]) for n in names if n.startswith("gpu") and n[3].isdigit()}
    )


def _cpu_indexes(names: tuple[str, ...]) -> list[int]:
    prefix, suffix = "cpu.core", ".util_percent"
    return [
        int(n[len(prefix) : -len(suffix)])
        for n in names
        if n.startswith(prefix) and n.endswith(suffix)
    ]


def _count(value: float | None, one: str, many: str) -> str | None:
    if value is None:
        return None
    return f"{value:.0f} {one if value == 1 else many}"


def _join(*parts: str | None) -> str:
    return " · ".join(p for p in parts if p)


def _unit(value: float | None, fmt: str, unit: str) -> str | None:
    return None if value is None else f"{fmt.format(value)} {unit}"


def render_view(
    sample: TelemetrySample, sampler: Sampler, csv_path: str | None = None, rows: int = 0
) -> Group:
    """The whole terminal view for one sample."""
    v = sample.values
    names = sampler.names
    title = (
        f"hwprof monitor · every {sampler.interval_s:g} s · "
        f"{time.strftime('%H:%M:%S', time.localtime(sample.unix_s))} · Ctrl-C to stop"
    )
    t = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    t.add_column("what", style="bold", no_wrap=True)
    t.add_column("bar", no_wrap=True)
    t.add_column("value", justify="right", no_wrap=True)
    t.add_column("details", overflow="fold")

    cpu = v.get("cpu.util_percent")
    freq = v.get("cpu.freq_mhz")
    loads = [v.get(f"host.load_{m}min") for m in (1, 5, 15)]
    t.add_row(
        "CPU",
        bar(cpu),
        _pct(cpu),
        _join(
            _unit(freq / 1000 if freq is not None else None, "{:.2f}", "GHz"),
            _unit(v.get("cpu.temperature_c"), "{:.0f}", "°C"),
            _unit(v.get("cpu.package_power_watts"), "{:.1f}", "W"),
            "load " + " ".join(fmt_num(x, "{:.2f}") for x in loads)
            if "host.load_1min" in names
            else None,
        ),
    )
    cores = _cpu_indexes(names)
    if cores:
        grid = Table.grid(padding=(0, 2))
        per_line = 4
        for _ in range(min(per_line, len(cores))):
            grid.add_column(no_wrap=True)
        cells = []
        for c in cores:
            u = v.get(f"cpu.core{c}.util_percent")
            cells.append(
                Text.assemble(
                    (f"{c:>3} ", "dim"),
                    bar(u, 10),
                    (f" {NA if u is None else f'{u:3.0f}%'}", load_style(u)),
                )
            )
        for i in range(0, len(cells), per_line):
            grid.add_row(*cells[i : i + per_line])
        t.add_row("cores", "", "", grid)

    used = v.get("host.memory_used_bytes")
    total = v.get("host.memory_total_bytes")
    mem_pct = 100.0 * used / total if used is not None and total else None
    swap_used = v.get("host.swap_used_bytes")
    swap_total = v.get("host.swap_total_bytes")
    t.add_row(
        "memory",
        bar(mem_pct, thresholds=MEMORY_THRESHOLDS),
        _pct(mem_pct, MEMORY_THRESHOLDS),
        _join(
            f"{fmt_bytes(used)} / {fmt_bytes(total)} used",
            f"swap {fmt_bytes(swap_used)} / {fmt_bytes(swap_total)}" if swap_total else None,
        ),
    )

    for i in _gpu_indexes(names):
        p = f"gpu{i}."
        util = v.get(p + "util_percent")
        if all(v.get(n) is None for n in names if n.startswith(p)):
            lost = Text("no reading (GPU lost?)", style="red")
            t.add_row(f"GPU {i}", bar(None), Text(NA, style="dim"), lost)
            continue
        power, limit = v.get(p + "power_watts"), v.get(p + "power_limit_watts")
        power_text = None
        if power is not None:
            power_text = f"{power:.0f} W" + (f" / {limit:.0f} W" if limit else "")
        tx, rx = v.get(p + "pcie_tx_bytes_per_second"), v.get(p + "pcie_rx_bytes_per_second")
        pcie = None
        if tx is not None or rx is not None:
            pcie = f"PCIe TX {fmt_bytes(tx)}/s RX {fmt_bytes(rx)}/s"
        t.add_row(
            f"GPU {i}",
            bar(util),
            _pct(util),
            _join(
                _unit(v.get(p + "memory_util_percent"), "{:.0f}", "% mem ctl"),
                _unit(v.get(p + "temperature_c"), "{:.0f}", "°C"),
                power_text,
                _unit(v.get(p + "sm_clock_mhz"), "{:.0f}", "MHz SM"),
                _unit(v.get(p + "memory_clock_mhz"), "{:.0f}", "MHz mem"),
                _unit(v.get(p + "fan_percent"), "{:.0f}", "% fan"),
                pcie,
            ),
        )
        g_used, g_total = v.get(p + "memory_used_bytes"), v.get(p + "memory_total_bytes")
        g_pct = 100.0 * g_used / g_total if g_used is not None and g_total else None
        reasons = clock_event_reason_labels(v.get(p + "clock_event_reasons"))
        t.add_row(
            "  memory",
            bar(g_pct, thresholds=MEMORY_THRESHOLDS),
            _pct(g_pct, MEMORY_THRESHOLDS),
            _join(
                f"{fmt_bytes(g_used)} / {fmt_bytes(g_total)}",
                "clocks held by: " + ", ".join(reasons) if reasons else None,
            ),
        )

    if sampler.watched_pid is not None:
        pc = v.get("proc.cpu_percent")
        n_cpus = max(1, len(cores))
        gpu_mem = [
            f"GPU{i} {fmt_bytes(v.get(f'proc.gpu{i}.memory_bytes'))}"
            for i in _gpu_indexes(names)
            if v.get(f"proc.gpu{i}.memory_bytes") is not None
        ]
        t.add_row(
            f"pid {sampler.watched_pid}",
            bar(pc / n_cpus if pc is not None else None),
            _pct(pc, style_value=pc / n_cpus if pc is not None else None, fmt="{:5.0f} %"),
            _join(
                f"RSS {fmt_bytes(v.get('proc.rss_bytes'))}",
                _unit(v.get("proc.threads"), "{:.0f}", "threads"),
                _count(v.get("proc.processes"), "process", "processes"),
                *gpu_mem,
            ),
        )
    # The missing driver was said once on stderr at the start; the other gaps are said here.
    footer = [plain(n, style="dim") for n in sampler.notes if not n.startswith("NVIDIA:")]
    if csv_path is not None:
        footer.append(plain(f"recording to {csv_path} ({rows} rows)", style="dim"))
    return Group(t, *footer)
