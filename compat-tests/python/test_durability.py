"""Restart / crash durability and on-disk layout.

(a) clean restart (SIGTERM) keeps every record at its offset;
(b) SIGKILL while a producer (acks=all) is running: every acknowledged record
    is still there after restart, at its acknowledged offset, with its value;
(c) the same with a tiny log.segment.bytes so that several segments exist.
"""

from __future__ import annotations

import re
import struct
import threading
import time

from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import now_ms

SEGMENT_NAME = re.compile(r"^(\d{20})\.(log|index|timeindex)$")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def make_producer(bootstrap, **conf) -> Producer:
    c = {"bootstrap.servers": bootstrap, "enable.idempotence": False, "acks": "all",
         "linger.ms": 5, "message.timeout.ms": 10000, "retries": 0}
    c.update(conf)
    return Producer(c)


def consume_until_eof(bootstrap, topic, partition=0, start=0, timeout=30.0):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-durability",
                  "enable.auto.commit": False, "enable.auto.offset.store": False,
                  "enable.partition.eof": True, "auto.offset.reset": "error"})
    try:
        c.assign([TopicPartition(topic, partition, start)])
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return out
                raise AssertionError(f"consumer error: {m.error()}")
            out.append(m)
        raise AssertionError(f"no end of partition within {timeout}s ({len(out)} records read)")
    finally:
        c.close()


def watermarks(bootstrap, topic, partition=0):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-durability-wm",
                  "enable.auto.commit": False})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
    finally:
        c.close()


def produce_sync(bootstrap, topic, items, partition=0, **conf):
    """items: list of (key, value, timestamp). Returns delivered offsets."""
    p = make_producer(bootstrap, **conf)
    offsets = [None] * len(items)

    def cb(i):
        def dr(err, msg):
            assert err is None, f"record {i}: {err}"
            offsets[i] = msg.offset()
        return dr

    for i, (k, v, ts) in enumerate(items):
        p.produce(topic, key=k, value=v, timestamp=ts, partition=partition, on_delivery=cb(i))
        p.poll(0)
    assert p.flush(30) == 0
    return offsets


class ContinuousProducer(threading.Thread):
    """Produces value-<n> records as fast as the broker acks them; records every
    acknowledged (offset, value) from delivery reports."""

    def __init__(self, bootstrap, topic, value_size=64, **conf):
        super().__init__(daemon=True)
        self.topic = topic
        self.value_size = value_size
        self.producer = make_producer(bootstrap, **conf)
        self.acked: dict[int, bytes] = {}
        self.failed = 0
        self.sent = 0
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()

    def _dr(self, err, msg):
        with self.lock:
            if err is None:
                off = msg.offset()
                assert off not in self.acked, f"offset {off} acknowledged twice"
                self.acked[off] = msg.value()
            else:
                self.failed += 1

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)

    def run(self):
        while not self.stop_flag.is_set():
            for _ in range(20):
                value = f"value-{self.sent:08d}-".encode().ljust(self.value_size, b"x")
                try:
                    self.producer.produce(self.topic, value=value, key=str(self.sent).encode(),
                                          partition=0, on_delivery=self._dr)
                    self.sent += 1
                except BufferError:
                    break
            # serve delivery reports; keep at most a few thousand records in flight
            self.producer.poll(0.002)
            while len(self.producer) > 2000 and not self.stop_flag.is_set():
                self.producer.poll(0.01)
        # resolve everything still in flight (delivered or failed)
        self.producer.flush(30)


def check_segment_layout(part_dir, min_segments=1):
    files = sorted(p.name for p in part_dir.iterdir() if p.is_file())
    segs = {}
    for name in files:
        m = SEGMENT_NAME.match(name)
        if m:
            segs.setdefault(int(m.group(1)), set()).add(m.group(2))
    assert 0 in segs, f"no 00000000000000000000.* segment in {part_dir}: {files}"
    logs = sorted(b for b, exts in segs.items() if "log" in exts)
    assert len(logs) >= min_segments, f"expected >= {min_segments} segments, got {files}"
    for base in logs:
        assert {"log", "index", "timeindex"} <= segs[base], \
            f"segment {base:020d} lacks .index/.timeindex: {files}"
    return logs


def first_batch_base_offset(log_path) -> int | None:
    with open(log_path, "rb") as f:
        head = f.read(12)
    if len(head) < 12:
        return None
    return struct.unpack(">q", head[:8])[0]


def assert_acked_present(bootstrap, topic, acked: dict[int, bytes]):
    msgs = consume_until_eof(bootstrap, topic)
    by_offset = {m.offset(): m.value() for m in msgs}
    offsets = [m.offset() for m in msgs]
    assert offsets == list(range(len(msgs))), "offsets after restart are not contiguous from 0"
    missing = sorted(o for o in acked if o not in by_offset)
    assert not missing, (f"{len(missing)} acknowledged records lost after restart, "
                         f"first offsets {missing[:10]} (log now ends at {len(msgs)})")
    wrong = [(o, acked[o], by_offset[o]) for o in sorted(acked) if by_offset[o] != acked[o]]
    assert not wrong, f"{len(wrong)} acknowledged records changed, first: {wrong[:3]}"
    return msgs


# ---------------------------------------------------------------------------
# (a) clean restart
# ---------------------------------------------------------------------------

def test_clean_restart_keeps_records(broker_factory, topic):
    b = broker_factory(name="restart")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(15)
    base = now_ms() - 600_000
    n = 500
    items0 = [(f"k{i}".encode(), f"p0-value-{i}".encode() * (1 + i % 5), base + i) for i in range(n)]
    items1 = [(None, f"p1-value-{i}".encode(), base + 2 * i) for i in range(n // 5)]
    assert produce_sync(b.bootstrap, topic, items0, acks="1") == list(range(n))
    assert produce_sync(b.bootstrap, topic, items1, partition=1, acks="1") == list(range(n // 5))

    code = b.stop()
    assert code == 0, f"gregor exited with {code} on SIGTERM (expected a clean exit 0)"
    assert b.partition_dir(topic, 0).is_dir()
    check_segment_layout(b.partition_dir(topic, 0))
    b.start()

    md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10)
    assert topic in md.topics and sorted(md.topics[topic].partitions) == [0, 1]
    assert watermarks(b.bootstrap, topic, 0) == (0, n)
    assert watermarks(b.bootstrap, topic, 1) == (0, n // 5)
    for part, items in ((0, items0), (1, items1)):
        msgs = consume_until_eof(b.bootstrap, topic, partition=part)
        assert [m.offset() for m in msgs] == list(range(len(items)))
        for m, (k, v, ts) in zip(msgs, items):
            assert (m.key(), m.value(), m.timestamp()) == (k, v, (TIMESTAMP_CREATE_TIME, ts)), m.offset()
    # appends continue after the last offset
    assert produce_sync(b.bootstrap, topic, [(b"after", b"restart", now_ms())]) == [n]
    # and a second restart sees that one too
    assert b.stop() == 0
    b.start()
    msgs = consume_until_eof(b.bootstrap, topic, start=n - 1)
    assert [(m.offset(), m.value()) for m in msgs] == [(n - 1, items0[-1][1]), (n, b"restart")]


# ---------------------------------------------------------------------------
# (b)/(c) SIGKILL mid-stream
# ---------------------------------------------------------------------------

def _kill_mid_stream(b, topic, min_acked: int, value_size: int):
    # create the topic first so auto-creation is not part of the race
    assert produce_sync(b.bootstrap, topic, [(b"first", b"first-record", now_ms())]) == [0]
    prod = ContinuousProducer(b.bootstrap, topic, value_size=value_size)
    prod.acked[0] = b"first-record"
    prod.start()
    deadline = time.monotonic() + 60
    while prod.acked_count() < min_acked and time.monotonic() < deadline:
        assert prod.is_alive()
        time.sleep(0.01)
    acked_before = prod.acked_count()
    assert acked_before >= min_acked, f"only {acked_before} records acknowledged in 60s"
    code = b.kill()
    assert code == -9, code
    prod.stop_flag.set()
    prod.join(60)
    assert not prod.is_alive(), "producer thread did not finish"
    acked = dict(prod.acked)
    assert len(acked) >= acked_before
    print(f"SIGKILL after {acked_before} acks; finally acked={len(acked)} failed={prod.failed} "
          f"sent={prod.sent} max acked offset={max(acked)}")
    b.start()
    return acked, prod


def test_sigkill_mid_stream_keeps_acknowledged_records(broker_factory, topic):
    b = broker_factory(name="kill")
    acked, prod = _kill_mid_stream(b, topic, min_acked=3000, value_size=100)
    msgs = assert_acked_present(b.bootstrap, topic, acked)
    # the log may hold records whose ack was lost in the crash, but never fewer
    assert len(msgs) >= max(acked) + 1
    # new appends go after everything that survived
    end = len(msgs)
    assert produce_sync(b.bootstrap, topic, [(None, b"after-crash", now_ms())]) == [end]
    assert watermarks(b.bootstrap, topic) == (0, end + 1)


def test_sigkill_with_segment_rolls(broker_factory, topic):
    b = broker_factory(name="kill-segments", **{"log.segment.bytes": "4096"})
    acked, prod = _kill_mid_stream(b, topic, min_acked=1500, value_size=200)
    part_dir = b.partition_dir(topic, 0)
    # Read first: the port opens before the logs are recovered (a segment
    # the crash left without its .timeindex gets one then).
    msgs = assert_acked_present(b.bootstrap, topic, acked)
    logs = check_segment_layout(part_dir, min_segments=5)
    assert len(msgs) >= max(acked) + 1
    # segment base offsets are strictly increasing, within the log, and each
    # non-empty .log starts with a batch whose base offset is the file's name
    assert logs == sorted(set(logs)) and logs[0] == 0 and logs[-1] < len(msgs) + 1
    for base in logs:
        first = first_batch_base_offset(part_dir / f"{base:020d}.log")
        if first is not None:
            assert first == base, f"{base:020d}.log starts with a batch at offset {first}"
    # a clean restart after the crash recovery keeps the layout and the data
    assert b.stop() == 0
    b.start()
    msgs2 = consume_until_eof(b.bootstrap, topic)
    assert check_segment_layout(part_dir, min_segments=len(logs))[: len(logs)] == logs
    assert [(m.offset(), m.value()) for m in msgs2] == [(m.offset(), m.value()) for m in msgs]
    end = len(msgs2)
    assert produce_sync(b.bootstrap, topic, [(None, b"after", now_ms())]) == [end]


def test_segment_layout_after_clean_restart(broker_factory, topic):
    b = broker_factory(name="layout", **{"log.segment.bytes": "4096"})
    items = [(None, bytes([65 + i % 26]) * 300, now_ms() - 1000 + i) for i in range(120)]
    # one record per request: every batch is ~370 bytes, so ~11 per 4 KiB segment
    p = make_producer(b.bootstrap, **{"linger.ms": 0})
    offsets = []
    for k, v, ts in items:
        p.produce(topic, key=k, value=v, timestamp=ts, partition=0,
                  on_delivery=lambda err, msg: offsets.append((err, msg.offset())))
        assert p.flush(15) == 0
    assert offsets == [(None, i) for i in range(120)]
    part_dir = b.partition_dir(topic, 0)
    logs = check_segment_layout(part_dir, min_segments=5)
    for base in logs:
        assert 0 <= base < 120
        first = first_batch_base_offset(part_dir / f"{base:020d}.log")
        assert first == base, f"{base:020d}.log starts with a batch at offset {first}"
        assert (part_dir / f"{base:020d}.log").stat().st_size <= 4096 + 400
    assert b.stop() == 0
    b.start()
    assert check_segment_layout(part_dir, min_segments=len(logs))[: len(logs)] == logs
    msgs = consume_until_eof(b.bootstrap, topic)
    assert [(m.offset(), m.value(), m.timestamp()[1]) for m in msgs] == \
        [(i, v, ts) for i, (_, v, ts) in enumerate(items)]
    # reading from the middle of a later segment after restart
    mid = logs[len(logs) // 2] + 1
    msgs = consume_until_eof(b.bootstrap, topic, start=mid)
    assert [m.offset() for m in msgs] == list(range(mid, 120))


def test_sigterm_with_connected_clients(broker_factory, topic):
    """A clean shutdown does not wait for clients: a consumer parked in a long
    poll and an idle producer are connected while SIGTERM arrives."""
    b = broker_factory(name="sigterm-clients")
    assert produce_sync(b.bootstrap, topic, [(b"k", b"v", now_ms())]) == [0]
    idle_producer = make_producer(b.bootstrap)
    idle_producer.list_topics(timeout=10)
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "compat-sigterm",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 10000,
                  "enable.partition.eof": False})
    try:
        c.assign([TopicPartition(topic, 0, 1)])
        assert c.poll(1.5) is None  # now waiting in Fetch at the end of the log
        t0 = time.monotonic()
        code = b.stop(timeout=15)
        took = time.monotonic() - t0
    finally:
        c.close()
    assert code == 0, f"exit code {code} on SIGTERM"
    # (the pending Fetch would otherwise complete only at fetch.wait.max.ms, ~8.5 s later)
    assert took < 5, f"shutdown took {took:.1f}s with a consumer parked in a long poll"
    b.start()
    msgs = consume_until_eof(b.bootstrap, topic)
    assert [(m.offset(), m.value()) for m in msgs] == [(0, b"v")]


def test_indexes_after_crash_across_segments(broker_factory, topic):
    """Offset and timestamp lookups after a SIGKILL, with many small segments:
    fetches from arbitrary offsets and offsets_for_times must be exact."""
    b = broker_factory(name="index-crash", **{"log.segment.bytes": "4096"})
    n = 400
    base = now_ms() - 600_000
    p = make_producer(b.bootstrap, **{"linger.ms": 0})
    offsets = []
    for i in range(n):
        # small batches of varying size, so segment and batch boundaries move around
        p.produce(topic, key=f"k{i}".encode(), value=f"value-{i}-".encode() * (1 + i % 7),
                  timestamp=base + 10 * i, partition=0,
                  on_delivery=lambda err, msg: offsets.append((err, msg.offset())))
        if i % 3 == 2:
            assert p.flush(15) == 0
    assert p.flush(15) == 0
    assert offsets == [(None, i) for i in range(n)]
    logs_before = check_segment_layout(b.partition_dir(topic, 0), min_segments=5)
    b.kill()
    b.start()
    logs_after = check_segment_layout(b.partition_dir(topic, 0), min_segments=len(logs_before))
    assert logs_after[: len(logs_before)] == logs_before

    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "compat-index",
                  "enable.auto.commit": False})
    try:
        probes = sorted({0, 1, 2, 3, 57, 58, 199, 200, 201, n - 2, n - 1}
                        | {o for o in logs_before if o < n} | {o + 1 for o in logs_before if o + 1 < n})
        for k in probes:
            for t, expect in ((base + 10 * k, k), (base + 10 * k - 5, k)):
                (res,) = c.offsets_for_times([TopicPartition(topic, 0, t)], timeout=10)
                assert res.error is None and res.offset == expect, \
                    f"offsets_for_times(record {k} {t - base - 10 * k:+d}ms) -> {res.offset}"
        (res,) = c.offsets_for_times([TopicPartition(topic, 0, base + 10 * n)], timeout=10)
        assert res.offset == -1
    finally:
        c.close()
    for start in (0, 57, logs_before[len(logs_before) // 2], n - 1):
        msgs = consume_until_eof(b.bootstrap, topic, start=start)
        assert [m.offset() for m in msgs] == list(range(start, n))
        assert msgs[0].key() == f"k{start}".encode()
        assert msgs[0].timestamp() == (TIMESTAMP_CREATE_TIME, base + 10 * start)
    assert produce_sync(b.bootstrap, topic, [(None, b"next", base + 10 * n)]) == [n]
