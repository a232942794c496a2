"""The cluster gather on real sockets on 127.0.0.1: signed results taken, forged, malformed,
oversized and replayed ones refused (the chief's own run kept), the gather port clear of every
listed port, cancellable sends, and the cluster flags checked before anything starts."""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hwprof.cli.main import main
from hwprof.core.devices import DetectReport
from hwprof.core.results import failed_result
from hwprof.core.snapshot import SnapshotRun, new_snapshot
from hwprof.core.spec import RunSpec
from hwprof.services import cluster as cl
from hwprof.services.detect import detect_all

SECRET = b"s3cret-shared-by-every-node"


@pytest.fixture(scope="module")
def machine() -> DetectReport:
    return detect_all(with_tensorflow=False)


def a_cluster(n: int) -> tuple[str, ...]:
    """n adjacent ports on 127.0.0.1 whose gather port (the next one up) is free now."""
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
        s.close()
        if free > n:
            nodes = tuple(f"127.0.0.1:{free - n + i}" for i in range(n))
            assert cl.gather_port(nodes) == free
            return nodes
    raise AssertionError("no free port")


def a_run(nodes: tuple[str, ...], task: int, reason: str = "cancelled in a test") -> SnapshotRun:
    spec = RunSpec(workload="mlp", size=16, cluster=nodes, task_index=task, steps=3,
                   duration_seconds=None)
    return cl.node_run(spec, SnapshotRun(spec=spec, result=failed_result(reason, "cancelled")))


@pytest.fixture
def chief() -> Iterator[cl.Gatherer]:
    g = cl.Gatherer(a_cluster(3), SECRET)
    try:
        yield g
    finally:
        g.close()


# a node written from the protocol's description, to send what a real node never would


def read_frame(sock: socket.socket) -> dict[str, Any]:
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        assert chunk, "the chief closed without an answer"
        head += chunk
    (n,) = struct.unpack("!I", head)
    data = b""
    while len(data) < n:
        data += sock.recv(n - len(data))
    doc = json.loads(data)
    assert isinstance(doc, dict)
    return doc


def send_frame(sock: socket.socket, doc: object) -> None:
    data = json.dumps(doc).encode()
    sock.sendall(struct.pack("!I", len(data)) + data)


def body_of(run: SnapshotRun, machine: DetectReport) -> bytes:
    return json.dumps({"run": run.model_dump(mode="json"),
                       "machine": machine.model_dump(mode="json")}).encode()


def signed_header(g: cl.Gatherer, nonce: str, task: Any, body: bytes,
                  secret: bytes = SECRET) -> dict[str, Any]:
    digest = hashlib.sha256(body).hexdigest()
    return {"task_index": task, "body_bytes": len(body), "body_sha256": digest,
            "mac": cl.header_mac(secret, g.cluster, task, nonce, len(body), digest)}


def talk(g: cl.Gatherer, header: object, body: bytes | None = None) -> dict[str, Any]:
    """One connection: the header (a dict, or raw bytes), then the body if the chief says go."""
    with socket.create_connection(g.address, timeout=10) as s:
        hello = read_frame(s)
        assert hello["protocol"] == cl.PROTOCOL
        if isinstance(header, bytes):
            s.sendall(header)
        else:
            send_frame(s, header(hello["nonce"]) if callable(header) else header)
        answer = read_frame(s)
        if answer.get("go") and body is not None:
            s.sendall(body)
            answer = read_frame(s)
        return answer


def wait_for_problems(g: cl.Gatherer, n: int) -> list[str]:
    deadline = time.monotonic() + 5
    while len(g.problems) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return g.problems


# -- the gather port ------------------------------------------------------------------------------


@pytest.mark.parametrize(("nodes", "port"), [
    (("127.0.0.1:23456", "127.0.0.1:23457"), 23458),  # adjacent ports, the natural thing to type
    (("10.0.0.1:23456", "10.0.0.2:23457"), 23458),  # another host's port counts too
    (("a:100", "b:102", "c:101", "d:104"), 103),
    (("h:23456", "h:23460"), 23457),
    (("h:65535", "h:65534"), 65533),  # nothing above: the first free one below
])
def test_the_gather_port_is_never_a_listed_port(nodes: tuple[str, ...], port: int) -> None:
    assert cl.gather_port(nodes) == port
    assert f"{cl.gather_address(nodes)[0]}:{port}" not in nodes


# -- what the chief takes and refuses -------------------------------------------------------------


def test_a_signed_result_is_taken_and_assembled_with_the_chiefs_own(
        chief: cl.Gatherer, machine: DetectReport) -> None:
    nodes = chief.cluster
    cl.send_result(nodes, 2, a_run(nodes, 2), machine, SECRET, retry_s=5)
    cl.send_result(nodes, 1, a_run(nodes, 1), machine, SECRET, retry_s=5)
    with pytest.raises(cl.ClusterError, match="task 1 has sent its result already; the first "
                                              "one is kept"):
        cl.send_result(nodes, 1, a_run(nodes, 1), machine, SECRET, retry_s=5)  # a different one
    out = cl.gather(chief, a_run(nodes, 0), 5)
    assert [n.task_index for n in out.nodes] == [1, 2] and out.missing == ()
    assert [t for r in out.runs for t in r.tags if t.startswith("task:")] == [
        "task:0", "task:1", "task:2"]
    snap = out.into(new_snapshot(machine))
    assert len(snap.runs) == 3
    assert [(n.task_index, n.address) for n in snap.cluster_nodes] == [(1, nodes[1]),
                                                                      (2, nodes[2])]
    again = out.into(snap)  # appended to a file that has them: the nodes are not doubled
    assert len(again.runs) == 6 and len(again.cluster_nodes) == 2
    (problem,) = out.problems
    assert problem.startswith("refused a result from 127.0.0.1:")
    assert problem.endswith("task 1 has sent its result already; the first one is kept")


def test_the_same_result_sent_twice_is_acknowledged_twice(chief: cl.Gatherer,
                                                           machine: DetectReport) -> None:
    run = a_run(chief.cluster, 1)
    body = body_of(run, machine)
    for _ in range(2):  # a node whose first "got it" was lost sends again
        answer = talk(chief, lambda nonce: signed_header(chief, nonce, 1, body), body)
        assert answer["ok"] is True
    assert chief.problems == [] and chief.received()[0].run == run


def test_a_forged_result_is_refused_and_the_chiefs_run_is_kept(
        chief: cl.Gatherer, machine: DetectReport) -> None:
    nodes = chief.cluster
    with pytest.raises(cl.ClusterError, match="not signed with this cluster's secret"):
        cl.send_result(nodes, 1, a_run(nodes, 1), machine, b"a-guess-at-the-secret!", retry_s=5)
    body = body_of(a_run(nodes, 1), machine)
    unsigned = {"task_index": 1, "body_bytes": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(), "mac": "0" * 64}
    assert talk(chief, unsigned, body)["ok"] is False
    assert talk(chief, {"task_index": 1, "run": {}, "machine": {}})["ok"] is False  # old protocol
    own = a_run(nodes, 0)
    out = cl.gather(chief, own, 0.5)
    assert out.runs == (own,) and out.nodes == () and out.missing == (1, 2)
    assert len(out.problems) == 3
    assert all(p.startswith("refused a result from 127.0.0.1:") for p in out.problems)
    assert "not an hwprof result header" in out.problems[2]


@pytest.mark.parametrize("task", [0, -1, 3, "abc", 10**30, True, 1.0, None, [1]])
def test_a_bad_task_index_is_refused(chief: cl.Gatherer, machine: DetectReport,
                                     task: Any) -> None:
    body = body_of(a_run(chief.cluster, 1), machine)
    answer = talk(chief, lambda nonce: signed_header(chief, nonce, task, body), body)
    assert answer["ok"] is False and "is not a worker of this cluster (1 to 2)" in answer["error"]
    assert chief.received() == ()
    assert "is not a worker of this cluster" in wait_for_problems(chief, 1)[0]


def test_a_run_made_as_another_task_is_refused(chief: cl.Gatherer, machine: DetectReport) -> None:
    body = body_of(a_run(chief.cluster, 1), machine)  # signed as task 2
    answer = talk(chief, lambda nonce: signed_header(chief, nonce, 2, body), body)
    assert answer == {"ok": False, "error": "its run was not made as task 2 of this cluster"}
    assert chief.received() == ()


def test_an_oversized_length_is_refused_without_reading_it(chief: cl.Gatherer) -> None:
    t0 = time.monotonic()
    answer = talk(chief, struct.pack("!I", 0xFFFFFFFF))  # and not one byte more
    assert answer["ok"] is False and "4294967295-byte message" in answer["error"]
    assert time.monotonic() - t0 < 2  # it did not wait for 4 GiB
    huge = {"task_index": 1, "body_bytes": cl.MAX_BODY_BYTES + 1, "body_sha256": "0" * 64,
            "mac": "0" * 64}
    answer = talk(chief, huge)
    assert answer["ok"] is False and f"at most {cl.MAX_BODY_BYTES}" in answer["error"]


def test_a_replayed_message_is_refused(chief: cl.Gatherer, machine: DetectReport) -> None:
    body = body_of(a_run(chief.cluster, 1), machine)
    with socket.create_connection(chief.address, timeout=10) as s:  # captured on its way
        captured = signed_header(chief, read_frame(s)["nonce"], 1, body)
    answer = talk(chief, captured, body)
    assert answer["ok"] is False and "not signed with this cluster's secret" in answer["error"]
    assert chief.received() == ()


def test_a_body_unlike_its_signed_digest_or_not_a_run_is_refused(
        chief: cl.Gatherer, machine: DetectReport) -> None:
    good = body_of(a_run(chief.cluster, 1), machine)
    bad = good.replace(b'"mlp"', b'"MLP"')
    answer = talk(chief, lambda nonce: signed_header(chief, nonce, 1, good), bad)
    assert answer["error"] == "its body does not match its signed digest"
    run = a_run(chief.cluster, 1).model_dump(mode="json")
    run["\x1b[31mred"] = 1  # a terminal control code where a field name goes
    nasty = json.dumps({"run": run, "machine": machine.model_dump(mode="json")}).encode()
    answer = talk(chief, lambda nonce: signed_header(chief, nonce, 1, nasty), nasty)
    assert answer["ok"] is False and "its run or machine is not valid" in answer["error"]
    problems = wait_for_problems(chief, 2)
    assert "\x1b" not in problems[1] and "\\x1b[31mred" in problems[1]
    assert chief.received() == ()


def test_connections_beyond_the_limit_are_closed_and_a_node_still_gets_through(
        chief: cl.Gatherer, machine: DetectReport) -> None:
    idle = [socket.create_connection(chief.address, timeout=5)
            for _ in range(cl.MAX_CONNECTIONS)]
    try:
        for s in idle:
            read_frame(s)  # each one has its handler
        with socket.create_connection(chief.address, timeout=5) as extra:
            assert extra.recv(1) == b""  # closed at once, no hello
        assert "are open already" in wait_for_problems(chief, 1)[0]
    finally:
        for s in idle:
            s.close()
    cl.send_result(chief.cluster, 1, a_run(chief.cluster, 1), machine, SECRET, retry_s=10)
    assert [n.task_index for n in chief.received()] == [1]


def test_the_problems_kept_are_bounded(chief: cl.Gatherer) -> None:
    for _ in range(cl.MAX_PROBLEMS + 5):
        talk(chief, b"\x00\x00\x00\x02{}")
    problems = wait_for_problems(chief, cl.MAX_PROBLEMS + 1)
    assert len(problems) == cl.MAX_PROBLEMS + 1
    assert problems[-1] == "and 5 more refused connection(s)"


def test_a_cancelled_wait_ends_at_once(chief: cl.Gatherer) -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    t0 = time.monotonic()
    out = cl.gather(chief, a_run(chief.cluster, 0), 60, cancel=stop)
    assert time.monotonic() - t0 < 2 and out.missing == (1, 2)


# -- the node's side -------------------------------------------------------------------------------


def test_a_send_to_a_chief_that_is_gone_ends_soon_after_cancel(machine: DetectReport) -> None:
    nodes = a_cluster(2)  # nobody listens on the gather port
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    t0 = time.monotonic()
    with pytest.raises(cl.SendCancelled, match="cancelled before the chief"):
        cl.send_result(nodes, 1, a_run(nodes, 1), machine, SECRET, retry_s=30, cancel=stop)
    assert time.monotonic() - t0 < 1.6


def test_a_send_to_a_silent_listener_ends_soon_after_cancel(machine: DetectReport) -> None:
    nodes = a_cluster(2)
    with socket.create_server(cl.gather_address(nodes)):  # accepts, never says a word
        stop = threading.Event()
        threading.Timer(0.5, stop.set).start()
        t0 = time.monotonic()
        with pytest.raises(cl.SendCancelled):
            cl.send_result(nodes, 1, a_run(nodes, 1), machine, SECRET, retry_s=30, cancel=stop)
        assert time.monotonic() - t0 < 1.6


def test_one_try_fails_fast_and_says_where(machine: DetectReport) -> None:
    nodes = a_cluster(2)
    t0 = time.monotonic()
    with pytest.raises(cl.ClusterError, match=r"could not send the result to the chief at "
                                              r"127\.0\.0\.1:\d+"):
        cl.send_result(nodes, 1, a_run(nodes, 1), machine, SECRET, retry_s=0)
    assert time.monotonic() - t0 < 1.5


def test_a_chief_with_another_secret_refuses_and_the_node_says_so(machine: DetectReport) -> None:
    nodes = a_cluster(2)
    other = cl.Gatherer(nodes, b"the-other-cluster-s-secret")
    try:
        t0 = time.monotonic()
        with pytest.raises(cl.ClusterError, match="did not take this node's result: it is not "
                                                  "signed with this cluster's secret"):
            cl.send_result(nodes, 1, a_run(nodes, 1), machine, SECRET, retry_s=30)
        assert time.monotonic() - t0 < 2  # a refusal is final: no 30 s of retries
    finally:
        other.close()


def test_a_got_it_without_the_secret_is_not_taken_for_the_chiefs(machine: DetectReport) -> None:
    nodes = a_cluster(2)
    server = socket.create_server(cl.gather_address(nodes))

    def impostor() -> None:  # takes anything and says "got it", unsigned
        conn, _ = server.accept()
        with conn:
            send_frame(conn, {"protocol": cl.PROTOCOL, "nonce": "ab" * 16})
            header = read_frame(conn)
            send_frame(conn, {"go": True})
            got = 0
            while got < header["body_bytes"]:
                got += len(conn.recv(1 << 20))
            send_frame(conn, {"ok": True, "mac": "0" * 64})

    thread = threading.Thread(target=impostor)
    thread.start()
    try:
        with pytest.raises(cl.ClusterError, match="its answer is not signed with the cluster "
                                                  "secret, so it may not be the chief"):
            cl.send_result(nodes, 1, a_run(nodes, 1), machine, SECRET, retry_s=5)
    finally:
        thread.join(10)
        server.close()


# -- the secret and the limits --------------------------------------------------------------------


def test_the_secret_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    env = {cl.SECRET_ENV: "  from-the-environment-1234\n"}
    assert cl.load_secret(None, env) == b"from-the-environment-1234"
    f = tmp_path / "secret"
    f.write_text("from-the-file-0123456789\nsecond line ignored\n")
    assert cl.load_secret(f, env) == b"from-the-file-0123456789"  # the flag wins
    with pytest.raises(cl.ClusterError, match=f"needs a secret shared by every node.*"
                                              f"{cl.SECRET_ENV}=[0-9a-f]{{32}}"):
        cl.load_secret(None, {})
    with pytest.raises(cl.ClusterError, match=f"{cl.SECRET_ENV}: the secret is too short"):
        cl.load_secret(None, {cl.SECRET_ENV: "hunter2"})
    f.write_text("\n\n")
    with pytest.raises(cl.ClusterError, match="the secret is empty"):
        cl.load_secret(f, env)
    with pytest.raises(cl.ClusterError, match="missing: cannot read it"):
        cl.load_secret(tmp_path / "missing", env)
    f.write_bytes(b"x" * 10_000)
    with pytest.raises(cl.ClusterError, match="over 4096 bytes"):
        cl.load_secret(f, env)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 0.0, -1.0, 1e9])
def test_timeouts_that_switch_a_limit_off_are_refused(value: float) -> None:
    problem = cl.timeout_problem("--peer-timeout", value)
    assert problem is not None and problem.startswith("--peer-timeout must be")
    assert cl.timeout_problem("--peer-timeout", 60.0) is None


@pytest.mark.parametrize(("extra", "says"), [
    (["--peer-timeout", "nan"], "--peer-timeout must be a positive number of seconds (it is nan)"),
    (["--gather-timeout", "nan"], "--gather-timeout must be a positive number of seconds"),
    (["--gather-timeout", "inf"], "--gather-timeout must be a positive number of seconds"),
    (["--peer-timeout=-inf"], "--peer-timeout must be a positive number of seconds"),
    (["--cluster-secret-file", "/nonexistent/secret"], "--cluster-secret-file "
                                                        "/nonexistent/secret: cannot read it"),
])
def test_the_cluster_flags_are_checked_before_anything_starts(
        extra: list[str], says: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cl.SECRET_ENV, SECRET.decode())
    nodes = a_cluster(2)
    assert main(["run", "mlp", "--cluster", ",".join(nodes), "--task-index", "0", *extra]) == 2
    assert says in capsys.readouterr().err


def test_a_cluster_without_a_secret_is_refused_with_one_to_use(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cl.SECRET_ENV, raising=False)
    assert main(["run", "mlp", "--cluster", "127.0.0.1:1,127.0.0.1:2", "--task-index", "1"]) == 2
    err = capsys.readouterr().err
    assert "a cluster run needs a secret shared by every node" in err
    assert f"{cl.SECRET_ENV}=" in err and "--cluster-secret-file FILE" in err


def test_a_taken_gather_port_is_named_before_anything_starts(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cl.SECRET_ENV, SECRET.decode())
    nodes = a_cluster(2)
    host, port = cl.gather_address(nodes)
    with socket.create_server((host, port)):
        assert main(["run", "mlp", "--cluster", ",".join(nodes), "--task-index", "0"]) == 2
    err = capsys.readouterr().err
    assert f"the chief cannot listen for results on 127.0.0.1:{port}" in err
