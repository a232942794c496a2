"""Every command fed hostile arguments and files: exit 0, 1, 2 or 130, never a traceback, never a
changed input file, never a terminal control code on the screen.

The commands run in this process (``hwprof.cli.main.main``) on real files in a fresh folder per
example: snapshots (plain, gzip, one whose strings are rich markup and escape sequences), a damaged
file, a gzip bomb, a FIFO, links that dangle or loop, a folder. Worker processes are the one thing
replaced: ``child_command`` starts a Python that exits at once, so a command whose arguments are all
valid runs its whole real path (sampler, runner, result, snapshot) and ends in a failed run within
a fraction of a second instead of minutes of TensorFlow. Real runs are covered by the other tests.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwprof.cli.main import main as cli_main
from hwprof.core.snapshot import new_snapshot, snapshot_json
from hwprof.runner import launch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_snapshot import a_run

ALLOWED_EXITS = {0, 1, 2, 130}
Word = tuple[str, "str | None", "str | None"]  # token, file key, the flag that names the file
MARKUP = "[/bogus][red]x[/red]\x1b[31m\x1b]0;pwned\x07\u202e"

# what each kind of argument may be: hostile values, with a valid one among them so that some
# examples get past the checks and run the command's real path
NUMBER = ["nan", "inf", "-inf", "-1", "0", "1e30", "1e-300", "99999999999999999999999", "abc", "",
          "0x10", "0.2"]
INT = ["-1", "0", "1", "2", "99999999999999999999", "1e3", "nan", "", "x"]
TEXT = ["", MARKUP, "[baseline]", "cpu", "gpu:0", "gpu:7", "gpu:-1", "cpu threads=nan",
        "cpu batch=1e30", "cpu threads=1", "cpu bf16 xla", "x:abc", "\x00", "é" * 300]
WORKLOAD = ["matmul", "mlp", "bandwidth", "resnet50", "nope", "", MARKUP]
CLUSTER = ["", "nohost", "h:0", "h:99999", "127.0.0.1:23456,127.0.0.1:23456", "[::1]:x", MARKUP]
IN_FILES = ["snap", "snapgz", "markup", "missing", "damaged", "bomb", "fifo", "dir", "dangling",
            "loop", "devnull", "text"]
OUT_FILES = ["new", "newsnap", "snap", "existing", "nodir", "dir", "link", "dangling", "loop",
             "devnull", "fifo", "markup"]
OUT_DIRS = ["newdir", "dir", "existing", "nodir", "snap"]

# the valid values of each kind; half the values drawn come from here, so that examples get past
# the checks and run the commands' real paths as often as they stop at a check
VALID: dict[str, list[str]] = {"num": ["0.2", "0.5"], "int": ["1", "2"],
                               "text": ["cpu", "cpu threads=1"], "workload": ["matmul", "mlp"],
                               "cluster": CLUSTER, "in": ["snap", "snapgz", "markup"],
                               "out": ["new", "newsnap"], "outdir": ["newdir", "dir"]}
VALUES: dict[str, list[str]] = {"num": NUMBER, "int": INT, "text": TEXT, "workload": WORKLOAD,
                                "cluster": CLUSTER, "in": IN_FILES, "out": OUT_FILES,
                                "outdir": OUT_DIRS}

# each command: its positional arguments and its flags with the kind of value they take
# (None: a switch). Flags that may not exist (yet) on a command are fine: argparse says exit 2.
COMMANDS: dict[str, tuple[list[str], dict[str, str | None]]] = {
    "detect": ([], {"--json": None, "--no-tensorflow": None, "--probe-timeout": "num"}),
    "monitor": ([], {"--interval": "num", "--seconds": "num", "--duration": "num", "--csv": "out",
                     "--json": None, "--pid": "int", "--force": None}),
    "run": (["workload"], {
        "--device": "text", "--mode": "text", "--batch-size": "int", "--size": "int",
        "--precision": "text", "--xla": None, "--intra-threads": "int",
        "--inter-threads": "int", "--duration": "num", "--steps": "int", "--warmup": "int",
        "--scenario": "text", "--timeout": "num", "--replicas": "int", "--cluster": "cluster",
        "--task-index": "int", "--peer-timeout": "num", "--gather-timeout": "num",
        "--json": None, "--save": "out", "--append": "out", "--force": None, "--list": None}),
    "profile": ([], {
        "--device": "text", "--quick": None, "--full": None, "--only": "text",
        "--seconds": "num", "--intra-threads": "int", "--inter-threads": "int", "--save": "out",
        "--force": None, "--json": None, "--list": None, "--compare": "in"}),
    "snapshots": (["outdir"], {"--json": None}),
    "compare": (["in", "in"], {
        "--workload": "workload", "--target": "text", "--mode": "text", "--batch-size": "int",
        "--size": "int", "--duration": "num", "--warmup": "int", "--trials": "int",
        "--baseline": "text", "--json": None, "--png": "out", "--save": "out", "--force": None}),
    "sweep": (["workload"], {
        "--over": "text", "--values": "text", "--target": "text", "--max-memory-gb": "num",
        "--duration": "num", "--trials": "int", "--png": "out", "--save": "out",
        "--json": None, "--force": None}),
    "roofline": (["in"], {"--device": "text", "--measure": None, "--seconds": "num",
                          "--json": None, "--png": "out", "--force": None}),
    "report": (["in"], {"--html": "out", "--csv": "outdir", "--force": None}),
}
# put first on the command line, so a command that would run until Ctrl-C ends by itself (the
# examples' own values of the same flag come later and win, and a valid one is short)
PREFIX = {"monitor": ["--duration", "0.3"], "profile": ["--only", "matmul.fp32"]}
# a few values are only ever picked from these lists, to keep examples fast and meaningful
SPECIAL = {"--over": ["threads", "precision-xla", "batch", "size", "replicas", "nope", MARKUP],
           "--mode": ["train", "infer", "bogus"], "--precision": ["fp32", "mixed_bfloat16", "x"],
           "--scenario": ["offline", "single-stream", "x"],
           "--values": ["1,2", "2", "nan,inf", "0", "-1,2", "1e30", "", "a,b", MARKUP],
           "--only": ["bandwidth", "matmul.fp32,mlp.train", "nope", ",", "", MARKUP]}


@pytest.fixture(scope="module")
def snapshot_bytes() -> dict[str, bytes]:
    from hwprof.services.detect import detect_all

    machine = detect_all(with_tensorflow=False)
    snap = new_snapshot(machine, title="fuzz").with_run(a_run())
    text = snapshot_json(snap).encode()
    host = machine.host.model_copy(update={"hostname": MARKUP})
    hostile = new_snapshot(machine.model_copy(update={"host": host}), title=MARKUP,
                           tags=(MARKUP, "[baseline]")).with_run(
        a_run().model_copy(update={"tags": (MARKUP, "x:abc", "kind:threads", "x:inf")}))
    return {"plain": text, "gz": gzip.compress(text), "markup": snapshot_json(hostile).encode(),
            # far larger inflated than on disk; not valid JSON either way
            "bomb": gzip.compress(b" " * (64 * 2**20), compresslevel=9)}


@contextlib.contextmanager
def a_world(files: dict[str, bytes]) -> Iterator[dict[str, Path]]:
    """A fresh folder with every kind of file an argument can name."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        p = {
            "snap": root / "a.hwprof.json", "snapgz": root / "b.hwprof.json.gz",
            "markup": root / "m.hwprof.json", "damaged": root / "d.hwprof.json",
            "bomb": root / "bomb.hwprof.json.gz", "text": root / "notes.txt",
            "existing": root / "existing.html", "dir": root / "folder",
            "missing": root / "missing.hwprof.json", "new": root / "out.html",
            "newsnap": root / "new.hwprof.json", "nodir": root / "nodir" / "x.hwprof.json",
            "newdir": root / "csvout", "link": root / "link.hwprof.json",
            "dangling": root / "dangling.hwprof.json", "loop": root / "loop.hwprof.json",
            "fifo": root / "fifo.hwprof.json", "devnull": Path(os.devnull),
        }
        p["snap"].write_bytes(files["plain"])
        p["snapgz"].write_bytes(files["gz"])
        p["markup"].write_bytes(files["markup"])
        p["damaged"].write_bytes(files["plain"][: len(files["plain"]) // 2])
        p["bomb"].write_bytes(files["bomb"])
        p["text"].write_text("hello\n")
        p["existing"].write_text("<p>keep me</p>")
        p["dir"].mkdir()
        p["link"].symlink_to(p["snap"])
        p["dangling"].symlink_to(root / "gone.hwprof.json")
        p["loop"].symlink_to(root / "loop2.hwprof.json")
        (root / "loop2.hwprof.json").symlink_to(p["loop"])
        if hasattr(os, "mkfifo"):
            os.mkfifo(p["fifo"])
        else:  # pragma: no cover - Windows has no FIFOs
            p["fifo"] = p["missing"]
        (root / "data").mkdir()
        yield p


def fingerprint(paths: dict[str, Path]) -> dict[str, str]:
    """The content of every regular file the example started with."""
    out = {}
    for key, path in paths.items():
        if path.is_file() and not path.is_symlink() and key != "devnull":
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@st.composite
def argv_for(draw: st.DrawFn, command: str) -> list[Word]:
    """A command line as words: a token, or a file key with its flag, filled in per example."""
    positionals, flags = COMMANDS[command]
    words: list[Word] = [(command, None, None)]
    words += [(token, None, None) for token in PREFIX.get(command, [])]
    count = len(positionals) if draw(st.booleans()) else draw(st.integers(0, len(positionals)))
    for kind in positionals[:count]:
        words.append(_value(draw, kind, None))
    for flag in draw(st.lists(st.sampled_from(sorted(flags)), max_size=4, unique=True)):
        kind = flags[flag]
        words.append((flag, None, None))
        if kind is not None:
            words.append(_value(draw, kind, flag))
    return words


def _value(draw: st.DrawFn, kind: str, flag: str | None) -> Word:
    if flag in SPECIAL:
        choices = SPECIAL[flag][:2] if draw(st.booleans()) else SPECIAL[flag]
    else:
        choices = VALID[kind] if draw(st.booleans()) else VALUES[kind]
    value = draw(st.sampled_from(choices))
    if kind in ("in", "out", "outdir") and flag not in SPECIAL:
        return value, value, flag or "input"  # a file key, replaced by its path
    return value, None, None


def may_change(words: list[Word]) -> set[str]:
    """The files an example may change: outputs it appends to or --force'd, never its inputs."""
    forced = any(t == "--force" for t, _k, _f in words)
    inputs = {k for _t, k, f in words if k and f == "input"}
    outputs = {k for _t, k, f in words if k and f != "input" and (forced or f == "--append")}
    if "link" in outputs:  # written through to its target
        outputs.add("snap")
    if "link" in inputs:
        inputs.add("snap")
    return outputs - inputs


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as done:  # argparse
            code = done.code if isinstance(done.code, int) else 2
        except BaseException:
            return -1, out.getvalue(), err.getvalue() + traceback.format_exc()
    return code, out.getvalue(), err.getvalue()


def test_every_command_is_listed() -> None:
    from hwprof.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "==SUPPRESS==" or a.choices)
    assert set(COMMANDS) <= set(sub.choices or {})


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_hostile_arguments(command: str, snapshot_bytes: dict[str, bytes],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch, "child_command", lambda *args: [
        sys.executable, "-S", "-c", "import sys; sys.stderr.write('fuzz: no worker\\n'); "
        "sys.exit(3)"])

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(argv_for(command))
    def one(words: list[Word]) -> None:
        with a_world(snapshot_bytes) as paths:
            monkeypatch.setenv("HWPROF_DATA_DIR", str(paths["snap"].parent / "data"))
            before = fingerprint(paths)
            argv = [str(paths[key]) if key else token for token, key, _flag in words]
            code, out, err = _run(argv)
            shown = f"hwprof {' '.join(map(repr, argv))}\n--- exit {code}\n{out}\n{err}"
            assert code in ALLOWED_EXITS, shown
            assert "Traceback" not in err, shown
            assert "\x1b" not in out + err, shown
            after = fingerprint(paths)
            allowed = may_change(words)
            for key, digest in before.items():
                if key not in allowed:
                    assert after.get(key) == digest, f"{key} changed\n{shown}"

    one()


odd_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from([MARKUP, "x:abc", "kind:threads", 10**400]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=10,
)


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data(), gz=st.booleans())
def test_a_damaged_snapshot_file_loads_whole_or_not_at_all(snapshot_bytes: dict[str, bytes],
                                                           data: st.DataObject, gz: bool) -> None:
    """One value anywhere replaced (NaN and infinities included): a clean error, or a snapshot
    whose every number is finite and that every reader takes without a traceback."""
    import json
    import math

    from hwprof.core.snapshot import load_snapshot
    from hwprof.core.snapshot_io import SnapshotError

    doc = json.loads(snapshot_bytes["markup" if data.draw(st.booleans()) else "plain"])
    node, parent, key = doc, None, None
    while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, data.draw(st.sampled_from(keys))
        node = node[key]
    if parent is not None:
        parent[key] = data.draw(odd_values)
    raw = json.dumps(doc).encode()
    cut = data.draw(st.integers(0, 3))  # sometimes the file ends early
    if cut == 0:
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("f.hwprof.json.gz" if gz else "f.hwprof.json")
        stored = gzip.compress(raw, mtime=0) if gz else raw
        path.write_bytes(stored)
        try:
            snap = load_snapshot(path)
        except SnapshotError as err:
            assert str(path) in str(err)
            return
        text = snap.model_dump_json()
        assert "NaN" not in text and "Infinity" not in text
        assert all(math.isfinite(r.result.throughput_per_second or 0.0) for r in snap.runs)
        for argv in (["report", str(path), "--html", str(Path(tmp) / "r.html")],
                     ["compare", str(path), str(path)], ["snapshots", tmp]):
            code, out, err = _run(argv)
            assert code in ALLOWED_EXITS and "Traceback" not in err, (argv, code, err)
            assert "\x1b" not in out + err
        assert path.read_bytes() == stored
