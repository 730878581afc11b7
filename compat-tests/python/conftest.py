"""Shared harness for the gregor real-client compatibility suite.

The broker under test is the gregor binary taken from ``$GREGOR_BIN`` (default
``<repo>/target/debug/gregor``).  Every broker started here gets a free
loopback port, its own temporary ``log.dirs`` and a log file holding its
stderr/stdout; the tail of that log is attached to the report of every failed
test that had a broker running.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GREGOR_BIN = os.environ.get("GREGOR_BIN", str(REPO_ROOT / "target" / "debug" / "gregor"))
READY_TIMEOUT_S = float(os.environ.get("GREGOR_READY_TIMEOUT", "20"))
STOP_TIMEOUT_S = 20.0
LOG_TAIL_LINES = 80

# Brokers that are currently started (or were started during the running test):
# their log tails are attached to failing test reports.
_LIVE_BROKERS: list["Broker"] = []


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_EPHEMERAL_LOW = _ephemeral_low()
_handed_out: set[int] = set()


def free_port() -> int:
    """A port free now, for a broker that binds it later. Picked below the
    kernel's ephemeral range, so that no outgoing connection (a broker's
    or a client's, which take ephemeral ports) can take it in between, as
    happened when a cluster's later nodes started."""
    for _ in range(200):
        port = random.randrange(10_000, max(_EPHEMERAL_LOW, 10_001))
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class BrokerError(AssertionError):
    pass


class Broker:
    """One gregor broker process (restartable on the same port and data dir)."""

    def __init__(self, name: str = "gregor", overrides: dict | None = None,
                 data_dir: str | Path | None = None, port: int | None = None,
                 env: dict | None = None, host: str = "127.0.0.1",
                 launcher: list[str] | None = None):
        """`overrides` become --override flags (None drops one of the
        defaults below); `env` adds environment variables (GREGOR_*);
        `launcher` is an argv prefix the command runs under (e.g. `ip netns
        exec <ns>`), which must exec it so that signals reach the broker."""
        self.name = name
        self.host = host
        self.launcher = list(launcher or [])
        self.port = port or free_port()
        self._own_tmp = None
        if data_dir is None:
            self._own_tmp = tempfile.mkdtemp(prefix=f"gregor-{name}-")
            data_dir = Path(self._own_tmp) / "data"
            data_dir.mkdir()
        self.data_dir = Path(data_dir)
        self.log_path = self.data_dir.parent / f"{name}.log"
        self.overrides = dict(overrides or {})
        self.env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self._log_file = None
        self.starts = 0
        self.exit_codes: list[int] = []

    # -- addressing -------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def partition_dir(self, topic: str, partition: int = 0) -> Path:
        return self.data_dir / f"{topic}-{partition}"

    # -- lifecycle ----------------------------------------------------------
    def command(self) -> list[str]:
        listener = f"PLAINTEXT://{self.host}:{self.port}"
        settings = {
            "listeners": listener,
            "advertised.listeners": listener,
            "log.dirs": str(self.data_dir),
            "node.id": "1",
        }
        settings.update({k: str(v) for k, v in self.overrides.items() if v is not None})
        for k in [k for k, v in self.overrides.items() if v is None]:
            settings.pop(k, None)
        cmd = [*self.launcher, GREGOR_BIN, "broker"]
        for k, v in settings.items():
            cmd += ["--override", f"{k}={v}"]
        return cmd

    def start(self, timeout: float = READY_TIMEOUT_S) -> "Broker":
        self.start_async()
        return self.wait_ready(timeout)

    def start_async(self) -> None:
        """Launches the process without waiting for it to listen."""
        if not os.path.isfile(GREGOR_BIN) or not os.access(GREGOR_BIN, os.X_OK):
            raise BrokerError(
                f"gregor binary not found or not executable at {GREGOR_BIN} "
                "(build it, or point GREGOR_BIN at it)")
        if self.running:
            raise BrokerError(f"{self.name}: already running")
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        env.setdefault("RUST_BACKTRACE", "1")
        env.update(self.env)
        self._log_file = open(self.log_path, "ab", buffering=0)
        self.starts += 1
        self._log_file.write(
            f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self._log_file,
            stderr=subprocess.STDOUT, env=env, start_new_session=True)
        if self not in _LIVE_BROKERS:
            _LIVE_BROKERS.append(self)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> "Broker":
        """Waits until the started process accepts connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self._closed(code)
                raise BrokerError(
                    f"{self.name}: exited with code {code} during startup\n{self.log_tail()}")
            if port_accepts(self.host, self.port):
                return self
            time.sleep(0.1)
        self.kill()
        raise BrokerError(
            f"{self.name}: port {self.port} not accepting connections after {timeout}s\n"
            f"{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _closed(self, code: int) -> None:
        self.exit_codes.append(code)
        if self._log_file is not None:
            self._log_file.write(f"\n===== exited with code {code}\n".encode())
            self._log_file.close()
            self._log_file = None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait. Returns the exit code; raises if it does not exit in time
        (the process is SIGKILLed in that case)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self._closed(self.proc.returncode)
                self.proc = None
                raise BrokerError(
                    f"{self.name}: did not exit within {timeout}s of SIGTERM (SIGKILLed)\n"
                    f"{self.log_tail()}")
        code = self.proc.returncode
        self._closed(code)
        self.proc = None
        return code

    def freeze(self) -> None:
        """SIGSTOP: the process stays, but does nothing (a stalled broker)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> int:
        """SIGKILL (simulated crash / power loss of the process)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        code = self.proc.returncode
        self._closed(code)
        self.proc = None
        return code

    def restart(self) -> int:
        code = self.stop()
        self.start()
        return code

    def cleanup(self) -> None:
        try:
            if self.proc is not None:
                self.stop()
        finally:
            if self in _LIVE_BROKERS:
                _LIVE_BROKERS.remove(self)
            if self._own_tmp and not os.environ.get("GREGOR_KEEP_DATA"):
                shutil.rmtree(self._own_tmp, ignore_errors=True)

    # -- diagnostics --------------------------------------------------------
    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return f"(no log at {self.log_path})"
        text = data.decode("utf-8", "replace").splitlines()
        return "\n".join(text[-lines:])

    def __repr__(self) -> str:
        return f"<Broker {self.name} {self.bootstrap} data={self.data_dir}>"


# ---------------------------------------------------------------------------
# Report hook: attach broker log tails to failing tests
# ---------------------------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in list(_LIVE_BROKERS):
            rep.sections.append(
                (f"gregor log tail: {b.name} ({b.log_path})", b.log_tail()))


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

def started_shared_broker(name: str, overrides: dict | None = None):
    """Generator for a broker shared by many tests (a session- or
    module-scoped fixture): started once, cleaned up at the end."""
    b = Broker(name=name, overrides=overrides)
    failure = None
    try:
        b.start()
    except BrokerError as e:
        failure = str(e)
    if failure is not None:
        b.cleanup()
        pytest.fail(failure, pytrace=False)
    yield b
    b.cleanup()


def lend_shared_broker(b: Broker, label: str, request):
    """Generator lending a shared broker to one test. If the process died
    while the test ran, that test errors in teardown (so the crash is
    attributed to it) and the broker is restarted on the same data dir for
    the following tests."""
    if not b.running:
        # died earlier (already reported by that test's teardown): bring it back
        if b.proc is not None:
            b.kill()
        b.start()
    yield b
    if not b.running:
        code = b.proc.returncode if b.proc else None
        tail = b.log_tail()
        b.kill()
        try:
            b.start()
        except BrokerError:
            pass
        pytest.fail(f"gregor ({label}) exited with code {code} during "
                    f"{request.node.nodeid}\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def session_broker():
    yield from started_shared_broker("session")


@pytest.fixture
def broker(session_broker, request):
    """The shared broker (see ``lend_shared_broker`` for crash handling)."""
    yield from lend_shared_broker(session_broker, "session broker", request)


# Consumer-group tests share one broker that starts rebalances at once
# (Kafka's default group.initial.rebalance.delay.ms of 3 s would slow every test).
GROUP_BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}


@pytest.fixture(scope="session")
def group_session_broker():
    yield from started_shared_broker("groups", GROUP_BROKER_OVERRIDES)


@pytest.fixture
def group_broker(group_session_broker, request):
    """The shared consumer-group broker (same crash handling as ``broker``)."""
    yield from lend_shared_broker(group_session_broker, "group broker", request)


@pytest.fixture
def group_id(request) -> str:
    """A consumer group id unique to this test (and this run)."""
    return unique_topic("g-" + request.node.name)


@pytest.fixture
def broker_factory(request):
    """Start dedicated brokers (function scope), e.g. for restart/kill tests or
    non-default configs: ``b = broker_factory(**{"auto.create.topics.enable": "false"})``."""
    made: list[Broker] = []

    def make(name: str | None = None, start: bool = True, **overrides) -> Broker:
        b = Broker(name=name or f"fn{len(made)}", overrides=overrides)
        made.append(b)
        if start:
            failure = None
            try:
                b.start()
            except BrokerError as e:
                failure = str(e)
            if failure is not None:
                pytest.fail(failure, pytrace=False)
        return b

    yield make
    errors = []
    for b in made:
        try:
            b.cleanup()
        except BrokerError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture
def topic(request) -> str:
    """A topic name unique to this test (and this run)."""
    return unique_topic(request.node.name)


def unique_topic(hint: str = "t") -> str:
    base = re.sub(r"[^a-zA-Z0-9._-]+", "-", hint).strip("-.")[:60] or "t"
    return f"{base}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_topic(request):
    """Factory for additional unique topic names within one test."""
    counter = iter(range(1000))

    def make(suffix: str = "") -> str:
        return unique_topic(f"{request.node.name}{suffix}{next(counter)}")

    return make


# ---------------------------------------------------------------------------
# Small shared helpers
# ---------------------------------------------------------------------------

class FaultPlane:
    """A client of the broker's fault plane on its admin listener
    (`admin.listener`): arm faults, read the journal."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)

    def arm(self, **fault):
        status, armed = self.call("POST", "/faults", fault)
        assert status == 201, (status, armed)
        return armed

    def journal(self) -> list[dict]:
        return self.call("GET", "/journal")[1]


def start_cluster(size: int = 3, overrides: dict | None = None,
                  observers: int = 0, admin_listeners: bool = False,
                  network=None, racks: dict[int, str] | None = None) -> list[Broker]:
    """`size` brokers in KRaft combined mode (every one a voter), plus
    `observers` brokers with `process.roles=broker` that follow them,
    configured as Kafka's are; started at the same moment. On loopback
    ports, or on a `network` that gives each node its `host(node)` and the
    `launcher(node)` its process runs under (campaign/network.py). `racks`
    gives nodes their `broker.rack`."""
    def host(node: int) -> str:
        return network.host(node) if network else "127.0.0.1"

    def launcher(node: int) -> list[str]:
        return network.launcher(node) if network else []

    ports = {node: (free_port(), free_port()) for node in range(1, size + 1)}
    voters = ",".join(f"{node}@{host(node)}:{controller}"
                      for node, (_, controller) in ports.items())

    def broker(node: int, port: int, roles: str, listeners: str) -> Broker:
        return Broker(name=f"node-{node}", port=port, host=host(node), launcher=launcher(node),
                      overrides={
                          "node.id": node,
                          "process.roles": roles,
                          "listeners": listeners,
                          "advertised.listeners": f"PLAINTEXT://{host(node)}:{port}",
                          "controller.listener.names": "CONTROLLER",
                          "controller.quorum.voters": voters,
                          **({"broker.rack": racks[node]} if node in (racks or {}) else {}),
                          **(overrides or {}),
                      })

    brokers = [broker(node, port, "broker,controller",
                      f"PLAINTEXT://{host(node)}:{port},CONTROLLER://{host(node)}:{controller}")
               for node, (port, controller) in ports.items()]
    for node in range(size + 1, size + observers + 1):
        port = free_port()
        brokers.append(broker(node, port, "broker", f"PLAINTEXT://{host(node)}:{port}"))
    if admin_listeners:
        # Each broker's fault plane, at `broker.admin_port`.
        for b in brokers:
            b.admin_port = free_port()
            b.overrides["admin.listener"] = f"{b.host}:{b.admin_port}"
            b.overrides["admin.fault.plane.enable"] = "true"
    # Started in parallel: each waits for the quorum, which needs the others.
    procs = []
    try:
        for b in brokers:
            procs.append(b)
            b.start_async()
        for b in brokers:
            b.wait_ready()
    except BaseException:
        for b in procs:
            b.cleanup()
        raise
    return brokers


def wait_for_brokers(brokers: list[Broker], timeout: float = 60) -> None:
    """Waits until every running broker lists all running brokers as live
    (registered: a restarted broker answers on its port before it has
    registered again, and tools that check broker ids refuse it until then)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient
    running = [b for b in brokers if b.running]
    for broker in running:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})

        def lists_all():
            try:
                return len(admin.describe_cluster().result(timeout=10).nodes) == len(running)
            except KafkaException:
                return False
        wait_until(lists_all, timeout=timeout, what=f"{broker.name} lists {len(running)} brokers")


def running_cluster(size: int = 3, overrides: dict | None = None, observers: int = 0,
                    admin_listeners: bool = False, racks: dict[int, str] | None = None):
    """Generator for a cluster fixture: started, every broker registered,
    and torn down after the test's report (so a failure shows the logs)."""
    brokers = start_cluster(size, overrides, observers, admin_listeners, racks=racks)
    try:
        wait_for_brokers(brokers)
    except BaseException:
        # The report hook no longer sees brokers cleaned up here: their logs
        # go to the setup's captured stderr.
        for broker in brokers:
            sys.stderr.write(f"----- {broker.name} log tail ({broker.log_path}) -----\n"
                             f"{broker.log_tail()}\n")
            broker.cleanup()
        raise
    yield brokers
    for broker in brokers:
        broker.cleanup()


def kafka_python_knows(consumer, topics) -> None:
    """Has a subscribed kafka-python consumer learn its topics' metadata
    before its first poll joins the group.

    kafka-python 3.0.12 loses an assignment when a metadata update makes it
    rejoin (its first join raced the topic's metadata) and the poll's timer
    runs out between the leader's assignment and the SyncGroup answer: once
    the leader has assigned, `need_rejoin()` is false, the join in flight is
    never awaited again, and the member keeps the empty assignment of the
    first generation for good. It is a client bug (a slow SyncGroup shows it
    against any broker); knowing the topics before the first join avoids the
    metadata rejoin. See compat-tests/FINDINGS.md."""
    for topic in topics:
        consumer.partitions_for_topic(topic)


def wait_until(pred, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``pred`` until it returns a truthy value; return that value, or raise
    AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last={last!r})")
        time.sleep(interval)


def now_ms() -> int:
    return int(time.time() * 1000)


def read_batches(log_path: Path) -> list[dict]:
    """Walk a Kafka-format segment file (concatenated v2 RecordBatches) and
    return each batch's header fields."""
    data = Path(log_path).read_bytes()
    out = []
    pos = 0
    while pos + 61 <= len(data):
        base_offset, length = struct.unpack_from(">qi", data, pos)
        if length <= 0:
            break
        magic = data[pos + 16]
        attributes, last_delta = struct.unpack_from(">hi", data, pos + 21)
        count = struct.unpack_from(">i", data, pos + 57)[0]
        out.append({"base_offset": base_offset, "length": length, "magic": magic,
                    "codec": attributes & 7, "last_offset_delta": last_delta, "count": count})
        pos += 12 + length
    return out
