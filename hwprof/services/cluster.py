"""Multi-machine runs: one snapshot from every node of a tf.distribute cluster.

Each node runs ``hwprof run ... --cluster h0:p0,h1:p1 --task-index i``; TensorFlow's
MultiWorkerMirroredStrategy (configured by TF_CONFIG, see :func:`hwprof.runner.run.worker_env`)
trains across them. hwprof itself only gathers the results: the chief (task 0) listens on its
"gather port" (:func:`gather_port`: the first port above its own that no node of the list uses);
every other node, once its run has ended, connects there and hands over its run (result and
telemetry) and its machine as ``hwprof detect`` sees it. The chief waits a bounded time for them
and :func:`gather` assembles one snapshot's worth of runs and ``cluster_nodes``.

The gather port is open to the chief's network, so every message is authenticated with a secret
shared by the nodes (:data:`SECRET_ENV` or a file; :func:`load_secret`). One connection carries
one result:

1. chief → node: ``{"protocol": PROTOCOL, "nonce": <random hex>}``, fresh for each connection;
2. node → chief: a small header ``{"task_index", "body_bytes", "body_sha256", "mac"}`` where
   ``mac`` is HMAC-SHA256 over the purpose, the cluster list, the task index, the chief's nonce
   and the body's length and digest. The nonce makes a captured message useless on any other
   connection, in this run or another;
3. chief → node: ``{"go": true}`` once the header is well formed, for a task of 1..N-1 and
   signed with the secret, so a peer without the secret never makes the chief read more than
   :data:`MAX_FRAME_BYTES`; or ``{"ok": false, "error": "..."}`` and the connection ends;
4. node → chief: the body, ``{"run": SnapshotRun, "machine": DetectReport}`` as JSON, exactly
   ``body_bytes`` long and matching the signed digest;
5. chief → node: ``{"ok": true, "mac": ...}`` (HMAC over the nonce, task and body digest, so the
   node knows the real chief has its result) or ``{"ok": false, "error": "..."}``.

Every frame but the body is a 4-byte big-endian length and that much JSON. Whatever a peer
sends, the chief only reports it (one line naming the peer, shown as text) and keeps going; its
own run is never at stake. Everything goes only between the nodes the user listed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import secrets
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hwprof.core.devices import DetectReport
from hwprof.core.snapshot import (
    ClusterNode,
    Snapshot,
    SnapshotRun,
    new_snapshot,
    save_snapshot,
    update_snapshot,
)
from hwprof.core.spec import RunSpec

PROTOCOL = "hwprof-gather/2"
SECRET_ENV = "HWPROF_CLUSTER_SECRET"
MIN_SECRET_BYTES = 16
MAX_SECRET_FILE_BYTES = 4096
MAX_FRAME_BYTES = 4096  # the hello, the header and the answer are all far smaller
# A node's run: two hours of telemetry (the recorder thins beyond that) over a few GPUs is tens of
# MiB of JSON; step timings grow with the run. Only read from a peer that proved the secret.
MAX_BODY_BYTES = 256 * 2**20
HEADER_DEADLINE_S = 10.0  # from accepting a connection to having its signed header
BODY_IDLE_S = 30.0  # a body that stops arriving for this long is dropped
ANSWER_WAIT_S = 120.0  # a node waits this long for the chief to check a large body
MAX_CONNECTIONS = 8  # handled at once; more are closed at once
MAX_PROBLEMS = 20  # lines kept for the report; the rest are counted
CONNECT_RETRY_S = 30.0
MAX_TIMEOUT_S = 86400.0  # a day: longer limits are a typo, and overflow some waits
PEER_TIMEOUT_ENV = "HWPROF_PEER_TIMEOUT"  # passes it to the worker process
STALL_MARGIN_S = 15.0  # the parent ends a worker that sends nothing for peer timeout + this
_POLL_S = 0.25  # how often blocking socket calls look at the stop and cancel events
_HEX = frozenset("0123456789abcdef")


class ClusterError(Exception):
    """A cluster problem worth one plain line: no secret, the chief unreachable or refusing."""


class SendCancelled(ClusterError):
    """Sending was cancelled (Ctrl-C) before the chief had the result."""


def as_text(value: object, limit: int = 200) -> str:
    """A peer's words made safe to print: control characters escaped, length capped."""
    text = str(value)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeout_problem(flag: str, seconds: float) -> str | None:
    """Why ``seconds`` will not do for ``flag`` (NaN, infinite, not positive, over a day)."""
    if not math.isfinite(seconds) or seconds <= 0:
        return f"{flag} must be a positive number of seconds (it is {seconds:g})"
    if seconds > MAX_TIMEOUT_S:
        return f"{flag} must be at most {MAX_TIMEOUT_S:g} seconds (a day); it is {seconds:g}"
    return None


# -- where the chief listens -----------------------------------------------------------------------


def _split(node: str) -> tuple[str, int]:
    host, _, port = node.rpartition(":")
    return host.strip("[]"), int(port)


def gather_port(cluster: tuple[str, ...]) -> int:
    """The chief's gather port: the first port above its own that no node of the list uses.

    Every node computes the same port from the same list. Ports of *any* host count, not only the
    chief's, since two names (``localhost``, ``127.0.0.1``) may be one machine; so
    ``--cluster h:23456,h:23457`` gathers on 23458 and never takes task 1's port.
    """
    own = _split(cluster[0])[1]
    taken = {_split(node)[1] for node in cluster}
    for port in (*range(own + 1, 65536), *range(own - 1, 0, -1)):
        if port not in taken:
            return port
    raise ClusterError("no port is left for the chief to gather results on")  # 65535 nodes


def gather_address(cluster: tuple[str, ...]) -> tuple[str, int]:
    """Where the chief collects results: its host from the list, and :func:`gather_port`."""
    return _split(cluster[0])[0], gather_port(cluster)


# -- the shared secret ----------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh random secret, for a message that tells a person how to start a cluster."""
    return secrets.token_hex(16)


def load_secret(path: Path | None, environ: Mapping[str, str] | None = None) -> bytes:
    """The cluster secret: the file's first line when ``path`` is given, else :data:`SECRET_ENV`.

    Never from the command line (it would show in ``ps``). ClusterError says what is wrong and what
    to do: no secret, an unreadable or oversized file, a secret too short to protect anything.
    """
    env = os.environ if environ is None else environ
    how = (f"put the same secret of at least {MIN_SECRET_BYTES} characters in {SECRET_ENV} on "
           f"every node, or in a file passed with --cluster-secret-file FILE (for example, this "
           f"new random one: {SECRET_ENV}={new_secret()})")
    if path is not None:
        where = f"--cluster-secret-file {path}"
        try:
            with path.open("rb") as f:  # read bounded: the path may be a device or a pipe
                raw = f.read(MAX_SECRET_FILE_BYTES + 1)
        except OSError as err:
            raise ClusterError(f"{where}: cannot read it ({err.strerror or err})") from None
        if len(raw) > MAX_SECRET_FILE_BYTES:
            raise ClusterError(f"{where}: the file is over {MAX_SECRET_FILE_BYTES} bytes; a "
                               "secret is one line")
        lines = raw.strip().splitlines()
        secret = lines[0].strip() if lines else b""
    else:
        where = SECRET_ENV
        if SECRET_ENV not in env:
            raise ClusterError("a cluster run needs a secret shared by every node, so that the "
                               f"chief accepts results only from them: {how}")
        secret = os.fsencode(env[SECRET_ENV]).strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise ClusterError(f"{where}: the secret is {'empty' if not secret else 'too short'}; "
                           f"{how}")
    return secret


def _mac(secret: bytes, **fields: Any) -> str:
    # canonical JSON, so both ends sign the same bytes
    data = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(secret, data, hashlib.sha256).hexdigest()


def header_mac(secret: bytes, cluster: tuple[str, ...], task_index: int, nonce: str,
               body_bytes: int, body_sha256: str) -> str:
    """The MAC a node signs its header with (see the module docstring)."""
    return _mac(secret, purpose="hwprof-cluster-result", cluster=list(cluster),
                task_index=task_index, nonce=nonce, body_bytes=body_bytes,
                body_sha256=body_sha256)


def answer_mac(secret: bytes, cluster: tuple[str, ...], task_index: int, nonce: str,
               body_sha256: str) -> str:
    """The MAC the chief signs its "got it" with."""
    return _mac(secret, purpose="hwprof-cluster-received", cluster=list(cluster),
                task_index=task_index, nonce=nonce, body_sha256=body_sha256)


# -- frames ----------------------------------------------------------------------------------------


class _Stopped(Exception):
    """The listener is closing, or the sender was cancelled."""


class _Refused(Exception):
    """A message is refused; the text says why, in plain words."""


def _recv_exact(sock: socket.socket, n: int, *, deadline: float | None, idle_s: float | None,
                stop: threading.Event) -> bytes:
    """Exactly ``n`` bytes, unless the deadline passes, the peer idles, or ``stop`` is set."""
    buf = bytearray()
    last = time.monotonic()
    sock.settimeout(_POLL_S)
    while len(buf) < n:
        if stop.is_set():
            raise _Stopped
        now = time.monotonic()
        if deadline is not None and now > deadline:
            raise TimeoutError("it sent too slowly")
        if idle_s is not None and now - last > idle_s:
            raise TimeoutError(f"it sent nothing for {idle_s:g} s")
        try:
            chunk = sock.recv(min(1 << 20, n - len(buf)))
        except TimeoutError:
            continue
        if not chunk:
            raise ConnectionError("it closed the connection early")
        buf += chunk
        last = time.monotonic()
    return bytes(buf)


def _send_frame(sock: socket.socket, doc: dict[str, Any]) -> None:
    data = json.dumps(doc).encode()
    sock.sendall(struct.pack("!I", len(data)) + data)


def _send_body(sock: socket.socket, data: bytes, stop: threading.Event) -> None:
    # in pieces: sendall's timeout bounds the whole call, and a slow link must not fail a large
    # body nor keep Ctrl-C waiting
    sock.settimeout(BODY_IDLE_S)
    view = memoryview(data)
    for start in range(0, len(data), 1 << 20):
        if stop.is_set():
            raise _Stopped
        sock.sendall(view[start:start + (1 << 20)])


def _recv_frame(sock: socket.socket, *, deadline: float, stop: threading.Event) -> dict[str, Any]:
    """One small JSON frame; its length is checked before a byte of it is read."""
    (n,) = struct.unpack("!I", _recv_exact(sock, 4, deadline=deadline, idle_s=None, stop=stop))
    if n > MAX_FRAME_BYTES:
        raise _Refused(f"it announced a {n}-byte message where at most {MAX_FRAME_BYTES} fit "
                       "(not an hwprof node, or another version)")
    try:
        doc = json.loads(_recv_exact(sock, n, deadline=deadline, idle_s=None, stop=stop))
    except (ValueError, RecursionError):
        raise _Refused("it sent something that is not hwprof's JSON") from None
    if not isinstance(doc, dict):
        raise _Refused("it sent something that is not an hwprof message")
    return doc


# -- the chief ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeResult:
    """What one node sent: its task index, its run and its machine."""

    task_index: int
    run: SnapshotRun
    machine: DetectReport
    body_sha256: str = ""


def _peer_name(peer: Any) -> str:
    try:
        host, port = peer[0], peer[1]
    except (TypeError, IndexError):
        return as_text(peer)
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_hex64(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


class Gatherer:
    """The chief's listener: takes the other nodes' signed results on the gather port.

    Starts listening at once (before the chief's own run, so a node that finishes first finds it),
    handles at most :data:`MAX_CONNECTIONS` connections at a time, each on its own thread, and
    refuses anything unsigned, malformed, oversized, replayed, for another cluster or a task
    outside 1..N-1. ``results`` holds the accepted ones by task index (the first of a task wins;
    the same result sent again is acknowledged, a different one refused); ``problems`` one line
    per refusal, naming the peer.
    """

    def __init__(self, cluster: tuple[str, ...], secret: bytes) -> None:
        self.cluster = cluster
        self.results: dict[int, NodeResult] = {}
        self._secret = secret
        self._problems: list[str] = []
        self._dropped = 0
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._handlers: list[threading.Thread] = []
        host, port = gather_address(cluster)
        # on the chief's own address from the cluster list: only the cluster's network sees it
        self._sock = socket.create_server((host, port))
        self._sock.settimeout(_POLL_S)
        self._thread = threading.Thread(target=self._serve, name="hwprof-gather", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """The host and port it listens on."""
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def problems(self) -> list[str]:
        """One line per refused connection (the first :data:`MAX_PROBLEMS`, then a count)."""
        with self._lock:
            extra = [f"and {self._dropped} more refused connection(s)"] if self._dropped else []
            return [*self._problems, *extra]

    def _problem(self, text: str) -> None:
        with self._lock:
            if len(self._problems) < MAX_PROBLEMS:
                self._problems.append(text)
            else:
                self._dropped += 1

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            name = _peer_name(peer)
            if not self._slots.acquire(blocking=False):
                conn.close()
                self._problem(f"refused a connection from {name}: {MAX_CONNECTIONS} are open "
                              "already")
                continue
            thread = threading.Thread(target=self._handle, args=(conn, name),
                                      name="hwprof-gather-peer", daemon=True)
            self._handlers = [t for t in self._handlers if t.is_alive()]
            self._handlers.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket, name: str) -> None:
        try:
            with conn:
                try:
                    self._exchange(conn)
                except _Refused as err:
                    self._problem(f"refused a result from {name}: {err}")
                    self._answer(conn, {"ok": False, "error": str(err)})
        except _Stopped:
            pass
        except (OSError, ValueError) as err:  # a dropped or too slow connection
            self._problem(f"refused a result from {name}: {as_text(err)}")
        except Exception as err:  # never fatal: the chief's own run matters more
            self._problem(f"refused a result from {name}: an unreadable message "
                          f"({type(err).__name__})")
        finally:
            self._slots.release()

    @staticmethod
    def _answer(conn: socket.socket, doc: dict[str, Any]) -> None:
        try:
            conn.settimeout(1.0)
            _send_frame(conn, doc)
        except OSError:
            pass  # best effort: the peer may be gone, and it is told nothing it must know

    def _exchange(self, conn: socket.socket) -> None:
        nonce = secrets.token_hex(16)
        conn.settimeout(5.0)
        _send_frame(conn, {"protocol": PROTOCOL, "nonce": nonce})
        head = _recv_frame(conn, deadline=time.monotonic() + HEADER_DEADLINE_S, stop=self._stop)
        task, size, digest = self._check_header(head, nonce)
        with self._lock:
            known = self.results.get(task)
        if known is not None and known.body_sha256 != digest:
            raise _Refused(f"task {task} has sent its result already; the first one is kept")
        conn.settimeout(5.0)
        _send_frame(conn, {"go": True})
        body = _recv_exact(conn, size, deadline=None, idle_s=BODY_IDLE_S, stop=self._stop)
        if hashlib.sha256(body).hexdigest() != digest:
            raise _Refused("its body does not match its signed digest")
        node = known or self._check_body(body, task, digest)
        with self._lock:
            if task in self.results and self.results[task].body_sha256 != digest:
                raise _Refused(f"task {task} has sent its result already; the first one is kept")
            self.results.setdefault(task, node)
            self._lock.notify_all()
        conn.settimeout(5.0)
        _send_frame(conn, {"ok": True, "mac": answer_mac(self._secret, self.cluster, task, nonce,
                                                         digest)})

    def _check_header(self, head: dict[str, Any], nonce: str) -> tuple[int, int, str]:
        keys = {"task_index", "body_bytes", "body_sha256", "mac"}
        if set(head) != keys:
            raise _Refused("its header is not an hwprof result header (another version?)")
        task, size = head["task_index"], head["body_bytes"]
        digest, mac = head["body_sha256"], head["mac"]
        last = len(self.cluster) - 1
        if not _is_int(task) or not 1 <= task <= last:
            raise _Refused(f"task index {as_text(task, 40)} is not a worker of this cluster "
                           f"(1 to {last})")
        if not _is_int(size) or not 1 <= size <= MAX_BODY_BYTES:
            raise _Refused(f"it announced a body of {as_text(size, 40)} bytes (at most "
                           f"{MAX_BODY_BYTES})")
        if not _is_hex64(digest) or not _is_hex64(mac):
            raise _Refused("its header's digest or signature is malformed")
        want = header_mac(self._secret, self.cluster, task, nonce, size, digest)
        if not hmac.compare_digest(want, mac):
            raise _Refused(f"it is not signed with this cluster's secret ({SECRET_ENV}), or "
                           "the node was started with another --cluster list")
        return task, size, digest

    def _check_body(self, body: bytes, task: int, digest: str) -> NodeResult:
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            raise _Refused("its body is not JSON") from None
        if not isinstance(doc, dict) or set(doc) != {"run", "machine"}:
            raise _Refused("its body is not a run and a machine")
        try:
            run = SnapshotRun.model_validate(doc["run"])
            machine = DetectReport.model_validate(doc["machine"])
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise _Refused(f"its run or machine is not valid ({err.error_count()} problem(s); "
                           f"first at {as_text(where, 80)}: {as_text(first.get('msg'), 120)})"
                           ) from None
        if run.spec.cluster != self.cluster or run.spec.task_index != task:
            raise _Refused(f"its run was not made as task {task} of this cluster")
        return NodeResult(task, run, machine, digest)

    def received(self) -> tuple[NodeResult, ...]:
        """The results taken so far, by task index."""
        with self._lock:
            return tuple(self.results[i] for i in sorted(self.results))

    def wait(self, timeout_s: float, cancel: threading.Event | None = None) -> list[int]:
        """Wait for every other node (at most ``timeout_s``, or until ``cancel``); those missing."""
        others = set(range(1, len(self.cluster)))
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not others <= set(self.results) and time.monotonic() < deadline:
                if cancel is not None and cancel.is_set():
                    break
                self._lock.wait(min(_POLL_S, max(0.0, deadline - time.monotonic())))
            return sorted(others - set(self.results))

    def close(self) -> None:
        """Stop listening, and end the connections still being read."""
        self._stop.set()
        self._sock.close()
        self._thread.join(5)
        for thread in self._handlers:
            thread.join(5)


# -- what the chief assembles ---------------------------------------------------------------------


def node_run(spec: RunSpec, record: SnapshotRun) -> SnapshotRun:
    """A node's own run, tagged with its task index and address for the cluster snapshot."""
    assert spec.cluster is not None and spec.task_index is not None
    tags = (f"task:{spec.task_index}", f"node:{spec.cluster[spec.task_index]}")
    return record.model_copy(update={"tags": (*record.tags, *tags)})


@dataclass(frozen=True)
class ClusterOutcome:
    """What the chief has once the gather is over: its own run first, then each node's."""

    own: SnapshotRun
    nodes: tuple[NodeResult, ...]
    missing: tuple[int, ...]
    problems: tuple[str, ...]
    cluster: tuple[str, ...]

    @property
    def runs(self) -> tuple[SnapshotRun, ...]:
        """Every run: the chief's, then the other nodes' by task index."""
        return (self.own, *(n.run for n in self.nodes))

    @property
    def cluster_nodes(self) -> tuple[ClusterNode, ...]:
        """Every other node's machine, by task index, for :attr:`Snapshot.cluster_nodes`."""
        return tuple(ClusterNode(task_index=n.task_index, address=self.cluster[n.task_index],
                                 machine=n.machine) for n in self.nodes)

    def into(self, snapshot: Snapshot) -> Snapshot:
        """``snapshot`` (a new one, or one being appended to) with every run and node added."""
        for run in self.runs:
            snapshot = snapshot.with_run(run)
        nodes = (*snapshot.cluster_nodes,
                 *(n for n in self.cluster_nodes if n not in snapshot.cluster_nodes))
        return snapshot.model_copy(update={"cluster_nodes": nodes})


def store_outcome(outcome: ClusterOutcome, path: Path, machine: DetectReport, *, append: bool,
                  force: bool) -> Snapshot:
    """The chief's snapshot of a cluster run: added to ``path`` (``--append``) or a new file.

    Appending holds the file's lock across the read-add-write; ``--save`` refuses an existing
    file unless ``force``, as everywhere. Raises SnapshotError.
    """
    if append:
        return update_snapshot(path, lambda old: outcome.into(old or new_snapshot(machine)))
    snap = outcome.into(new_snapshot(machine))
    save_snapshot(snap, path, overwrite=force)
    return snap


def gather(gatherer: Gatherer, own: SnapshotRun, timeout_s: float,
           cancel: threading.Event | None = None) -> ClusterOutcome:
    """Wait (bounded, cancellable) for the other nodes, stop listening, and put it all together.

    ``own`` (the chief's run, see :func:`node_run`) is always in the outcome, whatever the peers
    sent or failed to send.
    """
    try:
        gatherer.wait(timeout_s, cancel)
    finally:
        gatherer.close()
    nodes = gatherer.received()  # nothing more can come in once closed
    have = {n.task_index for n in nodes}
    missing = [i for i in range(1, len(gatherer.cluster)) if i not in have]
    return ClusterOutcome(own=own, nodes=nodes, missing=tuple(missing),
                          problems=tuple(gatherer.problems), cluster=gatherer.cluster)


# -- a worker -------------------------------------------------------------------------------------


def send_result(cluster: tuple[str, ...], task_index: int, run: SnapshotRun,
                machine: DetectReport, secret: bytes, *, retry_s: float = CONNECT_RETRY_S,
                cancel: threading.Event | None = None) -> None:
    """Send this node's result to the chief, retrying for ``retry_s`` while it is not listening.

    ``retry_s=0`` tries once. ``cancel`` (Ctrl-C) stops it within a fraction of a second with
    SendCancelled; any other failure, or the chief refusing the result, is a ClusterError.
    """
    stop = cancel or threading.Event()
    host, port = gather_address(cluster)
    body = json.dumps({"run": run.model_dump(mode="json"),
                       "machine": machine.model_dump(mode="json")}).encode()
    digest = hashlib.sha256(body).hexdigest()
    deadline = time.monotonic() + retry_s
    last = "no answer"
    while True:
        if stop.is_set():
            raise SendCancelled(f"cancelled before the chief at {host}:{port} had this node's "
                                "result")
        try:
            # a short connect timeout: Ctrl-C is looked at between attempts
            with socket.create_connection((host, port), timeout=1.0) as sock:
                _exchange_as_node(sock, cluster, task_index, secret, body, digest, stop)
                return
        except _Stopped:
            continue  # reported above, at the top of the loop
        except _Refused as err:
            raise ClusterError(f"the chief at {host}:{port} did not take this node's result: "
                               f"{err}") from None
        except (OSError, ValueError) as err:
            last = as_text(err)
        if time.monotonic() >= deadline:
            raise ClusterError(f"could not send the result to the chief at {host}:{port}: "
                               f"{last}")
        stop.wait(1.0)


def _exchange_as_node(sock: socket.socket, cluster: tuple[str, ...], task_index: int,
                      secret: bytes, body: bytes, digest: str, stop: threading.Event) -> None:
    hello = _recv_frame(sock, deadline=time.monotonic() + HEADER_DEADLINE_S, stop=stop)
    nonce = hello.get("nonce")
    if hello.get("protocol") != PROTOCOL or not isinstance(nonce, str) or len(nonce) > 128:
        raise _Refused("it does not speak this version's protocol (is it the same hwprof "
                       "version?)")
    sock.settimeout(BODY_IDLE_S)
    _send_frame(sock, {"task_index": task_index, "body_bytes": len(body), "body_sha256": digest,
                       "mac": header_mac(secret, cluster, task_index, nonce, len(body), digest)})
    answer = _recv_frame(sock, deadline=time.monotonic() + HEADER_DEADLINE_S, stop=stop)
    if answer.get("go") is True:  # the header passed: now the body
        _send_body(sock, body, stop)
        answer = _recv_frame(sock, deadline=time.monotonic() + ANSWER_WAIT_S, stop=stop)
    if answer.get("ok") is not True:
        raise _Refused(as_text(answer.get("error", "no reason given")))
    mac = answer.get("mac")
    want = answer_mac(secret, cluster, task_index, nonce, digest)
    if not isinstance(mac, str) or not hmac.compare_digest(want, mac):
        raise _Refused("its answer is not signed with the cluster secret, so it may not be the "
                       "chief")
