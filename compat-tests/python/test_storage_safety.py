"""Nothing lost, nothing corrupted, on one broker: Kafka's LogValidator
rules with per-record errors (KIP-467), acks=0 failures closing the
connection, a torn segment tail cut at a clean restart, ENOSPC and EIO from
the fault plane's disk faults taking a log dir offline without losing or
duplicating what was acknowledged, and topic deletion that never races
readers — each shown with confluent-kafka and kafka-python and checked on
the wire."""

from __future__ import annotations

import struct
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient, KafkaProducer
from kafka import errors as kafka_errors

import kafka_wire as w
from conftest import FaultPlane, free_port, unique_topic, wait_until

INVALID_RECORD = 87
INVALID_TIMESTAMP = 32
KAFKA_STORAGE_ERROR = 56
HOUR_MS = 3_600_000


def create(bootstrap: str, name: str, partitions: int = 1, **configs) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1, config=configs)]).values():
        future.result(timeout=30)


def produce_confluent(bootstrap: str, topic: str, messages, **config) -> list:
    """Produces `messages` (dicts of produce() arguments) and returns each
    one's delivery outcome: (error or None, partition, offset)."""
    outcomes = []
    producer = Producer({"bootstrap.servers": bootstrap, **config})
    for message in messages:
        producer.produce(topic, on_delivery=lambda err, msg: outcomes.append(
            (err, msg.partition(), msg.offset(), msg.value())), **message)
    producer.flush(60)
    return outcomes


def consume_all(bootstrap: str, topic: str, partitions: int, expected: int,
                timeout: float = 30) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("g"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            got.append((message.partition(), message.offset(), message.value()))
        # Anything beyond what was expected would be a duplicate.
        for _ in range(4):
            message = consumer.poll(0.25)
            if message is not None and message.error() is None:
                got.append((message.partition(), message.offset(), message.value()))
    finally:
        consumer.close()
    return sorted(got)


# --- LogValidator -------------------------------------------------------------

def test_keyless_records_on_a_compacted_topic_fail_alone_with_record_errors(broker, topic):
    create(broker.bootstrap, topic, **{"cleanup.policy": "compact"})
    now = int(time.time() * 1000)
    with w.WireClient(broker.host, broker.port) as client:
        batch = w.record_batch([w.Rec(b"k0", b"v", now), w.Rec(None, b"v", now),
                                w.Rec(b"k2", b"v", now), w.Rec(None, b"v", now)])
        result = client.produce(9, topic, 0, batch)
        assert result.error_code == INVALID_RECORD
        assert [index for index, _ in result.record_errors] == [1, 3]
        assert "without key" in result.record_errors[0][1]
        assert "2 record errors" in result.error_message
        assert client.list_offset(topic, 0) == 0, "nothing of the batch was written"
    # As Kafka, the whole batch fails; librdkafka names the refused record.
    outcomes = produce_confluent(broker.bootstrap, topic,
                                 [{"key": b"k", "value": b"same batch"}, {"value": b"keyless"}],
                                 **{"linger.ms": 100})
    errors = {value: (err.code(), err.str()) for err, _, _, value in outcomes}
    assert {value: code for value, (code, _) in errors.items()} == {
        b"same batch": KafkaError.INVALID_RECORD, b"keyless": KafkaError.INVALID_RECORD}
    alone = produce_confluent(broker.bootstrap, topic, [{"key": b"k", "value": b"alone"}])
    assert alone[0][0] is None and alone[0][2] == 0
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, retries=0)
    try:
        with pytest.raises(kafka_errors.InvalidRecordError):
            producer.send(topic, value=b"keyless").get(timeout=30)
        assert producer.send(topic, key=b"k", value=b"v").get(timeout=30).offset == 1
    finally:
        producer.close()


def test_timestamps_out_of_range_are_refused_with_invalid_timestamp(broker, topic):
    # Kafka 4's default allows an hour into the future; the past bound is set here.
    create(broker.bootstrap, topic, **{"message.timestamp.before.max.ms": str(HOUR_MS)})
    now = int(time.time() * 1000)
    outcomes = produce_confluent(broker.bootstrap, topic, [{"value": b"now", "timestamp": now}])
    outcomes += produce_confluent(broker.bootstrap, topic,
                                  [{"value": b"future", "timestamp": now + 3 * HOUR_MS}])
    errors = {value: err.code() if err else None for err, _, _, value in outcomes}
    assert errors == {b"now": None, b"future": KafkaError.INVALID_TIMESTAMP}
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, retries=0)
    try:
        with pytest.raises(kafka_errors.InvalidTimestampError):
            producer.send(topic, value=b"old", timestamp_ms=now - 2 * HOUR_MS).get(timeout=30)
        assert producer.send(topic, value=b"fine", timestamp_ms=now).get(timeout=30).offset == 1
    finally:
        producer.close()
    with w.WireClient(broker.host, broker.port) as client:
        batch = w.record_batch([w.Rec(None, b"a", now), w.Rec(None, b"b", now + 2 * HOUR_MS)])
        result = client.produce(8, topic, 0, batch)
        assert result.error_code == INVALID_TIMESTAMP
        assert [index for index, _ in result.record_errors] == [1]
        assert "out of range" in result.record_errors[0][1]


def with_last_offset_delta(batch: bytes, delta: int) -> bytes:
    """The batch claiming `delta` as its last offset delta, CRC made right."""
    b = bytearray(batch)
    b[23:27] = struct.pack(">i", delta)
    b[17:21] = struct.pack(">I", w.crc32c(bytes(b[21:])))
    return bytes(b)


def test_a_batch_cannot_claim_more_offsets_than_it_has_records(broker, topic):
    create(broker.bootstrap, topic)
    now = int(time.time() * 1000)
    with w.WireClient(broker.host, broker.port) as client:
        version = w.pick_produce_version(client.api_keys())
        greedy = with_last_offset_delta(w.record_batch([w.Rec(None, b"x", now)]), 2**31 - 1)
        result = client.produce(version, topic, 0, greedy)
        assert result.error_code == INVALID_RECORD
        assert client.list_offset(topic, 0) == 0, "the log end did not jump"
        ok = client.produce(version, topic, 0, w.record_batch([w.Rec(None, b"y", now)]))
        assert (ok.error_code, ok.base_offset) == (0, 0)


def test_an_acks_0_produce_that_fails_closes_the_connection(broker, topic):
    create(broker.bootstrap, topic)
    now = int(time.time() * 1000)
    sock = w.connect(broker.host, broker.port)
    try:
        good = w.record_batch([w.Rec(None, b"ok", now)])
        sock.sendall(w.produce_request(7, 1, topic, 0, good, acks=0))
        # No answer to acks=0, and the connection stays: ApiVersions still works.
        assert w.api_versions_v0(sock, correlation_id=2).error_code == 0
        sock.sendall(w.produce_request(7, 3, topic, 0, w.corrupt_crc(good), acks=0))
        closed, _ = w.wait_closed(sock, timeout=10)
        assert closed, "a failed acks=0 produce must close the connection"
    finally:
        sock.close()
    # The broker logs why once the socket is closed: wait for the line.
    wait_until(lambda: "acks=0 produce" in broker.log_tail(200), 10,
               what="the broker's reason for closing")


# --- torn tails -------------------------------------------------------------

def test_a_torn_tail_is_cut_at_a_clean_restart(broker_factory):
    b = broker_factory()
    topic = unique_topic("torn")
    create(b.bootstrap, topic)
    outcomes = produce_confluent(b.bootstrap, topic,
                                 [{"value": f"before-{i}".encode()} for i in range(50)],
                                 **{"acks": "all"})
    assert all(err is None for err, *_ in outcomes)
    assert b.stop() == 0
    segment = b.partition_dir(topic) / "00000000000000000000.log"
    good = segment.stat().st_size
    # What a write the disk failed half-way leaves behind the last batch.
    with open(segment, "ab") as f:
        f.write(w.record_batch([w.Rec(None, b"torn" * 20, 0)])[:45])
    b.start()
    # The port opens before the logs are recovered in the background.
    wait_until(lambda: segment.stat().st_size == good, 20, interval=0.1,
               what="the torn bytes cut")
    producer = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all")
    try:
        for i in range(50):
            producer.send(topic, value=f"after-{i}".encode())
        producer.flush(30)
    finally:
        producer.close()
    got = consume_all(b.bootstrap, topic, 1, 100)
    assert [offset for _, offset, _ in got] == list(range(100))
    assert [value for *_, value in got] == (
        [f"before-{i}".encode() for i in range(50)] + [f"after-{i}".encode() for i in range(50)])


# --- the metadata quorum's committed id ---------------------------------------

def test_topics_survive_a_crash_that_leaves_the_metadata_committed_id_unreadable(broker_factory):
    """The metadata quorum's committed log id is written without a sync
    (Raft keeps it in memory only): a machine crash may leave the file empty
    or torn. A restart must still serve every topic and record it had,
    rebuilt from the synced metadata log."""
    b = broker_factory()
    topics = [unique_topic("meta") for _ in range(3)]
    for topic in topics:
        create(b.bootstrap, topic, partitions=2)
        outcomes = produce_confluent(b.bootstrap, topic, [{"value": b"kept", "partition": 1}],
                                     **{"acks": "all"})
        assert [(err, partition, offset) for err, partition, offset, _ in outcomes] == [
            (None, 1, 0)]
    committed = b.data_dir / "__cluster_metadata-0" / "raft-committed.json"
    assert committed.stat().st_size > 0
    for torn in (b"", b'{"leader_id":{"te'):
        assert b.kill() == -9
        committed.write_bytes(torn)
        b.start()
        admin = KafkaAdminClient(bootstrap_servers=b.bootstrap)
        try:
            described = {t["name"]: len(t["partitions"])
                         for t in admin.describe_topics(topics)}
        finally:
            admin.close()
        assert described == {topic: 2 for topic in topics}
        for topic in topics:
            assert consume_all(b.bootstrap, topic, 2, 1) == [(1, 0, b"kept")]
        assert "committed id is unreadable" in b.log_path.read_text()


# --- disk faults ------------------------------------------------------------

def admin_broker(broker_factory, **overrides):
    port = free_port()
    b = broker_factory(**{"admin.listener": f"127.0.0.1:{port}",
                          "admin.fault.plane.enable": "true", **overrides})
    return b, FaultPlane(port)


def test_enospc_mid_request_loses_nothing_acknowledged_and_duplicates_nothing(broker_factory):
    b, plane = admin_broker(broker_factory)
    topic = unique_topic("enospc")
    create(b.bootstrap, topic)
    acked = []
    outcomes = produce_confluent(b.bootstrap, topic,
                                 [{"value": f"c-{i}".encode()} for i in range(100)],
                                 **{"enable.idempotence": True})
    acked += [value for err, _, _, value in outcomes if err is None]
    producer = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all")
    try:
        for i in range(100):
            producer.send(topic, value=f"p-{i}".encode())
        producer.flush(30)
    finally:
        producer.close()
    acked += [f"p-{i}".encode() for i in range(100)]
    status, armed = plane.call("POST", "/faults/disk", {
        "topic": topic, "partition": 0, "op": "write", "errno": "ENOSPC"})
    assert status == 201 and armed[0]["errno"] == "ENOSPC"
    # One request meets the full disk; the dir goes offline and every later
    # request is answered KAFKA_STORAGE_ERROR until the restart.
    outcomes = produce_confluent(b.bootstrap, topic,
                                 [{"value": f"late-{i}".encode()} for i in range(20)],
                                 **{"enable.idempotence": True, "message.timeout.ms": 4000,
                                    "linger.ms": 50})
    assert all(err is not None for err, *_ in outcomes), outcomes
    late = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", retries=0)
    try:
        with pytest.raises(kafka_errors.KafkaStorageError):
            late.send(topic, value=b"refused").get(timeout=30)
    finally:
        late.close()
    log = b.log_tail(400)
    assert "log dir failed" in log and "KAFKA_STORAGE_ERROR" in log and "No space left" in log
    b.kill()
    b.start()
    got = consume_all(b.bootstrap, topic, 1, len(acked))
    assert [offset for _, offset, _ in got] == list(range(len(acked))), "no gap, no duplicate"
    assert sorted(value for *_, value in got) == sorted(acked)
    # The restarted dir serves again.
    outcomes = produce_confluent(b.bootstrap, topic, [{"value": b"again"}])
    assert outcomes[0][0] is None and outcomes[0][2] == len(acked)


def dir_of(dirs, topic: str, partition: int):
    return next(d for d in dirs if (d / f"{topic}-{partition}").is_dir())


def test_an_fsync_failure_takes_only_its_log_dir_offline(broker_factory, tmp_path):
    dirs = [tmp_path / "disk-a", tmp_path / "disk-b"]
    b, plane = admin_broker(broker_factory, **{"log.dirs": ",".join(map(str, dirs))})
    topic = unique_topic("eio")
    create(b.bootstrap, topic, 4, **{"flush.messages": "1"})
    placed = {p: dir_of(dirs, topic, p) for p in range(4)}
    assert set(placed.values()) == set(dirs), f"partitions placed across both dirs: {placed}"
    failing = placed[0]
    status, _ = plane.call("POST", "/faults/disk",
                           {"log_dir": str(failing), "op": "fsync", "errno": "EIO"})
    assert status == 201
    outcomes = produce_confluent(b.bootstrap, topic,
                                 [{"value": f"v{p}".encode(), "partition": p} for p in range(4)],
                                 **{"message.timeout.ms": 4000, "acks": "all"})
    by_partition = {partition: err for err, partition, _, _ in outcomes}
    for p, d in placed.items():
        if d == failing:
            assert by_partition[p] is not None, f"partition {p} on the failed dir"
        else:
            assert by_partition[p] is None, f"partition {p} on the healthy dir: {by_partition[p]}"
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    try:
        described = admin.describe_log_dirs()
    finally:
        admin.close()
    text = repr(described)
    assert str(failing.resolve()) in text and str(KAFKA_STORAGE_ERROR) in text, text
    with w.WireClient(b.host, b.port) as client:
        p = next(p for p, d in placed.items() if d == failing)
        now = int(time.time() * 1000)
        result = client.produce(8, topic, p, w.record_batch([w.Rec(None, b"x", now)]))
        assert result.error_code == KAFKA_STORAGE_ERROR
    assert "log dir failed" in b.log_tail(400)


# --- topic deletion -----------------------------------------------------------

def test_topics_deleted_while_a_consumer_reads_them_never_fail_on_storage(broker_factory):
    b = broker_factory(**{"log.segment.delete.delay.ms": "300"})
    topics = [unique_topic(f"del{i}") for i in range(100)]
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
        future.result(timeout=60)
    produce_confluent(b.bootstrap, topics[0], [{"value": b"x", "partition": 0}])
    consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique_topic("g"),
                         "auto.offset.reset": "earliest", "topic.metadata.refresh.interval.ms": 200})
    consumer.subscribe(topics)
    try:
        for _ in range(10):
            consumer.poll(0.2)
        half = len(topics) // 2
        for future in admin.delete_topics(topics[:half]).values():
            future.result(timeout=60)
        kafka_admin = KafkaAdminClient(bootstrap_servers=b.bootstrap)
        try:
            # raise_errors: any error code fails the test.
            response = kafka_admin.delete_topics(topics[half:], timeout_ms=30000)
            assert len(next(iter(response.values()))) == len(topics) - half, response
        finally:
            kafka_admin.close()
        for _ in range(10):
            message = consumer.poll(0.2)
            if message is not None and message.error() is not None:
                assert message.error().code() != KafkaError.KAFKA_STORAGE_ERROR, message.error()
    finally:
        consumer.close()
    # Renamed at once, removed after log.segment.delete.delay.ms.
    wait_until(lambda: not any(b.data_dir.glob("del*")), timeout=20,
               what="deleted partition folders removed")
    assert "KAFKA_STORAGE_ERROR" not in b.log_tail(1000)
    assert "log dir failed" not in b.log_tail(1000)


# --- a really full file system ----------------------------------------------

@pytest.fixture
def small_filesystem(tmp_path):
    """A 3 MiB tmpfs, where the machine lets the tests mount one (root)."""
    import subprocess
    mount_point = tmp_path / "small-fs"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")

    def grow(megabytes: int):
        subprocess.run(["mount", "-o", f"remount,size={megabytes}m", str(mount_point)], check=True)

    yield mount_point, grow
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_really_full_disk_loses_nothing_acknowledged(broker_factory, tmp_path, small_filesystem):
    full_disk, grow = small_filesystem
    roomy = tmp_path / "roomy"
    # The metadata log lives in the first dir; new partitions go to the dir
    # holding fewest, the small one.
    b = broker_factory(**{"log.dirs": f"{roomy},{full_disk}"})
    topic = unique_topic("full")
    create(b.bootstrap, topic)
    assert (full_disk / f"{topic}-0").is_dir()
    acked = []
    producer = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", linger_ms=5)
    try:
        futures = [(f"kp-{i}".encode() + b"." * 1000, producer.send(
            topic, value=f"kp-{i}".encode() + b"." * 1000)) for i in range(1000)]
        producer.flush(60)
        acked += [value for value, future in futures if future.succeeded()]
    finally:
        producer.close()
    assert len(acked) == 1000, "1 MB fits"
    # Then confluent-kafka fills the disk: ENOSPC, the dir goes offline.
    outcomes = produce_confluent(b.bootstrap, topic,
                                 [{"value": f"ck-{i}".encode() + b"." * 1000} for i in range(4000)],
                                 **{"enable.idempotence": True, "message.timeout.ms": 8000,
                                    "batch.num.messages": 50})
    acked += [value for err, _, _, value in outcomes if err is None]
    refused = [err for err, *_ in outcomes if err is not None]
    assert refused, "the disk filled up"
    assert "No space left on device" in b.log_tail(2000)
    assert b.stop() == 0
    grow(16)
    b.start()
    got = consume_all(b.bootstrap, topic, 1, len(acked), timeout=60)
    assert [offset for _, offset, _ in got] == list(range(len(got))), "no gap"
    assert len(got) == len(acked), "every acknowledged record, none twice"
    assert sorted(value for *_, value in got) == sorted(acked)
    more = produce_confluent(b.bootstrap, topic, [{"value": b"room again"}])
    assert more[0][0] is None and more[0][2] == len(acked)
