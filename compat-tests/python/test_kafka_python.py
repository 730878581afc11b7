"""kafka-python against gregor (same coverage as test_confluent_kafka.py).

Consumers use group_id=None + assign()/seek(); producers set
enable_idempotence=False.
"""

from __future__ import annotations

import random
import time
import zlib

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import OffsetSpec
import kafka.errors as Errors

from conftest import now_ms, read_batches, wait_until

COMPRESSIONS = [None, "gzip", "snappy", "lz4", "zstd"]
CODEC_IDS = {None: 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
ACKS = [0, 1, "all"]
CREATE_TIME = 0  # ConsumerRecord.timestamp_type
LOG_APPEND_TIME = 1

UNKNOWN_TOPIC_OR_PART = 3
INVALID_TOPIC_EXCEPTION = 17
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_CONFIG = 40


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def make_producer(bootstrap, **conf) -> KafkaProducer:
    c = dict(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=50,
             request_timeout_ms=15000, max_block_ms=20000, delivery_timeout_ms=30000)
    c.update(conf)
    return KafkaProducer(**c)


def make_consumer(bootstrap, **conf) -> KafkaConsumer:
    c = dict(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
             auto_offset_reset="earliest", fetch_max_wait_ms=500, request_timeout_ms=15000)
    c.update(conf)
    return KafkaConsumer(**c)


def make_admin(bootstrap) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)


def make_records(n: int, base_ts: int, seed: int = 1, big_every: int = 0):
    """Same shape as the confluent suite, within kafka-python's API limits
    (header values must be bytes; key and value cannot both be null)."""
    rnd = random.Random(seed)
    recs = []
    for i in range(n):
        if i % 7 == 3:
            key = None
        elif i % 7 == 5:
            key = b""
        else:
            key = f"key-{i}".encode()
        if i % 11 == 4 and key is not None:
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
            headers = [("empty", b""), ("utf8-\u00e9", "\u2603".encode())]
        recs.append({"key": key, "value": value, "headers": headers, "timestamp": base_ts + 10 * i})
    return recs


def produce(producer: KafkaProducer, topic: str, records, partition: int = 0, timeout=30.0):
    """Send all records (async, so linger batches them), flush, return RecordMetadata list."""
    futs = [producer.send(topic, value=r["value"], key=r["key"], headers=r["headers"],
                          partition=partition, timestamp_ms=r["timestamp"]) for r in records]
    producer.flush(timeout)
    return [f.get(timeout) for f in futs]


def consume(bootstrap, topic, start: int, n: int, partition: int = 0, timeout: float = 20.0,
            **conf):
    c = make_consumer(bootstrap, **conf)
    try:
        tp = TopicPartition(topic, partition)
        c.assign([tp])
        c.seek(tp, start)
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200, max_records=n - len(out)).values():
                out.extend(recs)
        assert len(out) == n, f"got {len(out)} of {n} records within {timeout}s"
        return out
    finally:
        c.close()


def watermarks(bootstrap, topic, partition=0):
    c = make_consumer(bootstrap)
    try:
        tp = TopicPartition(topic, partition)
        return (c.beginning_offsets([tp], timeout_ms=10000)[tp],
                c.end_offsets([tp], timeout_ms=10000)[tp])
    finally:
        c.close()


def assert_records_equal(msgs, records, first_offset: int = 0, partition=0):
    assert len(msgs) == len(records)
    for i, (m, r) in enumerate(zip(msgs, records)):
        where = f"record #{i} (offset {m.offset})"
        assert m.offset == first_offset + i, where
        assert m.partition == partition, where
        assert m.key == r["key"], where
        assert m.value == r["value"], where
        assert list(m.headers or []) == r["headers"], where
        assert (m.timestamp_type, m.timestamp) == (CREATE_TIME, r["timestamp"]), where


def topic_entry(result: dict, name: str) -> dict:
    for t in result["topics"]:
        if t["name"] == name:
            return t
    raise AssertionError(f"{name} not in {result}")


def create_topic(admin: KafkaAdminClient, name, partitions=1, configs=None, validate_only=False):
    res = admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1,
                                      "configs": configs or {}}},
                              timeout_ms=10000, validate_only=validate_only, raise_errors=False)
    return topic_entry(res, name)


def describe(admin, name) -> dict:
    (t,) = [t for t in admin.describe_topics([name]) if t["name"] == name]
    return t


@pytest.fixture
def admin(broker):
    a = make_admin(broker.bootstrap)
    yield a
    a.close()


# ---------------------------------------------------------------------------
# produce / consume
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("compression", COMPRESSIONS, ids=lambda c: c or "none")
@pytest.mark.parametrize("acks", ACKS)
def test_produce_consume_roundtrip(broker, topic, acks, compression):
    records = make_records(40, now_ms() - 600_000,
                           seed=zlib.crc32(f"kp/{acks}/{compression}".encode()), big_every=20)
    p = make_producer(broker.bootstrap, acks=acks, compression_type=compression)
    try:
        metas = produce(p, topic, records)
    finally:
        p.close(timeout=10)
    for i, md in enumerate(metas):
        assert (md.topic, md.partition) == (topic, 0)
        if acks != 0:
            assert md.offset == i, f"record {i}: acknowledged at offset {md.offset}"
    msgs = consume(broker.bootstrap, topic, 0, len(records))
    assert_records_equal(msgs, records)
    assert watermarks(broker.bootstrap, topic) == (0, len(records))
    # stored as sent: every batch on disk carries the producer's codec
    # (a client may send an individual batch uncompressed when compression does not pay)
    batches = read_batches(broker.partition_dir(topic, 0) / f"{0:020d}.log")
    assert sum(b["count"] for b in batches) == len(records)
    codecs = {b["codec"] for b in batches}
    assert CODEC_IDS[compression] in codecs and codecs <= {0, CODEC_IDS[compression]}, (
        f"codecs of the stored batches: {codecs}; expected the client to send "
        f"{compression} (codec {CODEC_IDS[compression]}) batches")


def test_multiple_batches_append_in_order(broker, topic):
    base = now_ms() - 600_000
    p = make_producer(broker.bootstrap, acks=1)
    all_recs = []
    for round_ in range(5):
        recs = make_records(7, base + round_ * 1000, seed=round_)
        metas = produce(p, topic, recs)
        assert [m.offset for m in metas] == list(range(len(all_recs), len(all_recs) + 7))
        all_recs += recs
    p.close(timeout=10)
    assert_records_equal(consume(broker.bootstrap, topic, 0, len(all_recs)), all_recs)


def test_multi_partition_topic(broker, topic, admin):
    assert create_topic(admin, topic, partitions=3)["error_code"] == 0
    base = now_ms() - 600_000
    p = make_producer(broker.bootstrap)
    per_part = {}
    for part in range(3):
        recs = make_records(5 + part, base + part * 100_000, seed=part)
        metas = produce(p, topic, recs, partition=part)
        assert [m.offset for m in metas] == list(range(5 + part))
        assert {m.partition for m in metas} == {part}
        per_part[part] = recs
    p.close(timeout=10)
    for part, recs in per_part.items():
        assert watermarks(broker.bootstrap, topic, part) == (0, len(recs))
        assert_records_equal(consume(broker.bootstrap, topic, 0, len(recs), partition=part),
                             recs, partition=part)
    # one consumer assigned to all three partitions (multi-partition Fetch)
    c = make_consumer(broker.bootstrap)
    try:
        tps = [TopicPartition(topic, part) for part in range(3)]
        c.assign(tps)
        for tp in tps:
            c.seek(tp, 0)
        got = {0: [], 1: [], 2: []}
        deadline = time.monotonic() + 20
        while sum(map(len, got.values())) < 18 and time.monotonic() < deadline:
            for tp, recs in c.poll(timeout_ms=200).items():
                got[tp.partition].extend(recs)
    finally:
        c.close()
    for part, recs in per_part.items():
        assert_records_equal(got[part], recs, partition=part)


def test_fetch_limits_smaller_than_a_batch(broker, topic):
    records = [{"key": f"k{i}".encode(), "value": bytes([i]) * 50_000, "headers": [],
                "timestamp": now_ms()} for i in range(6)]
    p = make_producer(broker.bootstrap, linger_ms=0)
    for r in records:  # one ~50 KB batch per record
        produce(p, topic, [r])
    p.close(timeout=10)
    msgs = consume(broker.bootstrap, topic, 0, 6, fetch_max_bytes=1024,
                   max_partition_fetch_bytes=1024)
    assert [(m.offset, m.value) for m in msgs] == [(i, r["value"]) for i, r in enumerate(records)]


def test_consume_batches_produced_by_confluent(broker, topic):
    """Interop: librdkafka-written (zstd) batches read by kafka-python."""
    from confluent_kafka import Producer
    records = make_records(25, now_ms() - 600_000, seed=12)
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": False,
                  "linger.ms": 100, "compression.type": "zstd"})
    offsets = []
    for r in records:
        p.produce(topic, value=r["value"], key=r["key"], headers=r["headers"] or None,
                  timestamp=r["timestamp"], partition=0,
                  on_delivery=lambda err, msg: offsets.append((err, msg.offset())))
    assert p.flush(30) == 0
    assert offsets == [(None, i) for i in range(25)]
    assert_records_equal(consume(broker.bootstrap, topic, 0, 25), records)


def test_long_poll_returns_new_record_promptly(broker, topic):
    p = make_producer(broker.bootstrap, linger_ms=0)
    produce(p, topic, [{"key": b"k0", "value": b"first", "headers": [], "timestamp": now_ms()}])
    c = make_consumer(broker.bootstrap, fetch_max_wait_ms=5000, request_timeout_ms=30000)
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, 1)
        assert c.poll(timeout_ms=2000) == {}
        t0 = time.monotonic()
        produce(p, topic, [{"key": b"k1", "value": b"second", "headers": [], "timestamp": now_ms()}])
        got = []
        while time.monotonic() - t0 < 10 and not got:
            for recs in c.poll(timeout_ms=100).values():
                got.extend(recs)
        assert [(r.offset, r.value) for r in got] == [(1, b"second")]
        assert time.monotonic() - t0 < 3.0, f"took {time.monotonic() - t0:.2f}s"
    finally:
        c.close()
        p.close(timeout=10)


# ---------------------------------------------------------------------------
# timestamps / ListOffsets
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("compression", [None, "gzip", "zstd"], ids=lambda c: c or "none")
def test_offsets_for_times(broker, topic, compression):
    n = 30
    base = now_ms() - 600_000
    records = make_records(n, base, seed=3)
    p = make_producer(broker.bootstrap, linger_ms=200, compression_type=compression)
    metas = produce(p, topic, records)
    p.close(timeout=10)
    assert [m.offset for m in metas] == list(range(n))
    # precondition: several records per batch, compressed as sent
    batches = read_batches(broker.partition_dir(topic, 0) / f"{0:020d}.log")
    assert sum(b["count"] for b in batches) == n
    assert len(batches) < n / 2, f"{len(batches)} batches for {n} records"
    assert {b["codec"] for b in batches} == {CODEC_IDS[compression]}

    cases = {
        base - 60_000: 0,
        base: 0,
        base + 1: 1,
        base + 70: 7,
        base + 65: 7,
        base + 131: 14,
        base + 10 * (n - 1): n - 1,
        base + 10 * (n - 1) - 9: n - 1,
    }
    tp = TopicPartition(topic, 0)
    c = make_consumer(broker.bootstrap)
    try:
        for ts, expected in cases.items():
            res = c.offsets_for_times({tp: ts}, timeout_ms=10000)[tp]
            assert res is not None, f"offsets_for_times({ts - base:+d}ms) returned None"
            assert (res.offset, res.timestamp) == (expected, base + 10 * expected), \
                f"offsets_for_times({ts - base:+d}ms): {res}"
        # after the last record: no such offset
        assert c.offsets_for_times({tp: base + 10 * n}, timeout_ms=10000)[tp] is None
    finally:
        c.close()
    msgs = consume(broker.bootstrap, topic, 14, 1)
    assert (msgs[0].timestamp_type, msgs[0].timestamp) == (CREATE_TIME, base + 140)


def test_list_offsets_admin(broker, topic, admin):
    base = now_ms() - 600_000
    ts = [base + d for d in (0, 50, 20, 80, 60, 90, 500, 100, 110, 120)]
    records = [{"key": None, "value": f"v{i}".encode(), "headers": [], "timestamp": t}
               for i, t in enumerate(ts)]
    p = make_producer(broker.bootstrap, linger_ms=100)
    produce(p, topic, records)
    p.close(timeout=10)
    tp = TopicPartition(topic, 0)

    def lo(spec):
        return admin.list_partition_offsets({tp: spec}, timeout_ms=10000)[tp]

    assert lo(OffsetSpec.EARLIEST).offset == 0
    assert lo(OffsetSpec.LATEST).offset == 10
    mx = lo(OffsetSpec.MAX_TIMESTAMP)
    assert (mx.offset, mx.timestamp) == (6, base + 500)
    r = lo(base + 55)
    assert (r.offset, r.timestamp) == (3, base + 80)
    r = lo(base + 10)
    assert (r.offset, r.timestamp) == (1, base + 50)


def test_beginning_end_offsets_empty_and_filled(broker, topic, admin):
    assert create_topic(admin, topic)["error_code"] == 0
    assert watermarks(broker.bootstrap, topic) == (0, 0)
    p = make_producer(broker.bootstrap)
    produce(p, topic, make_records(12, now_ms() - 1000))
    p.close(timeout=10)
    assert watermarks(broker.bootstrap, topic) == (0, 12)


# ---------------------------------------------------------------------------
# positioning
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("compression", [None, "zstd"], ids=lambda c: c or "none")
def test_assign_seek_middle_offset(broker, topic, compression):
    records = make_records(30, now_ms() - 600_000, seed=5)
    p = make_producer(broker.bootstrap, linger_ms=100, compression_type=compression)
    produce(p, topic, records)
    p.close(timeout=10)
    assert_records_equal(consume(broker.bootstrap, topic, 17, 13), records[17:], first_offset=17)


def test_seek_while_consuming(broker, topic):
    records = make_records(30, now_ms() - 600_000, seed=6)
    p = make_producer(broker.bootstrap, linger_ms=100)
    produce(p, topic, records)
    p.close(timeout=10)
    c = make_consumer(broker.bootstrap, max_poll_records=3)
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, 0)
        first = []
        deadline = time.monotonic() + 20
        while not first and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200).values():
                first.extend(recs)
        assert [m.offset for m in first] == [0, 1, 2]
        c.seek(tp, 22)
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 8 and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200).values():
                got.extend(recs)
        assert_records_equal(got, records[22:], first_offset=22)
    finally:
        c.close()


def test_offset_past_end_resets_to_earliest(broker, topic):
    records = make_records(5, now_ms() - 600_000, seed=7)
    p = make_producer(broker.bootstrap)
    produce(p, topic, records)
    p.close(timeout=10)
    assert_records_equal(consume(broker.bootstrap, topic, 100, 5, auto_offset_reset="earliest"),
                         records)


def test_offset_past_end_without_reset_policy(broker, topic):
    records = make_records(5, now_ms() - 600_000, seed=8)
    p = make_producer(broker.bootstrap)
    produce(p, topic, records)
    p.close(timeout=10)
    # auto_offset_reset other than earliest/latest = no reset policy: poll raises
    c = make_consumer(broker.bootstrap, auto_offset_reset="none")
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, 100)
        err = None
        deadline = time.monotonic() + 15
        while err is None and time.monotonic() < deadline:
            try:
                got = c.poll(timeout_ms=200)
            except Errors.OffsetOutOfRangeError as e:
                err = e
                break
            assert got == {}, f"unexpected records {got}"
        assert err is not None, "no OffsetOutOfRangeError for a fetch past the end"
        assert err.errno == 1
        assert err.args[0] == {tp: 100}
    finally:
        c.close()


# ---------------------------------------------------------------------------
# admin
# ---------------------------------------------------------------------------

def test_create_topic_with_partitions_and_configs(broker, topic, admin):
    t = create_topic(admin, topic, partitions=3,
                     configs={"retention.ms": "86400000", "cleanup.policy": "delete",
                              "max.message.bytes": "2000000"})
    assert t["error_code"] == 0, t
    d = describe(admin, topic)
    assert d["error_code"] == 0
    parts = sorted(d["partitions"], key=lambda p: p["partition_index"])
    assert [p["partition_index"] for p in parts] == [0, 1, 2]
    for p in parts:
        assert p["leader_id"] == 1 and p["replica_nodes"] == [1] and p["isr_nodes"] == [1], p
    for pid in range(3):
        wait_until(lambda: broker.partition_dir(topic, pid).is_dir(), 10,
                   what=f"folder {topic}-{pid}")
    p = make_producer(broker.bootstrap)
    metas = produce(p, topic, make_records(2, now_ms()), partition=2)
    p.close(timeout=10)
    assert [(m.partition, m.offset) for m in metas] == [(2, 0), (2, 1)]


@pytest.mark.parametrize("configs", [{"no.such.config": "1"}, {"cleanup.policy": "bogus"},
                                     {"retention.ms": "not-a-number"}],
                         ids=["unknown-name", "bad-enum", "bad-number"])
def test_create_topic_invalid_config(broker, topic, admin, configs):
    assert create_topic(admin, topic, configs=configs)["error_code"] == INVALID_CONFIG
    assert topic not in admin.list_topics()


def test_log_append_time_topic(broker, topic, admin):
    assert create_topic(admin, topic, configs={"message.timestamp.type": "LogAppendTime"})["error_code"] == 0
    before = now_ms()
    records = make_records(5, before - 3_600_000, seed=13)
    p = make_producer(broker.bootstrap)
    produce(p, topic, records)
    p.close(timeout=10)
    after = now_ms()
    msgs = consume(broker.bootstrap, topic, 0, 5)
    for m, r in zip(msgs, records):
        assert (m.key, m.value) == (r["key"], r["value"])
        assert m.timestamp_type == LOG_APPEND_TIME
        assert before - 1000 <= m.timestamp <= after + 1000, (before, m.timestamp, after)


def test_create_topic_validate_only(broker, topic, admin):
    t = create_topic(admin, topic, partitions=2, validate_only=True)
    assert t["error_code"] == 0, t
    assert topic not in admin.list_topics()
    assert not broker.partition_dir(topic, 0).exists()
    assert create_topic(admin, topic, partitions=2)["error_code"] == 0
    assert len(describe(admin, topic)["partitions"]) == 2


def test_create_topic_already_exists(broker, topic, admin):
    assert create_topic(admin, topic)["error_code"] == 0
    assert create_topic(admin, topic, partitions=4)["error_code"] == TOPIC_ALREADY_EXISTS
    assert create_topic(admin, topic, validate_only=True)["error_code"] == TOPIC_ALREADY_EXISTS
    with pytest.raises(Errors.TopicAlreadyExistsError):
        admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}})
    assert len(describe(admin, topic)["partitions"]) == 1


@pytest.mark.parametrize("name", ["bad/name", "..", ".", "a" * 250, "has space", "sn\u00f8"],
                         ids=["slash", "dotdot", "dot", "len250", "space", "non-ascii"])
def test_create_topic_invalid_name(broker, admin, name):
    t = create_topic(admin, name)
    assert t["error_code"] == INVALID_TOPIC_EXCEPTION, t
    assert name not in admin.list_topics()


def test_create_topic_max_length_name(broker, admin, make_topic):
    name = (make_topic("maxlen-") + "-" + "x" * 249)[:249]
    assert create_topic(admin, name)["error_code"] == 0
    assert name in admin.list_topics()
    p = make_producer(broker.bootstrap)
    assert produce(p, name, make_records(1, now_ms()))[0].offset == 0
    p.close(timeout=10)


@pytest.mark.parametrize("partitions,replication,expected", [
    (0, 1, INVALID_PARTITIONS),
    (-5, 1, INVALID_PARTITIONS),
    (1, 3, INVALID_REPLICATION_FACTOR),
], ids=["zero-partitions", "negative-partitions", "rf3-on-one-broker"])
def test_create_topic_invalid_layout(broker, admin, topic, partitions, replication, expected):
    res = admin.create_topics({topic: {"num_partitions": partitions,
                                       "replication_factor": replication}},
                              timeout_ms=10000, raise_errors=False)
    assert topic_entry(res, topic)["error_code"] == expected
    assert topic not in admin.list_topics()


def test_delete_topic(broker, topic, admin):
    assert create_topic(admin, topic, partitions=2)["error_code"] == 0
    p = make_producer(broker.bootstrap)
    produce(p, topic, make_records(3, now_ms()))
    assert broker.partition_dir(topic, 0).is_dir() and broker.partition_dir(topic, 1).is_dir()
    res = admin.delete_topics([topic], timeout_ms=10000, raise_errors=False)
    assert topic_entry(res, topic)["error_code"] == 0
    wait_until(lambda: topic not in admin.list_topics(), 10, what="topic gone from metadata")
    for pid in (0, 1):
        wait_until(lambda: not broker.partition_dir(topic, pid).exists(), 10,
                   what=f"folder {topic}-{pid} removed")
    res = admin.delete_topics([topic], timeout_ms=10000, raise_errors=False)
    assert topic_entry(res, topic)["error_code"] == UNKNOWN_TOPIC_OR_PART
    assert create_topic(admin, topic)["error_code"] == 0
    assert watermarks(broker.bootstrap, topic) == (0, 0)
    recs = make_records(2, now_ms(), seed=99)
    # a fresh producer: the old one may have cached the old 2-partition metadata
    p.close(timeout=10)
    p = make_producer(broker.bootstrap)
    assert [m.offset for m in produce(p, topic, recs)] == [0, 1]
    p.close(timeout=10)
    assert_records_equal(consume(broker.bootstrap, topic, 0, 2), recs)


def test_metadata_lists_broker_and_topics(broker, admin, make_topic):
    a, b = make_topic("a"), make_topic("b")
    assert create_topic(admin, a, partitions=1)["error_code"] == 0
    assert create_topic(admin, b, partitions=4)["error_code"] == 0
    cluster = admin.describe_cluster()
    assert cluster["controller_id"] == 1
    assert [(x["broker_id"], x["host"], x["port"]) for x in cluster["brokers"]] == \
        [(1, broker.host, broker.port)]
    assert {a, b} <= set(admin.list_topics())
    assert len(describe(admin, a)["partitions"]) == 1
    assert len(describe(admin, b)["partitions"]) == 4


def test_auto_create_on_produce(broker, topic, admin):
    assert topic not in admin.list_topics()
    recs = make_records(3, now_ms())
    p = make_producer(broker.bootstrap)
    assert [m.offset for m in produce(p, topic, recs)] == [0, 1, 2]
    p.close(timeout=10)
    d = describe(admin, topic)
    assert d["error_code"] == 0 and len(d["partitions"]) == 1
    assert_records_equal(consume(broker.bootstrap, topic, 0, 3), recs)


def test_auto_create_on_metadata(broker, topic, admin):
    p = make_producer(broker.bootstrap, max_block_ms=10000)
    try:
        assert p.partitions_for(topic) == {0}
    finally:
        p.close(timeout=10)
    assert topic in admin.list_topics()
    assert watermarks(broker.bootstrap, topic) == (0, 0)


def test_no_auto_create_when_disabled(broker_factory, topic):
    b = broker_factory(name="noauto-kp", **{"auto.create.topics.enable": "false"})
    admin = make_admin(b.bootstrap)
    try:
        d = describe(admin, topic)
        assert d["error_code"] == UNKNOWN_TOPIC_OR_PART, d
        p = make_producer(b.bootstrap, max_block_ms=3000)
        try:
            with pytest.raises(Errors.KafkaTimeoutError):
                p.send(topic, value=b"x", partition=0).get(10)
        finally:
            p.close(timeout=5)
        assert topic not in admin.list_topics()
        assert describe(admin, topic)["error_code"] == UNKNOWN_TOPIC_OR_PART
        assert not b.partition_dir(topic, 0).exists()
        assert create_topic(admin, topic)["error_code"] == 0
        p = make_producer(b.bootstrap)
        assert produce(p, topic, make_records(1, now_ms()))[0].offset == 0
        p.close(timeout=10)
    finally:
        admin.close()
