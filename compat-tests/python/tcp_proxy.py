"""A Kafka-frame-aware TCP proxy that cuts its connections on purpose.

Clients connect to the proxy; every accepted connection gets its own upstream
connection to the broker and its own thread.  The proxy forwards whole
Kafka frames (4-byte size prefix) in both directions, remembers the api key of
every request by correlation id, and -- while cutting is enabled -- closes
both sides of a connection when

* ``bytes`` mode: the connection has moved more than a per-connection random
  budget (in either direction).  If the budget runs out on a request, only a
  random prefix of it reaches the broker (a truncated request); if it runs out
  on a response, that response is swallowed (the broker did the work, the
  client never hears about it).
* ``age`` mode: the connection is older than a per-connection random age and
  a Produce request is in flight on it (forwarded, response not yet passed
  on), so that the broker appends a batch whose response the client never
  receives -- the case idempotent producers exist for.  Connections without
  Produce traffic (bootstrap / metadata only) are left alone: cutting those
  too would keep librdkafka re-bootstrapping without ever getting metadata.

After ``max_cuts`` cuts the proxy passes everything through unchanged.
``hold_responses()`` makes it queue responses instead of passing them on (e.g.
to kill the broker after it answered a Produce request the client never sees
answered); ``release_responses()`` passes the queue on.
``stats`` counts what happened (cuts, Produce requests whose response was
lost, truncated requests); ``response_sizes(api_key)`` lists the size of every
response passed on for that api key (e.g. to check Fetch size limits).
"""

from __future__ import annotations

import random
import select
import socket
import struct
import threading
import time

PRODUCE = 0


class CuttingProxy:
    def __init__(self, upstream: tuple[str, int] | None = None, host: str = "127.0.0.1",
                 seed: int | None = None):
        self.host = host
        self.upstream = upstream
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        # policy
        self.mode: str | None = None
        self.bytes_range = (4096, 24576)
        self.age_range = (0.15, 0.25)
        self.max_cuts = 0
        self.stats = {"connections": 0, "cuts": 0, "cuts_bytes_request": 0,
                      "cuts_bytes_response": 0, "cuts_age": 0,
                      "produce_forwarded": 0, "produce_responses_lost": 0,
                      "requests_truncated": 0, "upstream_failures": 0,
                      "produce_lost_upstream_closed": 0}
        self._produce_in_flight = 0
        self.holding = False
        self._held_produce_responses = 0
        self.requests_by_api: dict[int, int] = {}    # api key -> requests forwarded
        self._response_sizes: dict[int, list[int]] = {}   # api key -> response frame sizes
        # called with every whole request frame forwarded (size prefix
        # included), e.g. to record real client traffic
        self.on_request = None
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name=f"proxy-accept-{self.port}")

    # -- control ------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "CuttingProxy":
        self._accept_thread.start()
        return self

    def cut_by_bytes(self, lo: int, hi: int, max_cuts: int) -> None:
        with self._lock:
            self.bytes_range = (lo, hi)
            self.max_cuts = self.stats["cuts"] + max_cuts
            self.mode = "bytes"

    def cut_by_age(self, lo_s: float, hi_s: float, max_cuts: int) -> None:
        with self._lock:
            self.age_range = (lo_s, hi_s)
            self.max_cuts = self.stats["cuts"] + max_cuts
            self.mode = "age"

    def stop_cutting(self) -> None:
        with self._lock:
            self.mode = None

    def hold_responses(self) -> None:
        """Stop passing responses on (they queue up in the proxy, in order)."""
        with self._lock:
            self.holding = True

    def release_responses(self) -> None:
        with self._lock:
            self.holding = False

    def held_produce_responses(self) -> int:
        """Produce responses the broker sent that the proxy holds back right now."""
        with self._lock:
            return self._held_produce_responses

    def produce_in_flight(self) -> int:
        """Produce requests forwarded to the broker whose response has not come back."""
        with self._lock:
            return self._produce_in_flight

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self.stats, requests_by_api=dict(sorted(self.requests_by_api.items())))

    def response_sizes(self, api_key: int) -> list[int]:
        """Sizes (the frame's size prefix) of the responses passed on to clients."""
        with self._lock:
            return list(self._response_sizes.get(api_key, []))

    def close(self) -> None:
        self._closed.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)    # wakes the blocked accept()
        except OSError:
            pass
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            _close(s)
        for t in self._threads:
            t.join(2)
        self._accept_thread.join(2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- internals ----------------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def _may_cut(self) -> bool:
        """Claims one cut if cutting is on and the cut budget is not used up."""
        with self._lock:
            if self.mode is None or self.stats["cuts"] >= self.max_cuts:
                return False
            self.stats["cuts"] += 1
            return True

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(client,), daemon=True,
                                 name=f"proxy-conn-{self.port}")
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
            t.start()

    def _serve(self, client: socket.socket) -> None:
        self._count("connections")
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            self._count("upstream_failures")
            _close(client)
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(10)
        with self._lock:
            self._conns.update((client, upstream))
        in_flight: dict[int, int] = {}       # correlation id -> api key
        held: list[tuple[int, bytes]] = []   # (correlation id, response frame) held back
        try:
            self._pump(client, upstream, in_flight, held)
        except OSError:
            pass
        finally:
            with self._lock:
                self._produce_in_flight -= sum(1 for k in in_flight.values() if k == PRODUCE)
                self._held_produce_responses -= sum(
                    1 for corr, _ in held if in_flight.get(corr) == PRODUCE)
                self._conns.discard(client)
                self._conns.discard(upstream)
            _close(client)
            _close(upstream)

    def _pump(self, client: socket.socket, upstream: socket.socket,
              in_flight: dict[int, int], held: list[tuple[int, bytes]]) -> None:
        with self._lock:
            lo, hi = self.bytes_range
            alo, ahi = self.age_range
        budget = self._rng.randint(lo, hi)
        cut_at = time.monotonic() + self._rng.uniform(alo, ahi)
        moved = 0
        c2b = bytearray()
        b2c = bytearray()
        while not self._closed.is_set():
            now = time.monotonic()
            mode = self.mode
            if (mode == "age" and now >= cut_at
                    and any(k == PRODUCE for k in in_flight.values()) and self._may_cut()):
                self._lost(in_flight)
                self._count("cuts_age")
                return
            if held and not self.holding:
                for corr, frame in held:
                    client.sendall(frame)
                    if self._passed_on(in_flight.pop(corr, None), frame) == PRODUCE:
                        with self._lock:
                            self._produce_in_flight -= 1
                            self._held_produce_responses -= 1
                held.clear()
            r, _, _ = select.select([client, upstream], [], [], 0.02)
            if client in r:
                data = client.recv(65536)
                if not data:
                    return
                c2b += data
                while len(c2b) >= 4:
                    size = struct.unpack_from(">i", c2b, 0)[0]
                    if size < 0 or len(c2b) < 4 + size:
                        break
                    frame = bytes(c2b[:4 + size])
                    del c2b[:4 + size]
                    api_key, corr = (struct.unpack_from(">hhi", frame, 4)[0::2]
                                     if size >= 8 else (-1, -1))
                    if self.mode == "bytes" and moved >= budget and self._may_cut():
                        # a random prefix of this request reaches the broker
                        cut = self._rng.randint(1, len(frame) - 1)
                        upstream.sendall(frame[:cut])
                        self._count("requests_truncated")
                        self._count("cuts_bytes_request")
                        self._lost(in_flight)
                        return
                    upstream.sendall(frame)
                    if self.on_request is not None:
                        self.on_request(frame)
                    moved += len(frame)
                    in_flight[corr] = api_key
                    with self._lock:
                        self.requests_by_api[api_key] = self.requests_by_api.get(api_key, 0) + 1
                        if api_key == PRODUCE:
                            self.stats["produce_forwarded"] += 1
                            self._produce_in_flight += 1
            if upstream in r:
                try:
                    data = upstream.recv(65536)
                except OSError:         # reset
                    data = b""
                if not data:            # the broker closed (or died)
                    n = sum(1 for k in in_flight.values() if k == PRODUCE)
                    if n:
                        self._count("produce_lost_upstream_closed", n)
                    return
                b2c += data
                while len(b2c) >= 8:
                    size = struct.unpack_from(">i", b2c, 0)[0]
                    if size < 0 or len(b2c) < 4 + size:
                        break
                    frame = bytes(b2c[:4 + size])
                    del b2c[:4 + size]
                    corr = struct.unpack_from(">i", frame, 4)[0]
                    if self.mode == "bytes" and moved >= budget and self._may_cut():
                        self._count("cuts_bytes_response")
                        self._lost(in_flight)   # includes this response's request
                        return
                    if self.holding or held:
                        held.append((corr, frame))
                        if in_flight.get(corr) == PRODUCE:
                            with self._lock:
                                self._held_produce_responses += 1
                        continue
                    client.sendall(frame)
                    moved += len(frame)
                    if self._passed_on(in_flight.pop(corr, None), frame) == PRODUCE:
                        with self._lock:
                            self._produce_in_flight -= 1

    def _passed_on(self, api_key: int | None, frame: bytes) -> int | None:
        """Notes the size of a response given to the client; returns its api key."""
        if api_key is not None:
            with self._lock:
                self._response_sizes.setdefault(api_key, []).append(len(frame) - 4)
        return api_key

    def _lost(self, in_flight: dict[int, int]) -> None:
        n = sum(1 for k in in_flight.values() if k == PRODUCE)
        if n:
            self._count("produce_responses_lost", n)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
