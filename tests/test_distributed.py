"""tf.distribute runs: MirroredStrategy over logical CPU devices, and a 2-worker cluster on
127.0.0.1 (ports chosen free at run time), with a worker killed mid-run, adjacent ports and forged
results, Ctrl-C on a worker whose chief is gone, and bad cluster specs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from hwprof.core.snapshot import load_snapshot
from hwprof.core.spec import RunSpec
from hwprof.services.cluster import SECRET_ENV, gather_port

pytestmark = pytest.mark.tf
HWPROF = [sys.executable, "-m", "hwprof"]
ENV = {**os.environ, SECRET_ENV: "a-secret-for-the-tests-only"}  # every node shares it


def hwprof(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HWPROF, *args], capture_output=True, text=True, timeout=timeout,
                          env=ENV)


def free_cluster(n: int) -> str:
    """n free ports on 127.0.0.1, and the chief's gather port free too."""
    ports: list[int] = []
    socks = []
    while len(ports) < n:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    nodes = tuple(f"127.0.0.1:{p}" for p in ports)
    gather = socket.socket()
    try:
        gather.bind(("127.0.0.1", gather_port(nodes)))
    except OSError:
        pytest.skip("the chief's gather port is taken; run again")
    finally:
        gather.close()
        for s in socks:
            s.close()
    return ",".join(nodes)


def adjacent_cluster(n: int) -> str:
    """n adjacent ports on 127.0.0.1 (as a person types them); the gather port is the next one."""
    for _ in range(20):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        first = s.getsockname()[1]
        s.close()
        taken = []
        try:
            for port in range(first, first + n + 1):
                t = socket.socket()
                taken.append(t)
                t.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for t in taken:
                t.close()
        return ",".join(f"127.0.0.1:{first + i}" for i in range(n))
    pytest.skip("no run of free ports; run again")


def test_mirrored_strategy_over_two_logical_cpus_scales(tmp_path: Path) -> None:
    snap = tmp_path / "scale.hwprof.json"
    done = hwprof("sweep", "mlp", "--size", "16", "--batch-size", "64", "--over", "replicas",
                  "--values", "1,2", "--duration", "1.5", "--warmup", "1", "--json",
                  "--png", str(tmp_path / "scale.png"), "--save", str(snap))
    assert done.returncode == 0, done.stderr
    a = json.loads(done.stdout)["analysis"]
    assert a["x"] == [1.0, 2.0]
    means = [m["mean"] for m in a["series"]["cpu"]]
    assert all(m > 0 for m in means)
    eff = a["scaling"]["cpu"]["efficiency"]
    assert eff[0] == 1.0 and eff[1] == pytest.approx(means[1] / (2 * means[0]))
    runs = load_snapshot(snap).runs
    assert [r.spec.replicas for r in runs] == [1, 2]
    two = runs[1].result.report
    assert two is not None and two.samples_per_step == 128  # 64 per replica, 2 replicas
    assert any("2 replicas in sync" in n for n in two.notes)
    assert (tmp_path / "scale.png").stat().st_size > 5_000


def test_two_workers_on_localhost_gather_into_one_snapshot(tmp_path: Path) -> None:
    cluster = free_cluster(2)
    snap = tmp_path / "cluster.hwprof.json"
    common = ["run", "mlp", "--size", "16", "--steps", "30", "--warmup", "1",
              "--cluster", cluster, "--peer-timeout", "30"]
    worker = subprocess.Popen([*HWPROF, *common, "--task-index", "1"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        chief = hwprof(*common, "--task-index", "0", "--save", str(snap),
                       "--gather-timeout", "60")
        _w_out, w_err = worker.communicate(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, w_err
    assert "sent this node's result to the chief" in w_err
    assert chief.returncode == 0, chief.stderr
    s = load_snapshot(snap)
    assert len(s.runs) == 2 and [n.task_index for n in s.cluster_nodes] == [1]
    assert {t for r in s.runs for t in r.tags if t.startswith("task:")} == {"task:0", "task:1"}
    for r in s.runs:
        assert r.result.ok and r.result.report is not None
        assert r.result.report.samples_per_step == 2 * 256  # global batch of 2 workers
        assert r.telemetry is not None  # each node's own telemetry
    assert "cluster: every node" in chief.stdout


def test_a_worker_killed_mid_run_ends_the_chief_with_a_clear_error(tmp_path: Path) -> None:
    cluster = free_cluster(2)
    common = ["run", "mlp", "--size", "16", "--duration", "120", "--warmup", "1",
              "--cluster", cluster, "--peer-timeout", "8"]
    worker = subprocess.Popen([*HWPROF, *common, "--task-index", "1"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True, env=ENV)
    chief = subprocess.Popen([*HWPROF, *common, "--task-index", "0", "--gather-timeout", "2",
                              "--save", str(tmp_path / "c.hwprof.json")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        time.sleep(1)
        deadline = time.monotonic() + 120
        # wait until training runs (the chief prints its steps), then kill the whole worker
        while time.monotonic() < deadline:
            time.sleep(1)
            if (tmp_path / "c.hwprof.json").exists() or chief.poll() is not None:
                break
            if len(workers_of(chief) + workers_of(worker)) >= 2:
                time.sleep(6)  # compiled and stepping
                break
        os.killpg(worker.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        _out, err = chief.communicate(timeout=90)
        took = time.monotonic() - killed_at
    finally:
        for p in (chief, worker):
            if p.poll() is None:
                p.kill()
            p.wait()
    assert chief.returncode == 1, err
    assert "the cluster run failed on this node" in err and "A peer may be unreachable" in err
    assert "no result from task(s) 1" in err
    assert took < 8 + 15 + 20  # the peer timeout, the stall margin, the gather wait: bounded


def workers_of(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The worker processes (``hwprof _child``) this hwprof process started, and no one else's."""
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for kid in kids:
        try:
            if "_child" in kid.cmdline():
                found.append(kid)
        except psutil.Error:
            pass
    return found


def forge(host: str, port: int, deadline: float) -> int:
    """Send the chief's gather port what a stranger might; how many were delivered."""
    import struct

    forgeries = [
        struct.pack("!I", 0xFFFFFFFF),  # a 4 GiB message announced
        struct.pack("!Q", 40) + b'{"task_index": 5, "run": {}, "machine": {}}',  # 0.1's crash
        json.dumps({"task_index": 1, "body_bytes": 10, "body_sha256": "0" * 64,
                    "mac": "0" * 64}).encode(),  # a result for task 1, unsigned
    ]
    forgeries[2] = struct.pack("!I", len(forgeries[2])) + forgeries[2]
    delivered = 0
    for data in forgeries:
        while time.monotonic() < deadline:
            try:
                s = socket.create_connection((host, port), timeout=5)
            except OSError:
                time.sleep(0.2)  # the chief is not listening yet
                continue
            with s:
                s.settimeout(10)
                s.recv(1 << 16)  # the hello
                s.sendall(data)
                delivered += 1
                with contextlib.suppress(OSError):  # a reset: the chief read no further
                    s.recv(1 << 16)  # the refusal
            break
    return delivered


def test_adjacent_ports_and_forged_results_leave_the_cluster_run_whole(tmp_path: Path) -> None:
    import threading

    cluster = adjacent_cluster(2)  # 127.0.0.1:P,127.0.0.1:P+1: the chief gathers on P+2
    nodes = tuple(cluster.split(","))
    snap = tmp_path / "cluster.hwprof.json"
    common = ["run", "mlp", "--size", "16", "--steps", "30", "--warmup", "1",
              "--cluster", cluster, "--peer-timeout", "30"]
    worker = subprocess.Popen([*HWPROF, *common, "--task-index", "1"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=ENV)
    delivered: list[int] = []
    forger = threading.Thread(target=lambda: delivered.append(
        forge("127.0.0.1", gather_port(nodes), time.monotonic() + 60)))
    forger.start()
    try:
        chief = hwprof(*common, "--task-index", "0", "--save", str(snap), "--gather-timeout", "60")
        _w_out, w_err = worker.communicate(timeout=120)
    finally:
        forger.join(70)
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert gather_port(nodes) == int(nodes[1].rpartition(":")[2]) + 1
    assert worker.returncode == 0, w_err
    assert chief.returncode == 0, chief.stderr
    assert delivered == [3]
    lines = [ln for ln in chief.stderr.splitlines() if "refused a result from 127.0.0.1:" in ln]
    assert len(lines) == 3, chief.stderr
    s = load_snapshot(snap)
    assert {t for r in s.runs for t in r.tags if t.startswith("task:")} == {"task:0", "task:1"}
    assert [n.task_index for n in s.cluster_nodes] == [1]
    assert all(r.result.ok for r in s.runs)


def test_ctrl_c_on_a_worker_whose_chief_is_gone_ends_soon_with_130() -> None:
    cluster = free_cluster(2)  # nobody runs task 0
    worker = subprocess.Popen([*HWPROF, "run", "mlp", "--size", "16", "--steps", "30",
                               "--cluster", cluster, "--task-index", "1", "--peer-timeout", "120"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not workers_of(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert workers_of(worker), "the worker process never started"
        time.sleep(3)  # TensorFlow starts, and waits for the chief
        os.killpg(worker.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        sent = time.monotonic()
        _out, err = worker.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    assert worker.returncode == 130, err
    assert "could not send the result to the chief" in err
    print(f"Ctrl-C to exit: {took:.1f} s")
    assert took < 8, f"took {took:.1f} s"


@pytest.mark.parametrize(("cluster", "task", "says"), [
    ("localhost", "0", "is not host:port"),
    ("a:1,a:1", "0", "appears twice"),
    ("a:1,b:2", "2", "task index 2 is not in a cluster of 2"),
    ("a:99999", "0", "is not host:port"),
])
def test_bad_cluster_values_are_refused(cluster: str, task: str, says: str) -> None:
    done = hwprof("run", "mlp", "--cluster", cluster, "--task-index", task)
    assert done.returncode == 2 and says in done.stderr, done.stderr


def test_distributed_specs_say_what_they_need() -> None:
    with pytest.raises(ValueError, match="train a Keras model"):
        RunSpec(workload="matmul", replicas=2)
    with pytest.raises(ValueError, match="needs both"):
        RunSpec(workload="mlp", cluster=("a:1", "b:2"))
    spec = RunSpec(workload="mlp", cluster=("a:1", "b:2"), task_index=1, batch_size=32)
    assert spec.global_batch_size == 64 and "cluster of 2 (task 1)" in spec.label()
    done = hwprof("run", "mlp", "--task-index", "1")
    assert done.returncode == 2 and "--task-index goes with --cluster" in done.stderr
