"""Strings from files and the system are shown as text: never rich markup, never control codes.

A hostname, tag or title such as ``[/bogus]`` once crashed `hwprof snapshots` and `compare` with
rich's MarkupError, ``[baseline]`` vanished, and escape sequences reached the terminal raw.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.snapshots import HOSTILE, HOSTILE_ALL, a_run, machine
from rich.console import Console

from hwprof.cli.console import SafeConsole, plain, safe
from hwprof.cli.detect import render_report
from hwprof.cli.run import result_table
from hwprof.core.results import failed_result
from hwprof.core.snapshot import new_snapshot, save_snapshot, snapshot_json
from hwprof.core.spec import RunSpec
from hwprof.core.text import printable

REPO = Path(__file__).resolve().parent.parent
# what each hostile string must look like on the screen: itself, its control codes escaped
SHOWN = ("[/bogus]", "[baseline]", "[red]x[/red]", "\\x1b[31mred\\x1b[0m", "\\x1b]0;title\\x07",
         "\\u202eevil", "<script>alert(1)</script>", ":smile:")


def hwprof(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwprof", *args], capture_output=True,
                          text=True, encoding="utf-8", cwd=REPO, timeout=120,
                          env={**os.environ, "COLUMNS": "400"})


def shown_as_text(out: str) -> None:
    """No control code reached the output, and every hostile string shows as it is."""
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    flat = " ".join(out.split())  # a wrapped table cell, unwrapped
    for text in SHOWN:
        assert text in flat, (text, out)


@pytest.fixture(scope="module")
def hostile_snapshots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    paths = []
    for i in (1, 2):
        m = machine(hostname=f"{HOSTILE_ALL} {i}", os_release=HOSTILE_ALL)
        snap = new_snapshot(m, title=HOSTILE_ALL, tags=HOSTILE, note=HOSTILE_ALL)
        spec = RunSpec(workload="mlp", mode="infer", size=16, steps=4, duration_seconds=None)
        run = a_run(spec, tags=HOSTILE, notes=HOSTILE, tf_device=HOSTILE_ALL)
        failed = a_run(spec).model_copy(update={"result": failed_result(HOSTILE_ALL, "crash",
                                                                        stderr_tail=HOSTILE)})
        snap = snap.with_run(run).with_run(failed)
        paths.append(save_snapshot(snap, folder / f"s{i}.hwprof.json"))
    return paths[0], paths[1]


def test_printable_escapes_every_control_code_and_nothing_else() -> None:
    assert printable("plain: ünïcödé 漢字 [x] <b> $") == "plain: ünïcödé 漢字 [x] <b> $"
    assert printable("\x1b[31m\x07\x00\t\n\r\x7f\x9b") == \
        "\\x1b[31m\\x07\\x00\\x09\\x0a\\x0d\\x7f\\x9b"
    assert printable("a\u202eb\u2066c\u200fd") == "a\\u202eb\\u2066c\\u200fd"
    assert printable("bad \udcff byte") == "bad \\udcff byte"  # os.fsdecode of a non-UTF-8 name
    assert printable("one\ntwo\x1b", keep="\n") == "one\ntwo\\x1b"
    assert safe(42) == "42"
    assert plain("[/bogus]").plain == "[/bogus]" and not plain("[red]x[/red]").spans


def test_the_console_never_reads_markup_even_in_a_plain_str() -> None:
    buf = io.StringIO()
    console = SafeConsole(file=buf, width=200, no_color=True)
    console.print("[/bogus] [baseline] [red]x[/red] :smile: \x1b[31mred\n\u202eline two")
    assert buf.getvalue() == \
        "[/bogus] [baseline] [red]x[/red] :smile: \\x1b[31mred\n\\u202eline two\n"


def test_snapshots_lists_hostile_strings_as_text(hostile_snapshots: tuple[Path, Path]) -> None:
    done = hwprof("snapshots", str(hostile_snapshots[0].parent))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    shown_as_text(done.stdout)


def test_compare_shows_hostile_hostnames_as_text(hostile_snapshots: tuple[Path, Path]) -> None:
    done = hwprof("compare", *map(str, hostile_snapshots))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    shown_as_text(done.stdout)  # the hostnames differ: the environment diff shows them


def test_report_html_escapes_hostile_strings(
    hostile_snapshots: tuple[Path, Path], tmp_path: Path
) -> None:
    page = tmp_path / "r.html"
    done = hwprof("report", str(hostile_snapshots[0]), "--html", str(page), "--csv",
                  str(tmp_path / "csv"))
    assert done.returncode == 0, done.stderr
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b]0;title\\x07" in text
    assert "[/bogus]" in text and "\\u202eevil" in text
    assert "\x1b" not in done.stdout + done.stderr


def test_a_damaged_file_named_with_control_codes_is_reported_as_text(tmp_path: Path) -> None:
    bad = tmp_path / "\x1b]0;pwned\x07.hwprof.json"
    bad.write_text("{")
    for args in (["compare", str(bad)], ["report", str(bad), "--html", str(tmp_path / "x.html")]):
        done = hwprof(*args)
        assert done.returncode == 2, done.stderr
        assert "\x1b" not in done.stderr and "\\x1b]0;pwned\\x07.hwprof.json" in done.stderr
    listed = hwprof("snapshots", str(tmp_path))
    assert listed.returncode == 0 and "\x1b" not in listed.stdout
    assert "\\x1b]0;pwned" in "".join(listed.stdout.split())


def _render(renderable: object) -> str:
    buf = io.StringIO()
    console: Console = SafeConsole(file=buf, width=400, no_color=True)
    console.print(renderable)
    return buf.getvalue()


def test_detect_shows_system_strings_as_text() -> None:
    m = machine(hostname=HOSTILE_ALL, os_release=HOSTILE_ALL, kernel=HOSTILE_ALL)
    cpu = m.cpus[0].model_copy(update={"model_name": HOSTILE_ALL, "notes": HOSTILE})
    m = m.model_copy(update={"cpus": (cpu,), "nvml": m.nvml.model_copy(
        update={"available": False, "message": HOSTILE_ALL})})
    buf = io.StringIO()
    render_report(m, SafeConsole(file=buf, width=400, no_color=True))
    shown_as_text(buf.getvalue())


def test_a_run_result_shows_worker_strings_as_text() -> None:
    run = a_run(notes=HOSTILE, tf_device=HOSTILE_ALL)
    shown_as_text(_render(result_table(run.spec, run.result)))
    failed = failed_result(HOSTILE_ALL, "crash")
    shown_as_text(_render(result_table(run.spec, failed)))


def test_a_lone_surrogate_in_a_file_is_shown_escaped(tmp_path: Path) -> None:
    # JSON may escape half of a surrogate pair ("\udcff"): it loads, and cannot be encoded
    run = a_run()
    run = run.model_copy(update={"result": failed_result("SURR", "crash"), "tags": ("SURR",)})
    snap = new_snapshot(machine(hostname="hostSURR"), title="SURR").with_run(run)
    path = tmp_path / "surrogate.hwprof.json"
    path.write_text(snapshot_json(snap).replace("SURR", "\\udcff"), encoding="utf-8")
    for args in (["snapshots", str(tmp_path)], ["compare", str(path), str(path)],
                 ["report", str(path), "--html", str(tmp_path / "r.html"), "--csv",
                  str(tmp_path / "csv")]):
        done = hwprof(*args)
        assert done.returncode == 0, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert "host\\udcff" in hwprof("snapshots", str(tmp_path)).stdout
    assert "\\udcff" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "\\udcff" in (tmp_path / "csv" / "runs.csv").read_text(encoding="utf-8")
