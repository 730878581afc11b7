"""Malformed / hostile input over raw TCP.

Every case checks that the broker process survives and still serves both a
raw ApiVersions exchange and a real client (confluent-kafka metadata) after
the bad input.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

import kafka_wire as w
from conftest import now_ms

CLOSE_TIMEOUT_S = 10.0
MAX_REQUEST_BYTES = 104857600  # socket.request.max.bytes default


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def assert_healthy(broker):
    assert broker.running, f"broker process exited (code {broker.proc.poll()})"
    # raw client
    with w.connect(broker.host, broker.port) as s:
        res = w.api_versions_v0(s, correlation_id=4242)
    assert res.correlation_id == 4242
    assert res.error_code == 0
    for key in (0, 1, 2, 3, 18, 19, 20):
        assert key in res.api_keys, f"api key {key} missing from ApiVersions: {res.api_keys}"
    # real client
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    md = admin.list_topics(timeout=10)
    assert set(md.brokers) == {1}
    assert (md.brokers[1].host, md.brokers[1].port) == (broker.host, broker.port)
    assert broker.running


def api_keys(broker) -> dict[int, tuple[int, int]]:
    with w.connect(broker.host, broker.port) as s:
        res = w.api_versions_v0(s, correlation_id=1)
    assert res.error_code == 0
    return res.api_keys


def expect_closed(sock: socket.socket, what: str, allow_bytes: bool = False) -> bytes:
    closed, got = w.wait_closed(sock, CLOSE_TIMEOUT_S)
    assert closed, f"{what}: connection still open after {CLOSE_TIMEOUT_S}s (received {got!r})"
    if not allow_bytes:
        assert got == b"", f"{what}: expected the connection to be closed without a response, got {got!r}"
    return got


def produce_confluent(bootstrap, topic, n):
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False, "acks": "all",
                  "linger.ms": 0})
    offsets = []

    def dr(err, msg):
        assert err is None, err
        offsets.append(msg.offset())

    for i in range(n):
        p.produce(topic, key=f"pre-{i}".encode(), value=f"pre-value-{i}".encode(),
                  partition=0, on_delivery=dr)
        p.flush(15)
    assert offsets == list(range(n))


def consume_all(bootstrap, topic, start=0, timeout=20.0):
    """Read partition 0 from ``start`` until end-of-partition."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-bad-input",
                  "enable.auto.commit": False, "enable.auto.offset.store": False,
                  "enable.partition.eof": True, "auto.offset.reset": "error"})
    try:
        c.assign([TopicPartition(topic, 0, start)])
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return out
                raise AssertionError(f"consumer error: {m.error()}")
            out.append(m)
        raise AssertionError(f"no end-of-partition within {timeout}s (got {len(out)} records)")
    finally:
        c.close()


def watermarks(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-bad-input-wm",
                  "enable.auto.commit": False})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
    finally:
        c.close()


# ---------------------------------------------------------------------------
# (1) huge array count in a tiny body
# ---------------------------------------------------------------------------

def test_produce_topic_array_count_overflow(broker):
    version = w.pick_produce_version(api_keys(broker))
    flexible = version >= 9
    if flexible:
        body = w.compact_string(None) + w.i16(1) + w.i32(1000) + w.uvarint(0x7FFFFFFF + 1)
    else:
        body = w.string(None) + w.i16(1) + w.i32(1000) + w.i32(0x7FFFFFFF)
    assert len(body) == 12
    corr = 31337
    with w.connect(broker.host, broker.port) as s:
        s.sendall(w.frame(w.request_header(0, version, corr, flexible=flexible) + body))
        closed, got = w.wait_closed(s, CLOSE_TIMEOUT_S)
        if not closed:
            # acceptable only if a complete, well-formed response came back
            assert len(got) >= 8, (
                f"Produce v{version} with a 0x7fffffff topic count: neither closed nor "
                f"answered within {CLOSE_TIMEOUT_S}s (got {got!r})")
        if got:
            size = struct.unpack(">i", got[:4])[0]
            assert size == len(got) - 4, f"partial/garbled response: {got!r}"
            assert struct.unpack(">i", got[4:8])[0] == corr, f"wrong correlation id in {got!r}"
    assert_healthy(broker)


def vm_kib(broker, field: str) -> int:
    """A ``/proc/<pid>/status`` size of the broker process, in KiB."""
    for line in open(f"/proc/{broker.proc.pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/{broker.proc.pid}/status")


def hostile_lengths(produce_version: int) -> dict[str, bytes]:
    """Small requests whose lengths claim far more than their frame holds."""
    flexible = produce_version >= 9
    produce_head = (w.compact_string(None) if flexible else w.string(None)) + w.i16(1) + w.i32(1000)
    produce_header = w.request_header(0, produce_version, 1, flexible=flexible)
    return {
        # Metadata v1: a topics array of i32::MAX names
        "metadata-topics": w.request_header(3, 1, 2) + w.i32(0x7FFFFFFF),
        # Produce: one topic, then a partitions array of i32::MAX (or u32::MAX - 1) entries
        "produce-partitions": produce_header + produce_head
        + (w.uvarint(2) + w.compact_string("t") + w.uvarint(0xFFFFFFFF) if flexible
           else w.i32(1) + w.string("t") + w.i32(0x7FFFFFFF)),
        # a flexible header whose tagged-field section claims u32::MAX - 1 fields
        "header-tags": w.request_header(18, 3, 3) + w.uvarint(0xFFFFFFFE),
        # ApiVersions v3: a client software name of u32::MAX - 2 bytes
        "compact-string": w.request_header(18, 3, 4, flexible=True) + w.uvarint(0xFFFFFFFF),
    }


def test_hostile_lengths_close_the_connection_without_growing_memory(broker):
    """Lengths from the wire are checked before anything is allocated: each
    request is refused with a log line naming why, and the process' address
    space does not grow by what the lengths claim (hundreds of GiB)."""
    version = w.pick_produce_version(api_keys(broker))
    peak_before = vm_kib(broker, "VmPeak")
    for name, payload in hostile_lengths(version).items():
        with w.connect(broker.host, broker.port) as s:
            s.sendall(w.frame(payload))
            expect_closed(s, name)
    assert broker.running
    grown_mib = (vm_kib(broker, "VmPeak") - peak_before) // 1024
    assert grown_mib < 512, f"the broker's address space grew by {grown_mib} MiB"
    log = broker.log_path.read_text(errors="replace")
    assert log.count("exceeds the") >= 2, f"no decode error logged:\n{log[-3000:]}"
    assert "tagged fields exceed the limit of 10000" in log
    assert_healthy(broker)


# ---------------------------------------------------------------------------
# (2) oversized frame, (3) negative / zero size
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [MAX_REQUEST_BYTES + 1, 200 * 1024 * 1024, 0x7FFFFFFF],
                         ids=["max+1", "200MiB", "i32max"])
def test_oversized_frame_closes_connection(broker, size):
    with w.connect(broker.host, broker.port) as s:
        # only the size prefix and a valid-looking header: the broker must not
        # wait for (or allocate) the announced body
        s.sendall(w.i32(size) + w.request_header(18, 0, 1))
        expect_closed(s, f"size prefix {size}")
    assert_healthy(broker)


@pytest.mark.parametrize("size", [-1, -(2 ** 31), 0], ids=["minus1", "i32min", "zero"])
def test_negative_or_zero_size_closes_connection(broker, size):
    with w.connect(broker.host, broker.port) as s:
        s.sendall(w.i32(size) + b"\x00" * 16)
        expect_closed(s, f"size prefix {size}")
    assert_healthy(broker)


# ---------------------------------------------------------------------------
# (4) unknown api key
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("api_key", [9999, -1, 32767])
def test_unknown_api_key_closes_connection(broker, api_key):
    with w.connect(broker.host, broker.port) as s:
        s.sendall(w.frame(w.request_header(api_key, 0, 7)))
        expect_closed(s, f"api key {api_key}")
    assert_healthy(broker)


# ---------------------------------------------------------------------------
# (5) truncated requests
# ---------------------------------------------------------------------------

def test_request_cut_off_mid_size_prefix(broker):
    s = w.connect(broker.host, broker.port)
    s.sendall(b"\x00\x00")
    s.close()
    assert_healthy(broker)


def test_request_cut_off_mid_frame(broker):
    full = w.frame(w.request_header(18, 0, 5))
    s = w.connect(broker.host, broker.port)
    s.sendall(w.i32(100) + full[4:])  # announces 100 bytes, sends ~21
    time.sleep(0.2)
    s.close()
    assert_healthy(broker)


def test_half_sent_request_does_not_block_other_clients(broker):
    s = w.connect(broker.host, broker.port)
    try:
        s.sendall(w.i32(1000) + b"\x00\x12\x00\x00")
        # while that connection is stuck mid-frame, others are served
        assert_healthy(broker)
    finally:
        s.close()
    assert_healthy(broker)


def test_request_cut_off_after_partial_produce(broker, topic):
    version = w.pick_produce_version(api_keys(broker))
    batch = w.record_batch([w.Rec(b"k", b"v" * 100, now_ms())])
    req = w.produce_request(version, 9, topic, 0, batch, acks=1)
    s = w.connect(broker.host, broker.port)
    s.sendall(req[: len(req) // 2])
    time.sleep(0.2)
    s.close()
    assert_healthy(broker)


# ---------------------------------------------------------------------------
# (6) bad CRC in a Produce
# ---------------------------------------------------------------------------

def test_produce_bad_crc_is_rejected(broker, topic):
    produce_confluent(broker.bootstrap, topic, 3)
    assert watermarks(broker.bootstrap, topic) == (0, 3)

    version = w.pick_produce_version(api_keys(broker))
    t0 = now_ms() - 60_000
    good_records = [
        w.Rec(b"raw-k0", b"raw-v0", t0, [("h", b"1")]),
        w.Rec(None, b"raw-v1", t0 + 7, [("h", b"2"), ("null", None)]),
    ]
    good = w.record_batch(good_records)

    with w.connect(broker.host, broker.port) as s:
        # a correct batch built by this test is accepted (validates the builder)
        s.sendall(w.produce_request(version, 100, topic, 0, good, acks=1))
        corr, res = w.parse_produce_response(version, w.recv_frame(s))
        assert corr == 100
        p = res[(topic, 0)]
        assert (p.error_code, p.base_offset) == (0, 3), p

        # the same batch with one CRC byte flipped
        s.sendall(w.produce_request(version, 101, topic, 0, w.corrupt_crc(good), acks=1))
        corr, res = w.parse_produce_response(version, w.recv_frame(s))
        assert corr == 101
        p = res[(topic, 0)]
        assert p.error_code == 2, f"expected CORRUPT_MESSAGE (2), got {p}"

        # the connection stays usable and nothing was appended in between
        s.sendall(w.produce_request(version, 102, topic, 0, good, acks=1))
        corr, res = w.parse_produce_response(version, w.recv_frame(s))
        assert corr == 102
        p = res[(topic, 0)]
        assert (p.error_code, p.base_offset) == (0, 5), p

    assert watermarks(broker.bootstrap, topic) == (0, 7)
    msgs = consume_all(broker.bootstrap, topic)
    assert [m.offset() for m in msgs] == list(range(7))
    assert [m.value() for m in msgs] == [b"pre-value-0", b"pre-value-1", b"pre-value-2",
                                         b"raw-v0", b"raw-v1", b"raw-v0", b"raw-v1"]
    assert msgs[3].key() == b"raw-k0" and msgs[4].key() is None
    assert msgs[3].headers() == [("h", b"1")]
    assert msgs[4].headers() == [("h", b"2"), ("null", None)]
    assert msgs[3].timestamp()[1] == t0 and msgs[4].timestamp()[1] == t0 + 7
    assert_healthy(broker)


def test_produce_bad_crc_only_batch_leaves_log_unchanged(broker, topic):
    produce_confluent(broker.bootstrap, topic, 2)
    version = w.pick_produce_version(api_keys(broker))
    bad = w.corrupt_crc(w.record_batch([w.Rec(b"x", b"y", now_ms())]))
    with w.connect(broker.host, broker.port) as s:
        s.sendall(w.produce_request(version, 5, topic, 0, bad, acks=-1))
        corr, res = w.parse_produce_response(version, w.recv_frame(s))
    assert corr == 5
    assert res[(topic, 0)].error_code == 2
    assert watermarks(broker.bootstrap, topic) == (0, 2)
    assert [m.value() for m in consume_all(broker.bootstrap, topic)] == [b"pre-value-0", b"pre-value-1"]
    assert_healthy(broker)


def test_produce_batch_larger_than_max_message_bytes(broker, topic):
    produce_confluent(broker.bootstrap, topic, 1)
    version = w.pick_produce_version(api_keys(broker))
    # one uncompressed batch of ~1.5 MB > message.max.bytes default (1048588)
    batch = w.record_batch([w.Rec(b"big", b"z" * 1_500_000, now_ms())])
    with w.connect(broker.host, broker.port) as s:
        s.sendall(w.produce_request(version, 8, topic, 0, batch, acks=1))
        corr, res = w.parse_produce_response(version, w.recv_frame(s))
    assert corr == 8
    assert res[(topic, 0)].error_code == 10, f"expected MESSAGE_TOO_LARGE (10), got {res}"
    assert watermarks(broker.bootstrap, topic) == (0, 1)
    assert_healthy(broker)


def test_produce_to_unknown_partition(broker, topic):
    produce_confluent(broker.bootstrap, topic, 1)
    version = w.pick_produce_version(api_keys(broker))
    batch = w.record_batch([w.Rec(b"x", b"y", now_ms())])
    with w.connect(broker.host, broker.port) as s:
        s.sendall(w.produce_request(version, 6, topic, 7, batch, acks=1))
        corr, res = w.parse_produce_response(version, w.recv_frame(s))
    assert corr == 6
    assert res[(topic, 7)].error_code == 3, f"expected UNKNOWN_TOPIC_OR_PARTITION (3), got {res}"
    assert watermarks(broker.bootstrap, topic) == (0, 1)
    assert_healthy(broker)


def test_produce_to_an_unknown_topic_creates_nothing(broker, topic):
    """Only Metadata auto-creates, as in Kafka: a Produce to an unknown topic
    answers UNKNOWN_TOPIC_OR_PARTITION though auto.create.topics.enable is
    on, and no topic appears (clients that produce to a new topic ask
    Metadata first: test_*::test_auto_create_on_produce)."""
    version = w.pick_produce_version(api_keys(broker))
    batch = w.record_batch([w.Rec(b"x", b"y", now_ms())])
    with w.connect(broker.host, broker.port) as s:
        s.sendall(w.produce_request(version, 7, topic, 0, batch, acks=1))
        corr, res = w.parse_produce_response(version, w.recv_frame(s))
        assert corr == 7
        assert res[(topic, 0)].error_code == 3, f"expected UNKNOWN_TOPIC_OR_PARTITION (3), got {res}"
        s.sendall(w.metadata_v4_request(8, [topic], allow_auto_create=False))
        corr, topics = w.parse_metadata_v4(w.recv_frame(s))
        assert corr == 8 and topics[topic][0] == 3, topics
        # Metadata asking for it creates it, empty
        s.sendall(w.metadata_v4_request(9, [topic], allow_auto_create=True))
        corr, topics = w.parse_metadata_v4(w.recv_frame(s))
        assert corr == 9 and topics[topic][0] in (0, 5), topics  # 5: LEADER_NOT_AVAILABLE while created
    assert watermarks(broker.bootstrap, topic) == (0, 0)
    assert_healthy(broker)


# ---------------------------------------------------------------------------
# auto-creation must validate names like CreateTopics does
# ---------------------------------------------------------------------------

def _dirs(root):
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()}


@pytest.mark.parametrize("name", ["../escape", "bad/name", "..", ".", "a" * 250, "has space"],
                         ids=["dotdot-slash", "slash", "dotdot", "dot", "len250", "space"])
def test_auto_create_rejects_invalid_names(broker, name):
    root = broker.data_dir.parent  # the test's temp dir: data dir + broker log
    before = _dirs(root)
    with w.connect(broker.host, broker.port) as s:
        s.sendall(w.metadata_v4_request(21, [name], allow_auto_create=True))
        corr, topics = w.parse_metadata_v4(w.recv_frame(s))
        assert corr == 21
        assert topics.get(name, (None, None))[0] == 17, \
            f"expected INVALID_TOPIC_EXCEPTION (17) for {name!r}, got {topics}"
        # a Produce to it must not create it either
        version = w.pick_produce_version(api_keys(broker))
        batch = w.record_batch([w.Rec(b"k", b"v", now_ms())])
        s.sendall(w.produce_request(version, 22, name, 0, batch, acks=1))
        corr, res = w.parse_produce_response(version, w.recv_frame(s))
        assert corr == 22
        assert res[(name, 0)].error_code in (3, 17), res
    created = sorted(_dirs(root) - before)
    assert not created, f"directories created for invalid topic {name!r}: {created}"
    assert not (root / "escape-0").exists() and not (root.parent / "escape-0").exists()
    assert_healthy(broker)


# ---------------------------------------------------------------------------
# (7) ApiVersions with an unsupported version
# ---------------------------------------------------------------------------

def test_api_versions_unsupported_version(broker):
    with w.connect(broker.host, broker.port) as s:
        # header: api_key 18, version 99, correlation id, client id, (+ an empty
        # tagged-field section, which is what a flexible-version client sends)
        s.sendall(w.frame(w.request_header(18, 99, 777, flexible=True)))
        body = w.recv_frame(s)
    res = w.parse_api_versions_v0(body)
    assert res.correlation_id == 777
    assert res.error_code == 35, f"expected UNSUPPORTED_VERSION (35), got {res.error_code}"
    assert 18 in res.api_keys, f"ApiVersions missing from the error response: {res.api_keys}"
    lo, hi = res.api_keys[18]
    assert lo == 0 and hi >= 3, (lo, hi)
    assert res.trailing == 0, f"{res.trailing} unexpected trailing bytes: not a v0 response"
    assert_healthy(broker)


def test_api_versions_v0_lists_required_apis(broker):
    keys = api_keys(broker)
    # Produce, Fetch, ListOffsets, Metadata, ApiVersions, CreateTopics, DeleteTopics
    for k in (0, 1, 2, 3, 18, 19, 20):
        lo, hi = keys[k]
        assert 0 <= lo <= hi, (k, lo, hi)
    assert keys[18][1] >= 3  # flexible ApiVersions, used by librdkafka
    w.pick_produce_version(keys)  # some Produce version in 3..12 that this suite can speak
