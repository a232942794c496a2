"""`hwprof profile`: profile a device with the fixed suite, keep it, and set profiles side by side.

``hwprof profile`` runs every test of the suite (:mod:`hwprof.core.suite`) on one device, shows
each test's progress and outcome as it goes (stderr), then a table: every test's result with its
95% interval, its score against the reference machine, its % of the ceiling and its numerics
check, the scores, and where the time went (stdout; ``--json`` for one JSON document instead). The
profile is saved as a snapshot of kind profile, into the profiles folder unless ``--save FILE``.
``--list`` shows the suite; ``--compare A B ...`` sets saved profiles side by side.

Exit codes: 0 the profile finished (a test that ran out of memory or was skipped is a result), 1
a test failed or the profile could not be saved, 2 bad arguments (nothing is run or written), 130
cancelled with Ctrl-C (the tests done so far are saved, and the file says the rest were cancelled).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from hwprof.cli.args import duration_seconds, flag_of
from hwprof.cli.console import make_console, plain, run_interruptibly, safe
from hwprof.core import events
from hwprof.core.outputs import OutputPathError, check_output
from hwprof.core.profile import Speedup
from hwprof.core.snapshot import SUFFIXES, SUFFIXES_TEXT, Snapshot, load_snapshot, save_snapshot
from hwprof.core.snapshot_io import SnapshotError
from hwprof.core.spec import RunSpec, validation_problems
from hwprof.core.suite import SUITE_VERSION, Length, check_only
from hwprof.core.units import fmt_seconds

if TYPE_CHECKING:  # imported where used: `hwprof --help` need not load the profile services
    from hwprof.services.profile import ProfileEvent
    from hwprof.services.profile_view import ProfileView

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
PROG = "hwprof profile"


def register(sub: Any) -> None:
    """Add `profile` to the CLI."""
    p = sub.add_parser(
        "profile",
        help="profile a device with the fixed test suite: results, scores, a saved profile",
        description=f"Run the {SUITE_VERSION} suite on one device (ceilings, training, "
        "inference throughput and latency, mixed precision where the device has it), each test "
        "with its 95%% interval, a score against the reference machine, %% of the ceiling and a "
        "numerics check, and save it as a profile snapshot. `--list` shows the suite; "
        "`--compare A B ...` sets saved profiles side by side.",
    )
    p.add_argument("--device", default=None, help='"cpu", "gpu:N" or "tpu:N" (default cpu)')
    length = p.add_mutually_exclusive_group()
    length.add_argument("--quick", dest="length", action="store_const", const="quick",
                        help="a few seconds a test, less once steady (the default)")
    length.add_argument("--full", dest="length", action="store_const", const="full",
                        help="four times longer a test, never ending early: tighter intervals")
    p.add_argument("--only", metavar="T1,T2", default=None,
                   help="run only these tests (ids from --list), a partial profile; with "
                   "--list or --compare, show only these")
    p.add_argument("--deploy", action="store_true",
                   help="add the deployment section (hwprof-deploy/1): MobileNet-V2 as TFLite "
                   "fp32 and int8 on the CPU, set against the TensorFlow fp32 test, with accuracy "
                   "and model size; off by default (its int8 conversion and calibration take "
                   "about a minute more the first time); skipped on a GPU")
    p.add_argument("--seconds", type=duration_seconds, default=None, metavar="S",
                   help="cap each test's timed phase at S seconds (recorded in the profile)")
    p.add_argument("--intra-threads", type=int, default=None, metavar="N",
                   help="TensorFlow intra-op threads for every test")
    p.add_argument("--inter-threads", type=int, default=None, metavar="N",
                   help="TensorFlow inter-op threads for every test")
    p.add_argument("--save", type=Path, default=None, metavar="FILE",
                   help="save the profile here (*.hwprof, *.hwprof.json[.gz]) instead of the "
                   "profiles folder; an existing FILE is refused unless --force")
    p.add_argument("--force", action="store_true", help="let --save replace an existing file")
    p.add_argument("--json", action="store_true",
                   help="print the profile (record and scores) as JSON instead of the table")
    p.add_argument("--list", action="store_true",
                   help="list the suite's tests and what each does on this machine's devices")
    p.add_argument("--compare", nargs="+", type=Path, default=None, metavar="PROFILE",
                   help="compare saved profiles, test by test, against the first")
    p.set_defaults(handler=run_profile_command, length=None)


def _usage(message: str) -> int:
    print(f"{PROG}: {safe(message)}", file=sys.stderr)
    return EXIT_USAGE


def run_profile_command(args: argparse.Namespace) -> int:
    """--list, --compare, or a profile."""
    only: list[str] | None = None
    if args.only is not None:
        try:
            only = check_only(args.only.split(","))
        except ValueError as err:
            return _usage(f"--only: {err}")
        if not only:
            return _usage("--only needs test ids, e.g. --only matmul.fp32,mlp.train "
                          "(see hwprof profile --list)")
    run_flags = (("--seconds", args.seconds is not None),
                 ("--intra-threads", args.intra_threads is not None),
                 ("--inter-threads", args.inter_threads is not None),
                 ("--save", args.save is not None), ("--force", args.force),
                 ("--quick/--full", args.length is not None))
    given = [flag for flag, on in run_flags if on]
    if args.list and args.compare is not None:
        return _usage("use --list or --compare, not both")
    if args.list or args.compare is not None:
        what = "--list" if args.list else "--compare"
        extra = given + (["--device"] if args.compare is not None and args.device else [])
        if extra:
            return _usage(f"{', '.join(extra)} go{'es' if len(extra) == 1 else ''} with a "
                          f"profile run, not with {what}")
        if args.list:
            return list_suite(args.device, args.json, only)
        return compare_command(args.compare, args.json, PROG, only)
    return profile_device(args, only)


# -- --list ----------------------------------------------------------------------------------------
def list_suite(device: str | None, as_json: bool, only: list[str] | None = None) -> int:
    """Print the suite and what each test does on this machine's devices (or on ``device``).

    ``only``: just these tests.
    """
    from hwprof.services.detect import detect_all
    from hwprof.services.profile_view import suite_listing

    if device is not None:
        checked = _checked_device(device)
        if isinstance(checked, int):
            return checked
        device = checked
    machine = detect_all(with_tensorflow=False)
    doc = suite_listing(machine)
    if only:
        doc["tests"] = [t for t in doc["tests"] if t["test_id"] in only]
    if device is not None:
        doc["devices"] = [device]
        for t in doc["tests"]:
            missing = {"precision": None, "skip_reason": "not on this machine"}
            t["devices"] = {device: t["devices"].get(device, missing)}
    if as_json:
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    console = make_console()
    t = Table(title=f"{SUITE_VERSION}: the suite", title_justify="left", show_lines=False)
    t.add_column("test", no_wrap=True)
    for col in ("title", "category", "fixed settings", *doc["devices"]):
        t.add_column(col, overflow="fold")
    for test in doc["tests"]:
        cells = []
        for d in doc["devices"]:
            where = test["devices"][d]
            if where["precision"] is None:
                cells.append(plain(f"skipped: {where['skip_reason']}"))
            else:
                cells.append(plain(f"runs ({where['precision']})"))
        t.add_row(test["test_id"], test["title"], test["category_title"], test["settings"],
                  *cells)
    console.print(t)
    for name, text in doc["lengths"].items():
        console.print(plain(f"--{name}: {text}"))
    console.print("The overall score counts the fp32 tests (every device runs them); mixed "
                  "precision has its own score.")
    console.print(f"The tflite.* tests are the deployment section ({doc['deploy_suite']}), run "
                  "with --deploy: not scored, each set against the TensorFlow fp32 test.")
    return EXIT_OK


# -- a profile -------------------------------------------------------------------------------------
def _checked_device(device: str, intra: int | None = None,
                    inter: int | None = None) -> str | int:
    """The device in its usual spelling, or an exit code after saying what is wrong."""
    from hwprof.services.runs import DeviceError, check_device

    try:
        spec = RunSpec(workload="matmul", mode="infer", device=device, intra_op_threads=intra,
                       inter_op_threads=inter)
    except ValidationError as err:
        return _usage("; ".join(f"{flag_of(where)}: {msg}" if where else msg
                                for where, msg in validation_problems(err)))
    if spec.is_tpu:  # the suite's plan knows CPUs and GPUs only
        return _usage(f"{spec.device}: TPU chips cannot be profiled yet; measure one with "
                      f"hwprof run WORKLOAD --device {spec.device}")
    try:
        check_device(spec)
    except DeviceError as err:
        return _usage(str(err))
    return spec.device


def profile_device(args: argparse.Namespace, only: list[str] | None) -> int:
    """Check everything, run the profile (``only``: these tests), save it, show it."""
    length: Length = args.length or "quick"
    checked = _checked_device(args.device or "cpu", args.intra_threads, args.inter_threads)
    if isinstance(checked, int):
        return checked
    device = checked
    target: Path | None = args.save
    if args.force and target is None:
        return _usage("--force goes with --save FILE (a profile saved into the profiles folder "
                      "always gets a new name)")
    if target is not None:
        if not str(target).endswith(SUFFIXES):
            return _usage(f"--save {target}: a snapshot file name ends in {SUFFIXES_TEXT}")
        try:
            check_output(target, force=args.force, flag="--save")
        except OutputPathError as err:
            return _usage(str(err))

    from hwprof.services.detect import detect_all
    from hwprof.services.profile import run_profile

    machine = detect_all(with_tensorflow=False)
    cancel = threading.Event()
    view = ProfileProgress(make_console(stderr=True))
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["snapshot"] = run_profile(
                device, machine=machine, length=length, intra_op_threads=args.intra_threads,
                inter_op_threads=args.inter_threads, only=only, timed_seconds=args.seconds,
                on_event=view.on_event, cancel=cancel, deploy=args.deploy)
        except Exception as err:  # the profile's contract is not to raise; say so if it did
            box["error"] = err

    def on_interrupt() -> None:
        cancel.set()
        view.stop()
        print(f"{PROG}: cancelling (ending the running test; the tests done are kept)…",
              file=sys.stderr, flush=True)

    interrupted = run_interruptibly(work, "hwprof-profile", on_interrupt)
    view.stop()
    snapshot: Snapshot | None = box.get("snapshot")
    if snapshot is None:
        print(f"{PROG}: the profile ended without a result: {safe(box.get('error'))}",
              file=sys.stderr)
        return EXIT_CANCELLED if interrupted else EXIT_FAILED
    from hwprof.services.profile import default_profile_path
    from hwprof.services.profile_view import profile_document, with_timed_seconds
    from hwprof.services.profile_view import view as profile_view

    snapshot = with_timed_seconds(snapshot, args.seconds)
    path = target or default_profile_path(device)
    saved = True
    try:
        save_snapshot(snapshot, path, overwrite=bool(args.force and target is not None))
    except SnapshotError as err:
        saved = False
        print(f"{PROG}: {safe(err)} (the results are below; nothing was overwritten)",
              file=sys.stderr)
    v = profile_view(snapshot)
    if args.json:
        print(json.dumps(profile_document(v, path=str(path) if saved else None), indent=2))
    else:
        print_profile(make_console(), v)
    record = v.record
    every = (*record.tests, *record.deploy_tests)
    done = [t for t in every if t.status not in ("cancelled", "skipped")]
    failed = [t for t in every if t.status == "failed"]
    if saved:
        if interrupted or any(t.status == "cancelled" for t in every):
            print(f"{PROG}: cancelled: saved the {len(done)} test(s) done as a partial profile "
                  f"to {safe(path)}", file=sys.stderr)
        else:
            print(f"{PROG}: saved {safe(path)}", file=sys.stderr)
    if interrupted:
        return EXIT_CANCELLED
    if failed:
        print(f"{PROG}: {len(failed)} test(s) failed: "
              f"{', '.join(t.test_id for t in failed)} (the reasons are in the table)",
              file=sys.stderr)
    return EXIT_FAILED if failed or not saved else EXIT_OK


# -- progress --------------------------------------------------------------------------------------
class _EtaColumn(ProgressColumn):
    """The time left: the last ETA the profile sent, counting down since."""

    def render(self, task: Any) -> Text:
        eta = task.fields.get("eta_s")
        at = task.fields.get("eta_at")
        if eta is None or at is None:
            return Text("")
        left = float(eta) - (time.monotonic() - float(at))
        return Text(f"about {_clock(left)} left" if left >= 1 else "almost done")


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


class ProfileProgress:
    """Turns profile events into a bar (a terminal) or plain lines (anything else), on stderr.

    In both, every test's outcome is printed as a line when it ends.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.tty = console.is_terminal
        self.progress: Progress | None = None
        self.task: Any = None
        self.title = ""
        self.steps = 0
        self.runnable = 0
        self.finished = 0
        self.last_line = 0.0

    def stop(self) -> None:
        """Remove the bar."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def _line(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(plain(text))
        else:
            print(f"{PROG}: {safe(text)}", file=sys.stderr, flush=True)

    def _state(self, state: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, state=state)
        else:
            now = time.monotonic()
            if now - self.last_line >= 2.0:  # a line every few seconds at most, easy to grep
                self.last_line = now
                self._line(f"  {self.title}: {state}")

    def on_event(self, event: ProfileEvent) -> None:
        """One profile event (called on the profile's thread)."""
        from hwprof.services.profile import (
            ProfilePlanned,
            TestFinished,
            TestStarted,
            TestWorkerEvent,
        )

        if isinstance(event, ProfilePlanned):
            self.runnable = sum(1 for t in event.tests if t.state != "skipped")
            self._line(f"profiling {event.device} ({event.device_label}): {len(event.tests)} "
                       f"tests, about {_clock(event.eta_seconds)}")
            for t in event.tests:
                if t.state == "skipped":
                    self._line(f"  {t.title}: skipped: {t.reason}")
            if self.tty:
                self.progress = Progress(
                    TextColumn("{task.description}", markup=False), BarColumn(),
                    TextColumn("{task.fields[state]}", markup=False), _EtaColumn(),
                    TimeElapsedColumn(), console=self.console, transient=True)
                self.task = self.progress.add_task("starting", total=max(self.runnable, 1),
                                                   state="", eta_s=event.eta_seconds,
                                                   eta_at=time.monotonic())
                self.progress.start()
        elif isinstance(event, TestStarted):
            self.title = f"[{event.index + 1}/{event.total}] {event.title}"
            self.steps = 0
            if self.progress is not None:
                self.progress.update(self.task, description=self.title, state="starting",
                                     eta_s=event.eta_seconds, eta_at=time.monotonic())
            else:
                self.last_line = time.monotonic()
                self._line(f"{self.title}: starting (about {_clock(event.eta_seconds)} left "
                           "in all)")
        elif isinstance(event, TestWorkerEvent):
            typed = events.parse(event.data)
            if isinstance(typed, events.Ready):
                self._state("building and compiling")
            elif isinstance(typed, events.Compiled):
                self._state("warming up")
            elif isinstance(typed, events.Steps):
                self.steps += len(typed.seconds)
                self._state(f"measuring, {self.steps} steps")
        elif isinstance(event, TestFinished):
            from hwprof.core.profile_text import fmt_outcome
            from hwprof.services.profile_view import title_of

            self.finished += 1
            o = event.outcome
            took = fmt_seconds(o.phases.total) if o.phases.total > 0 else ""
            self._line(f"[{event.index + 1}/{event.total}] {title_of(o.test_id)}: "
                       f"{fmt_outcome(o, labelled=True)}" + (f" ({took})" if took else ""))
            if self.progress is not None:
                self.progress.update(self.task, completed=self.finished, state="",
                                     eta_s=event.eta_seconds, eta_at=time.monotonic())


# -- the table at the end --------------------------------------------------------------------------
def print_profile(console: Console, v: ProfileView) -> None:
    """The profile as tables: every test, the scores, the time split."""
    from hwprof.core.profile_text import (
        fmt_outcome,
        fmt_percent_of_ceiling,
        fmt_score,
        numerics_text,
    )
    from hwprof.core.units import NA
    from hwprof.services.profile_view import (
        SCORE_GROUP_NAMES,
        overhead_rows,
        overhead_summary,
        title_of,
    )

    record = v.record
    label = record.device_label or record.device
    scores = v.scores
    scored = scores is not None
    t = Table(title=plain(f"profile of {label} ({record.device}), {record.suite}, "
                          f"{record.length}" + (", partial" if record.partial else "")),
              title_justify="left")
    for col in ("test", "result (95% interval)", *(["score"] if scored else []),
                "% of ceiling", "numerics"):
        t.add_column(col, overflow="fold")
    for o in record.tests:
        cells: list[str | Text] = [plain(title_of(o.test_id)), plain(fmt_outcome(o))]
        if scored:
            cells.append(plain(fmt_score(v.test_score(o.test_id))))
        cells += [fmt_percent_of_ceiling(o), plain(numerics_text(o))]
        t.add_row(*cells)
    console.print(t)
    ref = v.reference
    if scores is not None and ref is not None:
        console.print(plain(f"scores (1000 = {ref.name}: {ref.machine}):"))
        for g in SCORE_GROUP_NAMES:
            s = v.group(g)
            if s is None and g == "overall" and v.note:
                console.print(plain(f"  overall: withheld: {v.note}"))
            else:
                console.print(plain(f"  {g}: {fmt_score(s, labelled=True, missing=NA)}"))
        if scores.missing:
            console.print(plain("  not measured (not run, failed or skipped; the overall score "
                                "covers the others): " + ", ".join(scores.missing)))
    else:
        console.print(plain(f"scores: {v.note}"))
    console.print()
    console.print(plain(f"time: {overhead_summary(record.overhead)}"))
    if record.overhead is not None:
        split = Table()
        for col in ("where the time went", "seconds", "share"):
            split.add_column(col)
        for what, seconds, share in overhead_rows(record.overhead):
            split.add_row(what, f"{seconds:.1f}", f"{100 * share:.0f}%")
        console.print(split)
    if record.settings:
        console.print(plain("settings: " + "; ".join(f"{k} {val}" for k, val
                                                      in record.settings.items())))
    print_deployment(console, v)


def print_deployment(console: Console, v: ProfileView) -> None:
    """The deployment section (when the profile ran it): TFLite against TensorFlow fp32."""
    from hwprof.services.profile_view import deploy_document

    doc = deploy_document(v.record)
    if doc is None:
        return
    console.print()
    t = Table(title=plain(f"deployment: {doc['suite']}, TFLite on the CPU"),
              title_justify="left")
    for col in ("test", "result (95% interval)", "against TensorFlow fp32", "accuracy",
                "model"):
        t.add_column(col, overflow="fold")
    from hwprof.core.profile_text import fmt_speedup

    for row in doc["tests"]:
        sp = row["against_tensorflow"]
        ratio = (fmt_speedup(Speedup(row["test_id"], sp["ratio"], sp["low"], sp["high"]))
                 if sp is not None else "–")
        t.add_row(plain(row["title"]), plain(row["text"]), plain(ratio),
                  plain(row["accuracy_text"]), plain(row["model_size_text"]))
    console.print(t)
    for row in doc["tests"]:
        console.print(plain(f"- {row['sentence']}"))
    console.print(plain(doc["note"]))


# -- comparing profiles ----------------------------------------------------------------------------
def compare_command(paths: list[Path], as_json: bool, prog: str,
                    only: list[str] | None = None) -> int:
    """Load the files and compare them as profiles.

    ``prog`` names the command in messages; ``only``: compare just these tests.
    """
    if len(paths) < 2:
        print(f"{prog}: name two or more profiles to compare (the first is the baseline)",
              file=sys.stderr)
        return EXIT_USAGE
    snapshots = []
    for path in paths:
        try:
            snapshots.append(load_snapshot(path))
        except SnapshotError as err:
            print(f"{prog}: {safe(err)}", file=sys.stderr)
            return EXIT_USAGE
    return compare_profiles_command(paths, snapshots, as_json, prog, only)


def compare_profiles_command(paths: list[Path], snapshots: list[Snapshot], as_json: bool,
                             prog: str, only: list[str] | None = None) -> int:
    """Print loaded profiles side by side; exit 2 when they cannot be compared."""
    from hwprof.services.profile_view import ProfileMixError, comparison_document

    names = [p.name for p in paths]
    if len(snapshots) < 2:
        print(f"{prog}: name two or more profiles to compare (the first is the baseline)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        doc = comparison_document(snapshots, names, only=only)
    except ProfileMixError as err:
        print(f"{prog}: {safe(err)}", file=sys.stderr)
        return EXIT_USAGE
    if as_json:
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    print_comparison(make_console(), doc)
    return EXIT_OK


def _diff_table(title: str, rows: list[dict[str, Any]], names: list[str]) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("fact", style="bold")
    for n in names:
        t.add_column(plain(n), overflow="fold")
    for row in rows:
        t.add_row(plain(row["fact"]), *(plain(v) for v in row["values"]))
    return t


def print_comparison(console: Console, doc: dict[str, Any]) -> None:
    """A profile comparison as tables and sentences."""
    names: list[str] = doc["profiles"]
    if doc["environment_diff"]:
        console.print(_diff_table("machines and software: what differs",
                                  doc["environment_diff"], names))
    else:
        console.print("machines and software: the same in every profile")
    if doc["profile_diff"]:
        console.print(_diff_table("the profiles' own settings: what differs",
                                  doc["profile_diff"], names))
    console.print()
    t = Table(title=plain(f"{doc['suite']}: each test against {names[0]} (speedup, 95% "
                          "interval; above 1: faster than the first)"),
              title_justify="left", show_lines=True)
    t.add_column("test", overflow="fold")
    for n in names:
        t.add_column(plain(n), overflow="fold")
    from hwprof.core.profile_text import fmt_speedup

    for row in doc["tests"]:
        cells: list[Text] = []
        for c in row["profiles"]:
            lines = [c["text"]]
            if "accuracy_text" in c:
                lines.append(c["accuracy_text"])
            if "speedup" in c:
                sp = c["speedup"]
                if sp is not None:
                    lines.append(fmt_speedup(Speedup(row["test_id"], sp["ratio"], sp["low"],
                                                      sp["high"]), labelled=True))
                lines.append(c["verdict"])
            cells.append(Text("\n").join(plain(line) for line in lines))
        title = row["title"] + (" (deployment, not in overall)" if row.get("deployment") else "")
        t.add_row(plain(title), *cells)
    console.print(t)
    for o in doc["overall"]:
        sp = o["speedup"]
        if sp is None:
            console.print(plain(f"overall, {o['profile']} against {names[0]}: no fp32 test "
                                "measured in both"))
            continue
        ratio = fmt_speedup(Speedup("overall", sp["ratio"], sp["low"], sp["high"]))
        console.print(plain(f"overall, {o['profile']} against {names[0]} (geometric mean over "
                            f"the fp32 tests both ran): {ratio}: {o['verdict']}"))
    for sentence in doc["wins"]:
        console.print(plain(f"- {sentence}"))
