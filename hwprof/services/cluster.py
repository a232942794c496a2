"""Multi-machine runs: one snapshot from every node of a tf.distribute cluster.

Each node runs ``hwprof run ... --cluster h0:p0,h1:p1 --task-index i``; TensorFlow's
MultiWorkerMirroredStrategy (configured by TF_CONFIG, see :func:`hwprof.runner.run.worker_env`)
trains across them. hwprof itself only gathers the results: the chief (task 0) listens on its
port + 1 (the "gather port"); every other node, once its run has ended, connects there and sends
one length-prefixed JSON message with its run (result and telemetry) and its machine as
``hwprof detect`` sees it. The chief waits a bounded time for them and writes one snapshot.

Everything goes only between the nodes the user listed; nothing leaves that cluster.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from hwprof.core.devices import DetectReport
from hwprof.core.snapshot import SnapshotRun

MAX_MESSAGE = 512 * 2**20  # a run with an hour of telemetry is far below this
CONNECT_RETRY_S = 30.0
PEER_TIMEOUT_ENV = "HWPROF_PEER_TIMEOUT"  # passes it to the worker process
STALL_MARGIN_S = 15.0  # the parent ends a worker that sends nothing for peer timeout + this


def gather_address(cluster: tuple[str, ...]) -> tuple[str, int]:
    """Where the chief collects results: its host, its port + 1."""
    host, _, port = cluster[0].rpartition(":")
    return host.strip("[]"), int(port) + 1


def _send(sock: socket.socket, doc: dict[str, Any]) -> None:
    data = json.dumps(doc).encode()
    sock.sendall(struct.pack("!Q", len(data)) + data)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            raise ConnectionError("the peer closed the connection early")
        buf += chunk
    return bytes(buf)


def _recv(sock: socket.socket) -> dict[str, Any]:
    (n,) = struct.unpack("!Q", _recv_exact(sock, 8))
    if n > MAX_MESSAGE:
        raise ValueError(f"a message of {n} bytes is too large")
    doc = json.loads(_recv_exact(sock, n))
    if not isinstance(doc, dict):
        raise ValueError("not a result message")
    return doc


@dataclass
class NodeResult:
    """What one node sent: its task index, its run and its machine."""

    task_index: int
    run: SnapshotRun
    machine: DetectReport


@dataclass
class Gatherer:
    """The chief's listener: collects the other nodes' results on the gather port."""

    cluster: tuple[str, ...]
    results: dict[int, NodeResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        host, port = gather_address(self.cluster)
        # on the chief's own address from the cluster list: only the cluster's network sees it
        self._sock = socket.create_server((host, port))
        self._sock.settimeout(0.5)
        self._stop = threading.Event()
        self._done = threading.Condition()
        self._thread = threading.Thread(target=self._serve, name="hwprof-gather", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(30)
                try:
                    doc = _recv(conn)
                    node = NodeResult(int(doc["task_index"]),
                                      SnapshotRun.model_validate(doc["run"]),
                                      DetectReport.model_validate(doc["machine"]))
                    _send(conn, {"ok": True})
                except Exception as err:  # a bad message is reported, never fatal
                    self.errors.append(f"{peer[0]}: an unreadable result ({err})")
                    continue
            with self._done:
                self.results[node.task_index] = node
                self._done.notify_all()

    def wait(self, timeout_s: float) -> list[int]:
        """Wait for every other node (at most ``timeout_s``); the task indexes still missing."""
        others = set(range(1, len(self.cluster)))
        deadline = time.monotonic() + timeout_s
        with self._done:
            while not others <= set(self.results) and time.monotonic() < deadline:
                self._done.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        return sorted(others - set(self.results))

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        self._sock.close()
        self._thread.join(5)


def send_result(cluster: tuple[str, ...], task_index: int, run: SnapshotRun,
                machine: DetectReport, retry_s: float = CONNECT_RETRY_S) -> None:
    """Send this node's result to the chief (retrying while it starts listening); OSError if not."""
    host, port = gather_address(cluster)
    doc = {"task_index": task_index, "run": run.model_dump(mode="json"),
           "machine": machine.model_dump(mode="json")}
    deadline = time.monotonic() + retry_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=10) as sock:
                _send(sock, doc)
                sock.settimeout(30)
                _recv(sock)
                return
        except (OSError, ValueError) as err:
            last = err
            time.sleep(1.0)
    raise OSError(f"could not send the result to the chief at {host}:{port}: {last}")
