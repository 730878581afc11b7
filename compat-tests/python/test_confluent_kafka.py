"""confluent-kafka (librdkafka) against gregor.

No consumer groups: consumers use assign() with explicit offsets and never
commit. No idempotence: producers set enable.idempotence=False.
"""

from __future__ import annotations

import random
import time
import zlib

import pytest
from confluent_kafka import (TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME, Consumer, KafkaError, KafkaException,
                             Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from conftest import now_ms, read_batches, wait_until

COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"]
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
ACKS = ["0", "1", "all"]

# Kafka error codes
UNKNOWN_TOPIC_OR_PART = 3
INVALID_TOPIC_EXCEPTION = 17
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_CONFIG = 40


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def make_producer(bootstrap, **conf) -> Producer:
    c = {"bootstrap.servers": bootstrap, "enable.idempotence": False, "acks": "all",
         "linger.ms": 50, "message.timeout.ms": 20000}
    c.update(conf)
    return Producer(c)


def make_consumer(bootstrap, **conf) -> Consumer:
    c = {"bootstrap.servers": bootstrap, "group.id": "compat-confluent",
         "enable.auto.commit": False, "enable.auto.offset.store": False,
         "auto.offset.reset": "earliest", "enable.partition.eof": True}
    c.update(conf)
    return Consumer(c)


def make_records(n: int, base_ts: int, seed: int = 1, big_every: int = 0):
    """Deterministic, varied records: null/empty/binary keys, values and headers."""
    rnd = random.Random(seed)
    recs = []
    for i in range(n):
        if i % 7 == 3:
            key = None
        elif i % 7 == 5:
            key = b""
        else:
            key = f"key-{i}".encode()
        if i % 11 == 4:
            value = None
        elif i % 11 == 6:
            value = b""
        else:
            # compressible text plus a few random bytes
            value = (f"value-{i}-" * rnd.randrange(1, 30)).encode() + rnd.randbytes(rnd.randrange(0, 40))
        if big_every and i % big_every == big_every - 1:
            value = rnd.randbytes(4096) * 16  # 64 KiB, compressible
        hsel = i % 4
        if hsel == 0:
            headers = []
        elif hsel == 1:
            headers = [("h1", f"hv-{i}".encode())]
        elif hsel == 2:
            headers = [("bin", b"\x00\xff\x10\x80"), ("dup", b"a"), ("dup", b"b")]
        else:
            headers = [("empty", b""), ("nullv", None), ("utf8-\u00e9", "\u2603".encode())]
        recs.append({"key": key, "value": value, "headers": headers, "timestamp": base_ts + 10 * i})
    return recs


def produce(producer: Producer, topic: str, records, partition: int = 0, flush_timeout=30.0):
    """Produce all records (async, so linger batches them), flush, and return the
    delivery reports as a list of (error, offset, timestamp) in record order."""
    reports: list = [None] * len(records)

    def cb(idx):
        def dr(err, msg):
            reports[idx] = (err, msg.offset(), msg.timestamp())
        return dr

    for i, r in enumerate(records):
        while True:
            try:
                producer.produce(topic, value=r["value"], key=r["key"], headers=r["headers"] or None,
                                 timestamp=r["timestamp"], partition=partition, on_delivery=cb(i))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(flush_timeout)
    assert remaining == 0, f"{remaining} messages not delivered within {flush_timeout}s"
    assert all(r is not None for r in reports)
    return reports


def consume(bootstrap, topic, start: int, n: int, partition: int = 0, timeout: float = 20.0,
            **conf):
    """Assign (topic, partition, start) and read exactly n records (fails on timeout)."""
    c = make_consumer(bootstrap, **conf)
    try:
        c.assign([TopicPartition(topic, partition, start)])
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consumer error: {m.error()}")
            out.append(m)
        assert len(out) == n, f"got {len(out)} of {n} records within {timeout}s"
        return out
    finally:
        c.close()


def watermarks(bootstrap, topic, partition=0):
    c = make_consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
    finally:
        c.close()


def assert_records_equal(msgs, records, first_offset: int = 0, topic=None, partition=0):
    assert len(msgs) == len(records)
    for i, (m, r) in enumerate(zip(msgs, records)):
        where = f"record #{i} (offset {m.offset()})"
        assert m.offset() == first_offset + i, where
        if topic is not None:
            assert m.topic() == topic
        assert m.partition() == partition, where
        assert m.key() == r["key"], where
        assert m.value() == r["value"], where
        assert (m.headers() or []) == r["headers"], where
        assert m.timestamp() == (TIMESTAMP_CREATE_TIME, r["timestamp"]), where


def create_topic(admin: AdminClient, name: str, partitions: int = 1, config=None, timeout=15):
    fs = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                       config=config or {})], operation_timeout=10)
    fs[name].result(timeout)


def error_code_of(fut, timeout=15):
    with pytest.raises(KafkaException) as ei:
        fut.result(timeout)
    return ei.value.args[0].code()


def topic_names(admin: AdminClient) -> set[str]:
    return set(admin.list_topics(timeout=10).topics)


@pytest.fixture
def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


# ---------------------------------------------------------------------------
# produce / consume
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("acks", ACKS)
def test_produce_consume_roundtrip(broker, topic, acks, compression):
    records = make_records(40, now_ms() - 600_000, seed=zlib.crc32(f"{acks}/{compression}".encode()),
                           big_every=20)
    p = make_producer(broker.bootstrap, acks=acks, **{"compression.type": compression})
    reports = produce(p, topic, records)
    for i, (err, off, ts) in enumerate(reports):
        assert err is None, f"record {i}: {err}"
        if acks != "0":
            assert off == i, f"delivery report offset for record {i}: {off}"
        assert ts == (TIMESTAMP_CREATE_TIME, records[i]["timestamp"])
    msgs = consume(broker.bootstrap, topic, 0, len(records))
    assert_records_equal(msgs, records, topic=topic)
    assert watermarks(broker.bootstrap, topic) == (0, len(records))
    # stored as sent: every batch on disk carries the producer's codec
    # (a client may send an individual batch uncompressed when compression does not pay).
    # Note: librdkafka enables lz4 only if the broker advertises FindCoordinator (api
    # key 10, its "LZ4" feature check); otherwise it silently sends lz4 uncompressed.
    batches = read_batches(broker.partition_dir(topic, 0) / f"{0:020d}.log")
    assert sum(b["count"] for b in batches) == len(records)
    codecs = {b["codec"] for b in batches}
    assert CODEC_IDS[compression] in codecs and codecs <= {0, CODEC_IDS[compression]}, (
        f"codecs of the stored batches: {codecs}; expected the client to send "
        f"{compression} (codec {CODEC_IDS[compression]}) batches")


def test_multiple_batches_append_in_order(broker, topic):
    base = now_ms() - 600_000
    p = make_producer(broker.bootstrap, acks="1")
    all_recs = []
    for round_ in range(5):
        recs = make_records(7, base + round_ * 1000, seed=round_)
        reports = produce(p, topic, recs)
        assert [r[1] for r in reports] == list(range(len(all_recs), len(all_recs) + 7))
        all_recs += recs
    msgs = consume(broker.bootstrap, topic, 0, len(all_recs))
    assert_records_equal(msgs, all_recs)


def test_multi_partition_topic(broker, topic, admin):
    create_topic(admin, topic, partitions=3)
    base = now_ms() - 600_000
    p = make_producer(broker.bootstrap, acks="all")
    per_part = {}
    for part in range(3):
        recs = make_records(5 + part, base + part * 100_000, seed=part)
        reports = produce(p, topic, recs, partition=part)
        assert [r[1] for r in reports] == list(range(5 + part))
        per_part[part] = recs
    for part, recs in per_part.items():
        assert watermarks(broker.bootstrap, topic, part) == (0, len(recs))
        msgs = consume(broker.bootstrap, topic, 0, len(recs), partition=part)
        assert_records_equal(msgs, recs, partition=part)
    # one consumer assigned to all three partitions (multi-partition Fetch)
    c = make_consumer(broker.bootstrap)
    try:
        c.assign([TopicPartition(topic, part, 0) for part in range(3)])
        got = {0: [], 1: [], 2: []}
        deadline = time.monotonic() + 20
        while sum(map(len, got.values())) < 18 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None or (m.error() and m.error().code() == KafkaError._PARTITION_EOF):
                continue
            assert m.error() is None, m.error()
            got[m.partition()].append(m)
    finally:
        c.close()
    for part, recs in per_part.items():
        assert_records_equal(got[part], recs, partition=part)


def test_long_poll_returns_new_record_promptly(broker, topic):
    p = make_producer(broker.bootstrap, **{"linger.ms": 0})
    produce(p, topic, [{"key": b"k0", "value": b"first", "headers": [], "timestamp": now_ms()}])
    c = make_consumer(broker.bootstrap, **{"fetch.wait.max.ms": 5000})
    try:
        c.assign([TopicPartition(topic, 0, 1)])
        # wait in a long poll at the end of the log, then produce
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            assert m is None or (m.error() and m.error().code() == KafkaError._PARTITION_EOF), m
        t0 = time.monotonic()
        produce(p, topic, [{"key": b"k1", "value": b"second", "headers": [], "timestamp": now_ms()}])
        got = None
        while time.monotonic() - t0 < 10 and got is None:
            m = c.poll(0.1)
            if m is not None and not m.error():
                got = m
        assert got is not None, "record produced during a long poll never arrived"
        assert (got.offset(), got.value()) == (1, b"second")
        # the broker must answer the pending Fetch when data arrives, not at fetch.wait.max.ms
        assert time.monotonic() - t0 < 3.0, f"took {time.monotonic() - t0:.2f}s"
    finally:
        c.close()


def test_fetch_limits_smaller_than_a_batch(broker, topic):
    # KIP-74: the first batch is returned even if it exceeds the fetch limits,
    # so a consumer with tiny limits still makes progress
    records = [{"key": f"k{i}".encode(), "value": bytes([i]) * 50_000, "headers": [],
                "timestamp": now_ms()} for i in range(6)]
    p = make_producer(broker.bootstrap, **{"linger.ms": 0})
    for r in records:  # one ~50 KB batch per record
        produce(p, topic, [r])
    msgs = consume(broker.bootstrap, topic, 0, 6, **{"fetch.max.bytes": 1024,
                                                      "message.max.bytes": 1000,
                                                      "max.partition.fetch.bytes": 1024})
    assert [(m.offset(), m.value()) for m in msgs] == [(i, r["value"]) for i, r in enumerate(records)]


@pytest.mark.parametrize("compression", [None, "gzip", "snappy", "lz4", "zstd"],
                         ids=lambda c: c or "none")
def test_consume_batches_produced_by_kafka_python(broker, topic, compression):
    """Interop: batches written by kafka-python (including lz4, which librdkafka
    itself only sends when the broker advertises FindCoordinator) read by librdkafka."""
    from kafka import KafkaProducer
    records = make_records(25, now_ms() - 600_000, seed=11)
    for r in records:  # kafka-python: header values must be bytes, key or value set
        r["headers"] = [(k, v if v is not None else b"") for k, v in r["headers"]]
        if r["key"] is None and r["value"] is None:
            r["value"] = b""
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=False, acks="all",
                      linger_ms=100, compression_type=compression)
    futs = [p.send(topic, value=r["value"], key=r["key"], headers=r["headers"], partition=0,
                   timestamp_ms=r["timestamp"]) for r in records]
    p.flush(30)
    assert [f.get(10).offset for f in futs] == list(range(25))
    p.close(timeout=10)
    codecs = {b["codec"] for b in read_batches(broker.partition_dir(topic, 0) / f"{0:020d}.log")}
    assert codecs == {CODEC_IDS[compression or "none"]}, codecs
    assert_records_equal(consume(broker.bootstrap, topic, 0, 25), records)


def test_concurrent_producers_same_partition(broker, topic):
    """Appends from several connections at once get unique, contiguous offsets."""
    import threading
    n_threads, per_thread = 4, 400
    acked: list[list] = [[] for _ in range(n_threads)]

    def run(t):
        p = make_producer(broker.bootstrap, **{"linger.ms": 2, "acks": "all"})
        for i in range(per_thread):
            p.produce(topic, value=f"t{t}-{i}".encode(), partition=0,
                      on_delivery=lambda err, msg: acked[t].append((err, msg.offset(), msg.value())))
            if i % 50 == 0:
                p.poll(0)
        assert p.flush(30) == 0

    produce(make_producer(broker.bootstrap), topic,
            [{"key": None, "value": b"init", "headers": [], "timestamp": now_ms()}])
    threads = [threading.Thread(target=run, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    total = n_threads * per_thread
    results = [r for rs in acked for r in rs]
    assert len(results) == total and all(err is None for err, _, _ in results)
    assert sorted(off for _, off, _ in results) == list(range(1, total + 1))
    for t in range(n_threads):  # each producer's records keep their order
        offs = [off for _, off, _ in acked[t]]
        assert offs == sorted(offs)
    by_offset = {off: val for _, off, val in results}
    msgs = consume(broker.bootstrap, topic, 1, total, timeout=30)
    assert [(m.offset(), m.value()) for m in msgs] == sorted(by_offset.items())


def test_large_record_near_limit(broker, topic):
    value = bytes(range(256)) * 3900  # 998,400 bytes, below message.max.bytes (1048588)
    reports = produce(make_producer(broker.bootstrap), topic,
                      [{"key": b"big", "value": value, "headers": [], "timestamp": now_ms()}])
    assert reports[0][0] is None and reports[0][1] == 0
    (m,) = consume(broker.bootstrap, topic, 0, 1)
    assert (m.key(), m.value()) == (b"big", value)


# ---------------------------------------------------------------------------
# timestamps / offsets_for_times / ListOffsets
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_offsets_for_times(broker, topic, compression):
    n = 30
    base = now_ms() - 600_000
    records = make_records(n, base, seed=3)  # timestamps base + 10*i
    p = make_producer(broker.bootstrap, **{"linger.ms": 200, "compression.type": compression})
    reports = produce(p, topic, records)
    assert [r[1] for r in reports] == list(range(n))
    # precondition: the records really sit several to a batch (and compressed
    # as sent), so the lookups below land inside batches
    batches = read_batches(broker.partition_dir(topic, 0) / f"{0:020d}.log")
    assert sum(b["count"] for b in batches) == n
    assert len(batches) < n / 2, f"{len(batches)} batches for {n} records"
    assert {b["codec"] for b in batches} == {CODEC_IDS[compression]}

    cases = {
        base - 60_000: 0,            # before everything
        base: 0,
        base + 1: 1,                 # between record 0 and 1 -> first with ts >= T
        base + 70: 7,
        base + 65: 7,
        base + 131: 14,
        base + 10 * (n - 1): n - 1,  # exactly the last
        base + 10 * (n - 1) - 9: n - 1,
        base + 10 * n: -1,           # after everything: no such offset
    }
    c = make_consumer(broker.bootstrap)
    try:
        for ts, expected in cases.items():
            res = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
            assert len(res) == 1 and res[0].error is None, res
            assert res[0].offset == expected, f"offsets_for_times({ts - base:+d}ms): {res[0].offset} != {expected}"
    finally:
        c.close()

    # consuming from the looked-up offset yields the record with that timestamp
    msgs = consume(broker.bootstrap, topic, 14, 1)
    assert msgs[0].timestamp() == (TIMESTAMP_CREATE_TIME, base + 140)


def test_list_offsets_admin(broker, topic, admin):
    base = now_ms() - 600_000
    # non-monotonic timestamps: the max is at offset 6
    ts = [base + d for d in (0, 50, 20, 80, 60, 90, 500, 100, 110, 120)]
    records = [{"key": None, "value": f"v{i}".encode(), "headers": [], "timestamp": t}
               for i, t in enumerate(ts)]
    p = make_producer(broker.bootstrap, **{"linger.ms": 100})
    produce(p, topic, records)
    tp = TopicPartition(topic, 0)

    def lo(spec):
        return admin.list_offsets({tp: spec}, request_timeout=10)[tp].result(15)

    assert lo(OffsetSpec.earliest()).offset == 0
    assert lo(OffsetSpec.latest()).offset == 10
    mx = lo(OffsetSpec.max_timestamp())
    assert (mx.offset, mx.timestamp) == (6, base + 500)
    r = lo(OffsetSpec.for_timestamp(base + 55))  # first record with ts >= base+55 is offset 3 (80)
    assert (r.offset, r.timestamp) == (3, base + 80)
    r = lo(OffsetSpec.for_timestamp(base + 10))  # offset 1 (50)
    assert (r.offset, r.timestamp) == (1, base + 50)
    r = lo(OffsetSpec.for_timestamp(base + 501))
    assert r.offset == -1


def test_watermarks_empty_and_filled(broker, topic, admin):
    create_topic(admin, topic, partitions=1)
    assert watermarks(broker.bootstrap, topic) == (0, 0)
    produce(make_producer(broker.bootstrap), topic, make_records(12, now_ms() - 1000))
    assert watermarks(broker.bootstrap, topic) == (0, 12)


# ---------------------------------------------------------------------------
# positioning
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_assign_middle_offset(broker, topic, compression):
    # several records per batch: offset 17 is inside a batch, which the broker
    # returns whole and the client trims
    records = make_records(30, now_ms() - 600_000, seed=5)
    produce(make_producer(broker.bootstrap, **{"linger.ms": 100, "compression.type": compression}),
            topic, records)
    msgs = consume(broker.bootstrap, topic, 17, 13)
    assert_records_equal(msgs, records[17:], first_offset=17)


def test_seek_to_middle_offset(broker, topic):
    records = make_records(30, now_ms() - 600_000, seed=6)
    produce(make_producer(broker.bootstrap, **{"linger.ms": 100}), topic, records)
    c = make_consumer(broker.bootstrap)
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        first = []
        deadline = time.monotonic() + 20
        while len(first) < 3 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                first.append(m)
        assert [m.offset() for m in first] == [0, 1, 2]
        c.seek(TopicPartition(topic, 0, 22))
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 8 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            got.append(m)
        # after the seek only records from 22 on are returned (anything before 22
        # would be a stale prefetch the client must discard)
        assert_records_equal(got, records[22:], first_offset=22)
    finally:
        c.close()


def test_offset_past_end_resets_to_earliest(broker, topic):
    records = make_records(5, now_ms() - 600_000, seed=7)
    produce(make_producer(broker.bootstrap), topic, records)
    msgs = consume(broker.bootstrap, topic, 100, 5, **{"auto.offset.reset": "earliest"})
    assert_records_equal(msgs, records)


def test_offset_past_end_with_reset_error(broker, topic):
    records = make_records(5, now_ms() - 600_000, seed=8)
    produce(make_producer(broker.bootstrap), topic, records)
    c = make_consumer(broker.bootstrap, **{"auto.offset.reset": "error"})
    try:
        c.assign([TopicPartition(topic, 0, 100)])
        err = None
        deadline = time.monotonic() + 15
        while err is None and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            assert m.error() is not None, f"unexpected record at offset {m.offset()}"
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            err = m.error()
        assert err is not None, "no error for a fetch past the end with auto.offset.reset=error"
        # librdkafka reports the broker's OFFSET_OUT_OF_RANGE (1) as a consumer
        # error _AUTO_OFFSET_RESET whose text carries the broker error
        assert err.code() == KafkaError._AUTO_OFFSET_RESET, err
        assert "Offset out of range" in err.str(), err.str()
    finally:
        c.close()


# ---------------------------------------------------------------------------
# admin: CreateTopics / DeleteTopics / Metadata
# ---------------------------------------------------------------------------

def test_create_topic_with_partitions_and_configs(broker, topic, admin):
    create_topic(admin, topic, partitions=3,
                 config={"retention.ms": "86400000", "cleanup.policy": "delete",
                         "max.message.bytes": "2000000"})
    md = admin.list_topics(topic=topic, timeout=10).topics[topic]
    assert md.error is None
    assert sorted(md.partitions) == [0, 1, 2]
    for pid, pm in md.partitions.items():
        assert pm.leader == 1 and list(pm.replicas) == [1] and list(pm.isrs) == [1]
    for pid in range(3):
        wait_until(lambda: broker.partition_dir(topic, pid).is_dir(), 10,
                   what=f"folder {topic}-{pid}")
    reports = produce(make_producer(broker.bootstrap), topic,
                      make_records(2, now_ms()), partition=2)
    assert [r[1] for r in reports] == [0, 1]


def test_create_topic_segment_bytes_config_is_honoured(broker, topic, admin):
    create_topic(admin, topic, partitions=1, config={"segment.bytes": "4096"})
    records = [{"key": None, "value": bytes([i % 256]) * 500, "headers": [], "timestamp": now_ms()}
               for i in range(40)]
    p = make_producer(broker.bootstrap, **{"linger.ms": 0})
    for r in records:  # one batch (~570 bytes) per request
        produce(p, topic, [r])
    logs = sorted(p.name for p in broker.partition_dir(topic, 0).glob("*.log"))
    assert len(logs) >= 3, f"segment.bytes=4096 with ~20 KB of data gave segments {logs}"
    msgs = consume(broker.bootstrap, topic, 0, 40)
    assert [m.value() for m in msgs] == [r["value"] for r in records]


def test_create_topics_mixed_batch(broker, admin, make_topic):
    good, existing = make_topic("good"), make_topic("existing")
    create_topic(admin, existing, partitions=1)
    fs = admin.create_topics([NewTopic(good, num_partitions=2, replication_factor=1),
                              NewTopic("bad/name", num_partitions=1, replication_factor=1),
                              NewTopic(existing, num_partitions=1, replication_factor=1)])
    assert fs[good].result(15) is None
    assert error_code_of(fs["bad/name"]) == INVALID_TOPIC_EXCEPTION
    assert error_code_of(fs[existing]) == TOPIC_ALREADY_EXISTS
    assert sorted(admin.list_topics(timeout=10).topics[good].partitions) == [0, 1]


@pytest.mark.parametrize("config", [{"no.such.config": "1"}, {"cleanup.policy": "bogus"},
                                    {"retention.ms": "not-a-number"}],
                         ids=["unknown-name", "bad-enum", "bad-number"])
def test_create_topic_invalid_config(broker, topic, admin, config):
    fs = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                                       config=config)])
    assert error_code_of(fs[topic]) == INVALID_CONFIG
    assert topic not in topic_names(admin)


def test_log_append_time_topic(broker, topic, admin):
    create_topic(admin, topic, config={"message.timestamp.type": "LogAppendTime"})
    before = now_ms()
    records = make_records(5, before - 3_600_000, seed=13)  # create times an hour old
    produce(make_producer(broker.bootstrap), topic, records)
    after = now_ms()
    msgs = consume(broker.bootstrap, topic, 0, 5)
    for m, r in zip(msgs, records):
        assert (m.key(), m.value()) == (r["key"], r["value"])
        ts_type, ts = m.timestamp()
        assert ts_type == TIMESTAMP_LOG_APPEND_TIME
        assert before - 1000 <= ts <= after + 1000, (before, ts, after)


def test_create_topic_validate_only(broker, topic, admin):
    fs = admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)],
                             validate_only=True, operation_timeout=10)
    assert fs[topic].result(15) is None
    assert topic not in topic_names(admin)
    assert not broker.partition_dir(topic, 0).exists()
    # and it can really be created afterwards
    create_topic(admin, topic, partitions=2)
    assert sorted(admin.list_topics(timeout=10).topics[topic].partitions) == [0, 1]


def test_create_topic_already_exists(broker, topic, admin):
    create_topic(admin, topic, partitions=1)
    fs = admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    assert error_code_of(fs[topic]) == TOPIC_ALREADY_EXISTS
    # the existing topic is unchanged
    assert sorted(admin.list_topics(timeout=10).topics[topic].partitions) == [0]
    fs = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)],
                             validate_only=True)
    assert error_code_of(fs[topic]) == TOPIC_ALREADY_EXISTS


@pytest.mark.parametrize("name", ["bad/name", "..", ".", "a" * 250, "has space", "sn\u00f8"],
                         ids=["slash", "dotdot", "dot", "len250", "space", "non-ascii"])
def test_create_topic_invalid_name(broker, admin, name):
    fs = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    assert error_code_of(fs[name]) == INVALID_TOPIC_EXCEPTION
    assert name not in topic_names(admin)


def test_create_topic_max_length_name(broker, admin, make_topic):
    name = (make_topic("maxlen-") + "-" + "x" * 249)[:249]
    create_topic(admin, name, partitions=1)
    assert name in topic_names(admin)
    reports = produce(make_producer(broker.bootstrap), name, make_records(1, now_ms()))
    assert reports[0][1] == 0


@pytest.mark.parametrize("partitions,replication,expected", [
    (0, 1, INVALID_PARTITIONS),
    (1, 3, INVALID_REPLICATION_FACTOR),
], ids=["zero-partitions", "rf3-on-one-broker"])
def test_create_topic_invalid_layout(broker, admin, topic, partitions, replication, expected):
    fs = admin.create_topics([NewTopic(topic, num_partitions=partitions,
                                       replication_factor=replication)])
    assert error_code_of(fs[topic]) == expected
    assert topic not in topic_names(admin)


def test_delete_topic(broker, topic, admin):
    create_topic(admin, topic, partitions=2)
    produce(make_producer(broker.bootstrap), topic, make_records(3, now_ms()))
    assert broker.partition_dir(topic, 0).is_dir() and broker.partition_dir(topic, 1).is_dir()
    admin.delete_topics([topic], operation_timeout=10)[topic].result(15)
    wait_until(lambda: topic not in topic_names(admin), 10, what="topic gone from metadata")
    for pid in (0, 1):
        wait_until(lambda: not broker.partition_dir(topic, pid).exists(), 10,
                   what=f"folder {topic}-{pid} removed")
    # deleting again: unknown topic
    fs = admin.delete_topics([topic], operation_timeout=10)
    assert error_code_of(fs[topic]) == UNKNOWN_TOPIC_OR_PART
    # re-creating gives an empty topic starting at offset 0
    create_topic(admin, topic, partitions=1)
    assert watermarks(broker.bootstrap, topic) == (0, 0)
    recs = make_records(2, now_ms(), seed=99)
    assert [r[1] for r in produce(make_producer(broker.bootstrap), topic, recs)] == [0, 1]
    assert_records_equal(consume(broker.bootstrap, topic, 0, 2), recs)


def test_metadata_lists_broker_and_topics(broker, admin, make_topic):
    a, b = make_topic("a"), make_topic("b")
    create_topic(admin, a, partitions=1)
    create_topic(admin, b, partitions=4)
    md = admin.list_topics(timeout=10)
    assert set(md.brokers) == {1}
    assert (md.brokers[1].host, md.brokers[1].port) == (broker.host, broker.port)
    assert md.controller_id == 1
    assert {a, b} <= set(md.topics)
    assert len(md.topics[a].partitions) == 1
    assert len(md.topics[b].partitions) == 4


def test_auto_create_on_produce(broker, topic, admin):
    assert topic not in topic_names(admin)
    recs = make_records(3, now_ms())
    reports = produce(make_producer(broker.bootstrap), topic, recs, partition=0)
    assert [r[1] for r in reports] == [0, 1, 2]
    md = admin.list_topics(topic=topic, timeout=10).topics[topic]
    assert md.error is None and sorted(md.partitions) == [0]  # num.partitions default 1
    assert_records_equal(consume(broker.bootstrap, topic, 0, 3), recs)


def test_auto_create_on_metadata(broker, topic, admin):
    c = make_consumer(broker.bootstrap, **{"allow.auto.create.topics": True})
    try:
        def listed():
            t = c.list_topics(topic=topic, timeout=10).topics.get(topic)
            return t if t is not None and t.error is None and t.partitions else None
        t = wait_until(listed, 10, interval=0.5, what="auto-created topic in metadata")
        assert sorted(t.partitions) == [0]
    finally:
        c.close()
    assert topic in topic_names(admin)
    assert watermarks(broker.bootstrap, topic) == (0, 0)


def test_no_auto_create_when_disabled(broker_factory, topic):
    b = broker_factory(name="noauto", **{"auto.create.topics.enable": "false"})
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    # metadata request that asks for auto-creation
    c = make_consumer(b.bootstrap, **{"allow.auto.create.topics": True})
    try:
        t = c.list_topics(topic=topic, timeout=10).topics[topic]
        assert t.error is not None and t.error.code() == UNKNOWN_TOPIC_OR_PART, t.error
    finally:
        c.close()
    # a producer cannot create it either
    p = make_producer(b.bootstrap, **{"topic.metadata.propagation.max.ms": 1000,
                                      "message.timeout.ms": 8000})
    errors = []
    try:
        p.produce(topic, value=b"x", partition=0, on_delivery=lambda err, msg: errors.append(err))
        p.flush(15)
    except KafkaException as e:
        errors.append(e.args[0])
    assert len(errors) == 1 and errors[0] is not None, errors
    assert errors[0].code() in (KafkaError._UNKNOWN_TOPIC, UNKNOWN_TOPIC_OR_PART), errors[0]
    assert topic not in topic_names(admin)
    assert not b.partition_dir(topic, 0).exists()
    # explicit creation still works
    create_topic(admin, topic, partitions=1)
    reports = produce(make_producer(b.bootstrap), topic, make_records(1, now_ms()))
    assert reports[0][1] == 0
