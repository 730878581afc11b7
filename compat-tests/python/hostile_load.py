"""A hostile load on one broker, and the broker's resident memory under it.

What it opens (counts per unit of ``scale``):

* ``idle``: connections that never send a byte (200);
* ``half_sent``: frames that claim just under socket.request.max.bytes and
  stop after 4 kB (100) -- a broker that trusted the size prefix would
  allocate 100 MB for each;
* ``oversized`` / ``negative``: size prefixes over socket.request.max.bytes
  or below zero (50 each), which must be closed at once;
* ``pipeliners``: connections that send thousands of Metadata requests
  back to back and never read a response (8 x 5,000);
* ``slow_fetchers``: connections that ask for a topic's whole content
  several times and never read (16 x 4 Fetch requests);
* ``churn``: connections opened and closed as fast as possible for the
  whole run.

Meanwhile a probe -- a normal client -- produces and reads back records in
rounds, and a sampler reads the broker's VmRSS from /proc every 50 ms.
``test_bounds.py`` runs it briefly in CI; ``benches/hostile_load.py`` runs it
at any scale for any time.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import kafka_wire as w

SOCKET_REQUEST_MAX_BYTES = 104_857_600


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


class RssSampler:
    """The peak VmRSS of a process, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid = pid
        self.interval = interval
        self.peak_kib = rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            except (OSError, AssertionError):
                return
            time.sleep(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class Report:
    opened: dict[str, int] = field(default_factory=dict)
    closed_by_broker: dict[str, int] = field(default_factory=dict)
    churned: int = 0
    probe_rounds: int = 0
    probe_worst_s: float = 0.0


def _connect(host: str, port: int) -> socket.socket | None:
    try:
        s = socket.create_connection((host, port), timeout=10)
    except OSError:
        return None
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the broker closed ``sock`` (without waiting)."""
    try:
        sock.setblocking(False)
        while True:
            data = sock.recv(1 << 16)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


class HostileLoad:
    def __init__(self, host: str, port: int, topic: str, scale: float = 1.0):
        self.host, self.port, self.topic = host, port, topic
        self.counts = {
            "idle": int(200 * scale),
            "half_sent": int(100 * scale),
            "oversized": int(50 * scale),
            "negative": int(50 * scale),
            "pipeliners": max(1, int(8 * scale)),
            "slow_fetchers": max(1, int(16 * scale)),
        }
        self.sockets: dict[str, list[socket.socket]] = {k: [] for k in self.counts}
        self.report = Report()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- the attack ---------------------------------------------------------
    def start(self) -> None:
        def open_some(kind: str, first_bytes: bytes | None) -> None:
            for _ in range(self.counts[kind]):
                s = _connect(self.host, self.port)
                if s is None:
                    continue
                if first_bytes:
                    try:
                        s.sendall(first_bytes)
                    except OSError:
                        pass
                self.sockets[kind].append(s)

        open_some("idle", None)
        open_some("half_sent", w.i32(SOCKET_REQUEST_MAX_BYTES - 1) + b"\x00" * 4096)
        open_some("oversized", w.i32(0x7FFFFFFF) + b"\x00" * 64)
        open_some("negative", w.i32(-5) + b"\x00" * 64)
        fetch = w.fetch_v4_request(1, [(self.topic, 0, 0, 50_000_000)], 50_000_000)
        open_some("slow_fetchers", fetch * 4)
        metadata = b"".join(w.metadata_v4_request(i, [self.topic], False) for i in range(5_000))
        for _ in range(self.counts["pipeliners"]):
            s = _connect(self.host, self.port)
            if s is None:
                continue
            self.sockets["pipeliners"].append(s)
            self._spawn(self._flood, s, metadata)
        self._spawn(self._churn)
        self.report.opened = {k: len(v) for k, v in self.sockets.items()}

    def _spawn(self, target, *args) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(t)
        t.start()

    def _flood(self, sock: socket.socket, requests: bytes) -> None:
        """Sends until the broker stops reading (it does not read while its
        responses are not read), never reading a response."""
        sock.settimeout(1.0)
        sent = 0
        while not self._stop.is_set() and sent < len(requests):
            try:
                sent += sock.send(requests[sent:sent + 65536])
            except socket.timeout:
                continue
            except OSError:
                return

    def _churn(self) -> None:
        while not self._stop.is_set():
            s = _connect(self.host, self.port)
            if s is not None:
                s.close()
                self.report.churned += 1

    # -- the probe ----------------------------------------------------------
    def probe_round(self, client: w.WireClient, version: int, round_: int) -> None:
        """Produces one record and reads it back, on an ordinary connection."""
        started = time.monotonic()
        value = f"probe-{round_}".encode()
        result = client.produce(version, self.topic, 1,
                                w.record_batch([w.Rec(key=b"probe", value=value,
                                                      timestamp=int(time.time() * 1000))]))
        assert result.error_code == 0, result
        fetched = client.fetch_v4([(self.topic, 1, result.base_offset, 1 << 20)], 1 << 20)
        records = fetched[(self.topic, 1)].records
        assert fetched[(self.topic, 1)].error_code == 0 and value in records, fetched
        self.report.probe_rounds += 1
        self.report.probe_worst_s = max(self.report.probe_worst_s, time.monotonic() - started)

    # -- the end ------------------------------------------------------------
    def count_closed(self) -> dict[str, int]:
        self.report.closed_by_broker = {
            kind: sum(_closed_by_peer(s) for s in socks) for kind, socks in self.sockets.items()}
        return self.report.closed_by_broker

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)
        for socks in self.sockets.values():
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass


def fill_topic(host: str, port: int, topic: str, batches: int, batch_bytes: int) -> None:
    """What the slow fetchers ask for: ``batches`` batches in partition 0."""
    with w.WireClient(host, port) as client:
        version = w.pick_produce_version(client.api_keys())
        for i in range(batches):
            record = w.Rec(key=f"k{i}".encode(), value=b"v" * batch_bytes,
                           timestamp=int(time.time() * 1000))
            result = client.produce(version, topic, 0, w.record_batch([record]))
            assert result.error_code == 0, result


def run(host: str, port: int, pid: int, topic: str, scale: float, seconds: float,
        idle_ms: int, client_check=None) -> tuple[Report, int, int]:
    """Runs the load for ``seconds``, probing all along; returns the report,
    the broker's VmRSS before the load and its peak (KiB). The broker's
    connections.max.idle.ms is ``idle_ms``: the run lasts past it, so that
    the connections it should close are closed by the end. ``client_check``
    (a real client's round trip, say) runs once the load is on."""
    baseline = rss_kib(pid)
    load = HostileLoad(host, port, topic, scale)
    with RssSampler(pid) as sampler:
        with w.WireClient(host, port, timeout=30) as probe:
            version = w.pick_produce_version(probe.api_keys())
            load.start()
            try:
                if client_check is not None:
                    client_check()
                deadline = time.monotonic() + max(seconds, idle_ms / 1000 + 2)
                round_ = 0
                while time.monotonic() < deadline:
                    load.probe_round(probe, version, round_)
                    round_ += 1
                    time.sleep(0.05)
                load.count_closed()
            finally:
                load.stop()
    return load.report, baseline, sampler.peak_kib
