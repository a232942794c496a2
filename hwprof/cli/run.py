"""`hwprof run WORKLOAD`: one real TensorFlow workload in its own process, with honest numbers.

Progress goes to stderr (a bar in a terminal; elsewhere a plain line a second, easy to grep), the
result to stdout (a table, or one JSON document with ``--json``). Exit codes: 0 the run finished,
1 it failed, 2 bad arguments, 130 cancelled with Ctrl-C (the worker is ended, the partial result
is reported).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from hwprof.cli.args import duration_seconds, flag_of, limit_seconds
from hwprof.cli.console import make_console, plain, run_interruptibly, safe
from hwprof.core import events
from hwprof.core.catalog import WORKLOADS, get_workload
from hwprof.core.outputs import OutputPathError, check_output
from hwprof.core.progress import RunProgress
from hwprof.core.results import RunResult
from hwprof.core.snapshot import (
    SUFFIXES,
    SUFFIXES_TEXT,
    SnapshotRun,
    append_run,
    load_snapshot,
    new_snapshot,
    save_snapshot,
)
from hwprof.core.snapshot_io import SnapshotError
from hwprof.core.spec import (
    ALL_PRECISIONS,
    DATA_SOURCES,
    DEFAULT_TRACE_STEPS,
    PIPELINE_WORKLOADS,
    RUNTIMES,
    SCENARIOS,
    RunSpec,
    validation_problems,
)
from hwprof.core.units import NA, fmt_bytes, fmt_count, fmt_flops, fmt_rate, fmt_seconds
from hwprof.services.runs import (
    DEFAULT_STALL_SECONDS,
    DeviceError,
    check_device,
    execute_run,
    tflite_rows,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
AUTO_NAME = Path("<data folder>")  # --save without a file name


def auto_snapshot_path(spec: RunSpec) -> Path:
    """A new file in the data folder named by host, workload and time.

    For example ``vm-matmul-20261124-134551.hwprof`` (gzip-compressed JSON).
    """
    from hwprof.services.snapshots import new_snapshot_path

    return new_snapshot_path(spec.workload)


def register(sub: Any) -> None:
    """Add `run` to the CLI."""
    p = sub.add_parser(
        "run",
        help="run a TensorFlow workload and measure it",
        description="Run one real TensorFlow workload (training or inference) on one device, in "
        "its own process, and report throughput with its spread, FLOP/s against the device's "
        "peak, latency percentiles, memory and energy. `hwprof run --list` lists the workloads.",
    )
    p.add_argument("workload", nargs="?", help="the workload (see --list)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--device", default="cpu", help='"cpu", "gpu:N" or "tpu:N" (default cpu)')
    p.add_argument("--mode", choices=("train", "infer"), default=None, help="default train")
    p.add_argument("--batch-size", type=int, default=None, help="default: the workload's")
    p.add_argument(
        "--size", type=int, default=None, help="the workload's size knob (see --list)"
    )
    p.add_argument("--precision", choices=ALL_PRECISIONS, default="fp32",
                   type=lambda v: v.replace("-", "_").lower(),
                   help="tf: fp32, mixed_float16, mixed_bfloat16; tflite: fp32, fp16 (float16 "
                   "weights), int8_dynamic (dynamic-range), int8 (full integer, calibrated)")
    p.add_argument("--runtime", choices=RUNTIMES, default="tf",
                   help="inference: tf (a frozen TensorFlow graph) or tflite (the model "
                   "converted to TensorFlow Lite, run by its interpreter with XNNPACK)")
    p.add_argument("--delegate", choices=("xnnpack", "edgetpu"), default="xnnpack",
                   help="with --runtime tflite: XNNPACK on the CPU (default), or a Coral Edge "
                   "TPU (needs libedgetpu, edgetpu_compiler and --precision int8; `hwprof "
                   "detect` lists what is here)")
    p.add_argument("--xla", action=argparse.BooleanOptionalAction, default=False,
                   help="compile the step with XLA (jit_compile); default off")
    p.add_argument("--intra-threads", type=int, default=None, help="TensorFlow intra-op threads")
    p.add_argument("--inter-threads", type=int, default=None, help="TensorFlow inter-op threads")
    p.add_argument("--duration", type=duration_seconds, default=None, metavar="S",
                   help="longest timed phase in seconds (default 10; ends sooner once steady)")
    p.add_argument("--steps", type=int, default=None, help="exactly this many timed steps")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps (default 3)")
    p.add_argument("--scenario", choices=SCENARIOS, default="offline",
                   help="inference: offline (throughput) or single-stream (batch 1, latency)")
    p.add_argument("--no-steady-stop", action="store_true",
                   help="run the whole duration even once throughput is steady")
    p.add_argument("--timeout", type=limit_seconds, default=None, metavar="S",
                   help="give up after S seconds in all (default: duration + 600)")
    p.add_argument("--replicas", type=int, default=None, metavar="N",
                   help="train data-parallel on N devices of this machine with "
                   "tf.distribute.MirroredStrategy (N logical CPU devices, or GPUs from --device "
                   "on); --batch-size is per replica")
    p.add_argument("--cluster", default=None, metavar="HOST:PORT,...",
                   help="train across machines with tf.distribute.MultiWorkerMirroredStrategy: "
                   "every worker's host:port, the same list on every node (task 0 is the chief: "
                   "it gathers every node's result into one snapshot, on the first port above "
                   "its own that the list does not use); every node needs the same secret in "
                   "HWPROF_CLUSTER_SECRET or --cluster-secret-file")
    p.add_argument("--task-index", type=int, default=None, metavar="I",
                   help="with --cluster: this node's place in the list (0 = chief)")
    p.add_argument("--peer-timeout", type=float, default=60.0, metavar="S",
                   help="with --cluster: a peer silent this long fails the run (default 60)")
    p.add_argument("--gather-timeout", type=float, default=120.0, metavar="S",
                   help="with --cluster: how long the chief waits for the other nodes' results "
                   "after its own run (default 120)")
    p.add_argument("--cluster-secret-file", type=Path, default=None, metavar="FILE",
                   help="with --cluster: a file whose first line is the secret every node shares "
                   "(default: the HWPROF_CLUSTER_SECRET environment variable)")
    p.add_argument("--trace", type=int, nargs="?", const=DEFAULT_TRACE_STEPS, default=None,
                   metavar="STEPS",
                   help="after the timed steps, trace STEPS more (default "
                   f"{DEFAULT_TRACE_STEPS}) with TensorFlow's profiler and show where the time "
                   "goes: top ops, categories, the step split and a verdict")
    p.add_argument("--trace-out", type=Path, default=None, metavar="FILE.json.gz",
                   help="with --trace: write the trace as Chrome trace JSON (Perfetto, "
                   "TensorBoard, chrome://tracing open it); an existing FILE is refused unless "
                   "--force")
    p.add_argument("--data", choices=DATA_SOURCES, default="synthetic",
                   help="synthetic (default): a fixed batch on the device, so the input never "
                   "hides the hardware; pipeline: a tf.data pipeline decoding and augmenting JPEG "
                   f"images on the CPU every step ({', '.join(PIPELINE_WORKLOADS)})")
    p.add_argument("--pipeline-threads", type=int, default=None, metavar="N",
                   help="with --data pipeline: the pipeline's threads and batches prefetched "
                   "(default tf.data.AUTOTUNE)")
    p.add_argument("--pipeline-source-size", type=int, default=None, metavar="PX",
                   help="with --data pipeline: side of the JPEG images it decodes, cropped to "
                   "the image side (default twice that side; bigger costs more to decode)")
    p.add_argument("--json", action="store_true",
                   help="print the spec and result as JSON (with --trace: the summary, without "
                   "the raw trace: --trace-out or --save keep that)")
    p.add_argument("--save", type=Path, metavar="FILE", nargs="?", const=AUTO_NAME,
                   help="save a new snapshot (*.hwprof, *.hwprof.json[.gz]) with this run; "
                   "without FILE, into hwprof's data folder (see `hwprof snapshots`); an "
                   "existing FILE is refused unless --force")
    p.add_argument("--append", type=Path, metavar="FILE",
                   help="add this run to a snapshot (made if it does not exist)")
    p.add_argument("--force", action="store_true",
                   help="let --save overwrite an existing snapshot")
    p.add_argument("--verbose", action="store_true", help="show the worker's stderr on failure")
    p.set_defaults(handler=run_command)


def _usage(message: str) -> int:
    print(f"hwprof run: {safe(message)}", file=sys.stderr)
    return EXIT_USAGE


def list_workloads(as_json: bool) -> int:
    """Print the workload catalogue."""
    if as_json:
        print(json.dumps([w.model_dump() for w in WORKLOADS], indent=2))
        return EXIT_OK
    t = Table(title="workloads", title_justify="left", show_lines=False)
    for col in ("name", "modes", "batch", "size (default)", "what it is"):
        t.add_column(col, overflow="fold")
    for w in WORKLOADS:
        t.add_row(w.name, ", ".join(w.modes), str(w.default_batch_size),
                  f"{w.size_label} ({w.default_size})", w.description)
    make_console().print(t)
    return EXIT_OK


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """The RunSpec the flags describe (ValidationError / ValueError when they are bad)."""
    info = get_workload(args.workload)
    mode = args.mode or ("train" if "train" in info.modes else info.modes[0])
    if args.runtime == "tflite" and args.mode is None:
        mode = "infer"  # TFLite serves a model: inference is the only mode it has
    if args.scenario == "single-stream" and args.mode is None:
        mode = "infer"
    fields: dict[str, Any] = {
        "workload": args.workload,
        "mode": mode,
        "device": args.device,
        "batch_size": args.batch_size,
        "size": args.size,
        "precision": args.precision,
        "runtime": args.runtime,
        "delegate": args.delegate,
        "xla": args.xla,
        "intra_op_threads": args.intra_threads,
        "inter_op_threads": args.inter_threads,
        "scenario": args.scenario,
    }
    if args.steps is not None:
        fields["steps"] = args.steps
        fields["duration_seconds"] = args.duration  # None: the step count alone ends it
    elif args.duration is not None:
        fields["duration_seconds"] = args.duration
    if args.warmup is not None:
        fields["warmup_steps"] = args.warmup
    if args.no_steady_stop:
        fields["steady_cv"] = None
    if args.trace is not None:
        fields["trace_steps"] = args.trace
    if args.data != "synthetic":
        fields["data"] = args.data
    if args.pipeline_threads is not None:
        fields["pipeline_threads"] = args.pipeline_threads
    if args.pipeline_source_size is not None:
        fields["pipeline_source_size"] = args.pipeline_source_size
    if args.replicas is not None:
        fields["replicas"] = args.replicas
    if args.cluster is not None:
        fields["cluster"] = tuple(n.strip() for n in args.cluster.split(",") if n.strip())
        fields["task_index"] = args.task_index
    elif args.task_index is not None:
        raise ValueError("--task-index goes with --cluster")
    return RunSpec(**fields)


def _validation_message(err: ValidationError) -> str:
    return "; ".join(f"{flag_of(where)}: {msg}" if where else msg
                     for where, msg in validation_problems(err))


class ProgressView:
    """Turns worker events into a progress bar (terminal) or plain lines (anything else)."""

    def __init__(self, spec: RunSpec, enabled: bool) -> None:
        self.spec = spec
        self.console = make_console(stderr=True)
        self.tty = self.console.is_terminal
        self.enabled = enabled
        self.run = RunProgress(spec)
        self.last_line = 0.0
        self.progress: Progress | None = None
        self.task: Any = None
        if enabled and self.tty:
            # the info field shows what the worker says (TensorFlow's device name): never markup
            self.progress = Progress(
                TextColumn("{task.description}", markup=False), BarColumn(),
                TextColumn("{task.fields[info]}", markup=False),
                TimeElapsedColumn(), console=self.console, transient=True,
            )
            self.task = self.progress.add_task("starting", total=None, info="importing TensorFlow")
            self.progress.start()

    def stop(self) -> None:
        """Remove the bar."""
        if self.progress is not None:
            self.progress.stop()

    def _say(self, text: str) -> None:
        if self.enabled and not self.tty:
            print(f"hwprof run: {safe(text)}", file=sys.stderr, flush=True)

    def on_event(self, event: dict[str, Any]) -> None:
        """One worker event (called on the run's thread)."""
        typed = events.parse(event)
        if typed is None:
            return
        run = self.run
        run.update(typed)  # the accumulator the window's progress views use too
        p, t = self.progress, self.task
        if isinstance(typed, events.Ready):
            self._say(f"TensorFlow {typed.tensorflow_version} on {typed.tf_device}; "
                      "building and compiling")
            if p:
                p.update(t, description="compiling", info=safe(typed.tf_device))
        elif isinstance(typed, events.Compiled):
            self._say(f"first step took {fmt_seconds(typed.time_to_first_step_s)}")
            if p:
                p.update(t, description="warming up", info="")
        elif isinstance(typed, events.Steps):
            text = f"{run.steps} steps, {_rate(run.rate, self.spec)}"
            if p:
                if self.spec.steps:
                    p.update(t, description="measuring", total=self.spec.steps,
                             completed=run.steps, info=text)
                else:
                    total = self.spec.duration_seconds or 1.0
                    p.update(t, description="measuring", total=total,
                             completed=min(run.timed_s, total), info=text)
            now = time.monotonic()
            if now - self.last_line >= 1.0:
                self.last_line = now
                self._say(f"step {run.steps:>6}  {text}")


def _rate(value: float | None, spec: RunSpec) -> str:
    if value is None:
        return NA
    if spec.info.throughput_unit == "bytes":
        return fmt_rate(value, "B/s")
    return fmt_count(value, f"{spec.info.sample_label}/s")


def result_table(spec: RunSpec, result: RunResult) -> Table:
    """The result, one fact a row."""
    t = Table(title=f"hwprof run: {spec.label()}", title_justify="left", show_header=False,
              box=None, pad_edge=False)
    t.add_column("what", style="bold", no_wrap=True)
    t.add_column("value", overflow="fold")
    status = result.status if result.ok else f"{result.status.upper()}: {result.reason}"
    t.add_row("status", plain(status))
    rep = result.report
    if rep is not None:
        t.add_row("TensorFlow", plain(f"{rep.tensorflow_version or NA} on {rep.tf_device or NA}"))
        t.add_row("first step", f"{fmt_seconds(rep.time_to_first_step_s)} (tracing, compilation; "
                  f"not timed), then {rep.warmup_steps} warm-up steps")
        timed = sum(rep.steps.seconds)
        why = {"steady": "throughput steady", "duration": "time up", "steps": "step count"}
        stop = why.get(rep.stop_reason or "", "stopped early")
        t.add_row("timed", f"{len(rep.steps)} steps in {timed:.2f} s ({stop})")
        if rep.tflite is not None:
            for what, text in tflite_rows(rep.tflite):
                t.add_row(what, plain(text))
    if result.throughput_per_second is not None:
        t.add_row("throughput", _rate(result.throughput_per_second, spec))
    s = result.step_throughput
    if s is not None:
        stderr = _rate(s.stderr, spec) if s.stderr is not None else NA
        t.add_row("  per step", f"median {_rate(s.median, spec)}, IQR {_rate(s.q1, spec)} – "
                  f"{_rate(s.q3, spec)}, std. error {stderr}, jitter {_rate(s.jitter, spec)}")
    if result.latency_s:
        latency = "  ".join(f"{k} {fmt_seconds(v)}" for k, v in result.latency_s.items())
        t.add_row("latency", latency)
    if result.achieved_flops is not None:
        text = fmt_flops(result.achieved_flops)
        share = result.peak_share()
        if share.basis is not None:
            text += f" = {share.text}"
        t.add_row("compute", plain(text))
        if share.note:
            t.add_row("", plain(share.note))
    if rep is not None:
        t.add_row("memory", plain(f"{fmt_bytes(rep.peak_memory_bytes)} peak "
                                  f"({rep.memory_source or NA})"))
    if result.ok or result.energy_per_sample_joules is not None:
        if result.energy_per_sample_joules is not None:
            t.add_row("energy", plain(f"{result.energy_per_sample_joules:.4g} J per sample "
                                      f"({result.energy_source})"))
        else:
            t.add_row("energy", "n/a (no power or energy reading for this device here)")
    if rep is not None and rep.final_loss is not None and spec.mode == "train":
        t.add_row("final loss", f"{rep.final_loss:.4g}")
    for note in rep.notes if rep else ():
        t.add_row("note", plain(note))
    return t


def run_command(args: argparse.Namespace) -> int:
    """Validate, run, report."""
    if args.list:
        return list_workloads(args.json)
    if not args.workload:
        return _usage("name a workload (hwprof run --list shows them)")
    try:
        spec = spec_from_args(args)
    except KeyError as err:
        return _usage(str(err.args[0]))
    except ValidationError as err:
        return _usage(_validation_message(err))
    except ValueError as err:
        return _usage(str(err))
    if args.save and args.append:
        return _usage("use --save or --append, not both")
    if args.save == AUTO_NAME:
        args.save = auto_snapshot_path(spec)
    target = args.save or args.append
    if target is not None and not str(target).endswith(SUFFIXES):
        return _usage(f"{safe(target)}: a snapshot file name ends in {SUFFIXES_TEXT}")
    if target is not None and (spec.cluster is None or spec.task_index == 0):  # who saves
        problem = check_snapshot_target(target, append=bool(args.append), force=args.force)
        if problem:
            return _usage(problem)
    problem = _trace_out_problem(args)
    if problem:
        return _usage(problem)
    try:
        spec = check_device(spec)  # pinned by its vendor: an AMD GPU runs with HIP's numbering
    except DeviceError as err:
        return _usage(str(err))

    gatherer = None
    secret = b""
    run_env: dict[str, str] | None = None
    stall_s = DEFAULT_STALL_SECONDS
    if spec.cluster is not None:
        from hwprof.services import cluster

        for flag, seconds in (("--peer-timeout", args.peer_timeout),
                              ("--gather-timeout", args.gather_timeout)):
            why = cluster.timeout_problem(flag, seconds)  # NaN would switch the limit off
            if why:
                return _usage(why)
        try:
            secret = cluster.load_secret(args.cluster_secret_file)
        except cluster.ClusterError as err:
            return _usage(str(err))
        # a silent peer fails a collective after the peer timeout; a worker that cannot even
        # form the cluster (an unreachable peer) sends nothing and is ended soon after
        run_env = {cluster.PEER_TIMEOUT_ENV: str(args.peer_timeout)}
        stall_s = args.peer_timeout + cluster.STALL_MARGIN_S
        if spec.task_index == 0:
            host, port = cluster.gather_address(spec.cluster)
            try:
                gatherer = cluster.Gatherer(spec.cluster, secret)
            except OSError as err:
                return _usage(f"the chief cannot listen for results on {host}:{port} (the first "
                              f"port above its own that --cluster does not list): "
                              f"{err.strerror or err}; free that port, or choose other ports")
    view = ProgressView(spec, enabled=True)
    cancel = threading.Event()
    box: dict[str, SnapshotRun] = {}

    def work() -> None:
        box["run"] = execute_run(spec, on_event=view.on_event, cancel=cancel,
                                 timeout_s=args.timeout, stall_s=stall_s, env=run_env)

    def on_interrupt() -> None:
        # Ctrl-C or SIGTERM (`timeout`, a CI runner): end the worker, report what was measured
        cancel.set()
        view.stop()
        print("hwprof run: cancelling (ending the worker)…", file=sys.stderr, flush=True)

    interrupted = run_interruptibly(work, "hwprof-run", on_interrupt)
    view.stop()
    record = box.get("run")
    if record is None:
        if gatherer is not None:
            gatherer.close()
        print("hwprof run: the run ended without a result", file=sys.stderr)
        return EXIT_FAILED
    if spec.cluster is not None:
        return _cluster_finish(args, spec, record, gatherer, target, interrupted, secret)
    result = record.result
    if args.json:
        # the raw trace (up to megabytes of base64) stays out of stdout: the summary is here
        raw = {"report": {"trace": {"chrome_trace_gzip_base64"}}}
        print(json.dumps({"spec": spec.model_dump(mode="json"),
                          "result": result.model_dump(mode="json", exclude=raw)}, indent=2))
    else:
        make_console().print(result_table(spec, result))
        if result.report is not None and result.report.trace is not None:
            from hwprof.cli.trace_view import trace_view

            make_console().print(trace_view(result.report.trace))
    if args.trace_out is not None and result.ok:
        code = _write_trace(result, args.trace_out)
        if code:
            return code
    if not result.ok and result.stderr_tail and (args.verbose or result.error_kind != "cancelled"):
        tail = result.stderr_tail if args.verbose else result.stderr_tail[-5:]
        print("hwprof run: the worker's last stderr lines:", file=sys.stderr)
        for line in tail:
            print(f"  | {safe(line)}", file=sys.stderr)
    if target is not None:
        code = _store(record, target, append=bool(args.append), force=args.force)
        if code:
            return code
    if result.ok:
        return EXIT_OK
    cancelled = interrupted or result.error_kind == "cancelled"
    return EXIT_CANCELLED if cancelled else EXIT_FAILED


def _cluster_finish(args: argparse.Namespace, spec: RunSpec, record: SnapshotRun,
                    gatherer: Any, target: Path | None, cancelled: bool, secret: bytes) -> int:
    """A cluster run has ended on this node: send the result to the chief, or gather them all."""
    from hwprof.services import cluster
    from hwprof.services.detect import detect_all

    assert spec.cluster is not None and spec.task_index is not None
    nodes, task = spec.cluster, spec.task_index
    me = nodes[task]
    record = cluster.node_run(spec, record)
    result = record.result
    console = make_console()
    console.print(result_table(spec, result))
    if not result.ok and not cancelled:
        print(f"hwprof run: the cluster run failed on this node ({safe(me)}): "
              f"{safe(result.reason)}. A peer may be unreachable, started with another "
              "--cluster, or have stopped.", file=sys.stderr)
        for line in result.stderr_tail[-5:]:
            print(f"  | {safe(line)}", file=sys.stderr)
    machine = detect_all(with_tensorflow=False)
    stop = threading.Event()
    if gatherer is None:  # a worker: hand the result to the chief
        # after Ctrl-C, one quick try (the chief may be gone); Ctrl-C while sending stops it
        retry_s = 0.0 if cancelled else cluster.CONNECT_RETRY_S
        problem: list[str] = []

        def send() -> None:
            try:
                cluster.send_result(nodes, task, record, machine, secret, retry_s=retry_s,
                                    cancel=stop)
            except cluster.ClusterError as err:
                problem.append(str(err))

        cancelled = run_interruptibly(send, "hwprof-send", stop.set) or cancelled
        if problem:
            print(f"hwprof run: {safe(problem[0])}", file=sys.stderr)
        else:
            print(f"hwprof run: sent this node's result to the chief ({safe(nodes[0])})",
                  file=sys.stderr)
        if cancelled:
            return EXIT_CANCELLED
        return EXIT_FAILED if problem or not result.ok else EXIT_OK
    # the chief: wait (bounded; not at all once cancelled) for the others, then one snapshot
    wait_s = 0.0 if cancelled else args.gather_timeout
    if wait_s:
        print(f"hwprof run: waiting up to {wait_s:g} s for the other nodes' results "
              "(Ctrl-C stops waiting and saves what came)…", file=sys.stderr, flush=True)
    box: dict[str, cluster.ClusterOutcome] = {}

    def wait() -> None:
        box["outcome"] = cluster.gather(gatherer, record, wait_s, cancel=stop)

    cancelled = run_interruptibly(wait, "hwprof-gather-wait", stop.set) or cancelled
    outcome = box["outcome"]
    for problem_line in outcome.problems:
        print(f"hwprof run: {safe(problem_line)}", file=sys.stderr)
    t = Table(title="cluster: every node", title_justify="left")
    for col in ("task", "node", "status", "throughput (cluster)", "host"):
        t.add_column(col)
    # addresses ("[::1]:2222") and host names are shown as text, never as rich markup
    t.add_row("0 (chief)", Text(me), result.status, _rate(result.throughput_per_second, spec),
              Text(machine.host.hostname))
    for n in outcome.nodes:
        t.add_row(str(n.task_index), Text(nodes[n.task_index]), n.run.result.status,
                  _rate(n.run.result.throughput_per_second, n.run.spec),
                  Text(n.machine.host.hostname))
    console.print(t)
    if outcome.missing:
        when = "before the wait was cancelled" if cancelled else f"within {wait_s:g} s"
        print(f"hwprof run: no result from task(s) {', '.join(map(str, outcome.missing))} "
              f"{when}: the snapshot has the others", file=sys.stderr)
    path = target or auto_snapshot_path(spec)
    try:
        cluster.store_outcome(outcome, path, machine, append=bool(args.append),
                              force=args.force)
    except SnapshotError as err:
        print(f"hwprof run: {safe(err)}", file=sys.stderr)
        return EXIT_FAILED
    print(f"hwprof run: {'added' if args.append else 'saved'} every node's run to {safe(path)}",
          file=sys.stderr)
    if cancelled:
        return EXIT_CANCELLED
    return EXIT_OK if result.ok and not outcome.missing else EXIT_FAILED


def _trace_out_problem(args: argparse.Namespace) -> str:
    """Why --trace-out cannot be written, or "" (checked before the run)."""
    if args.trace_out is None:
        return ""
    from hwprof.services.traces import trace_name_problem

    if args.trace is None:
        return "--trace-out goes with --trace (the run must be traced)"
    problem = trace_name_problem(args.trace_out)
    if problem:
        return problem
    try:
        check_output(args.trace_out, force=args.force, flag="--trace-out",
                     inputs=[p for p in (args.save, args.append) if p is not None])
    except OutputPathError as err:
        return str(err)
    return ""


def _write_trace(result: RunResult, path: Path) -> int:
    from hwprof.core.trace import TraceError
    from hwprof.services.traces import write_trace

    try:
        write_trace(result, path)
    except (TraceError, OSError) as err:
        print(f"hwprof run: --trace-out {safe(path)}: {safe(err)}", file=sys.stderr)
        return EXIT_FAILED
    print(f"hwprof run: wrote the trace to {safe(path)}", file=sys.stderr)
    return 0


def check_snapshot_target(path: Path, *, append: bool, force: bool) -> str:
    """Why ``--save``/``--append`` ``path`` cannot be written, or "" (checked before any run).

    ``--save`` refuses an existing file unless ``--force``; ``--append`` needs an existing file
    to be a snapshot it can read (so a damaged one is found now, not after the run). Links are
    followed; a dangling link or a loop is refused.
    """
    flag = "--append" if append else "--save"
    try:
        real = check_output(path, force=force or append, flag=flag)
        if append and real.exists():
            load_snapshot(real)
    except OutputPathError as err:
        return str(err)
    except SnapshotError as err:
        return f"{flag} {err}: it cannot be added to (nothing was run)"
    return ""


def _store(record: SnapshotRun, path: Path, *, append: bool, force: bool) -> int:
    from hwprof.services.detect import detect_all

    try:
        if append:
            snap = append_run(path, record, lambda: detect_all())
            print(f"hwprof run: added to {safe(path)} ({len(snap.runs)} runs)", file=sys.stderr)
        else:
            save_snapshot(new_snapshot(detect_all()).with_run(record), path, overwrite=force)
            print(f"hwprof run: saved {safe(path)}", file=sys.stderr)
    except SnapshotError as err:
        print(f"hwprof run: {safe(err)} (the run's result is above; nothing was overwritten)",
              file=sys.stderr)
        return EXIT_FAILED
    return 0
