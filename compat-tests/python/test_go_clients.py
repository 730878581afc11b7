"""The Go Kafka clients against gregor: franz-go (kgo), Sarama (IBM) and
segmentio/kafka-go, driven through compat-tests/go's `gregor-go-client`
(go_client.py) and cross-checked with confluent-kafka.

* Each library produces with acks=all and its own codec (franz-go zstd,
  Sarama snappy, kafka-go lz4): the offsets it is told are 0..N-1, the
  batches on disk carry that codec, and confluent-kafka reads the values
  back at those offsets.
* Each library consumes two partitions in a consumer group and commits:
  every record at its offset, and the committed offsets the admin API
  lists are each partition's end.
* Across libraries: franz-go produces, Sarama and kafka-go consume.
* Transactions (franz-go and Sarama): commit, abort, commit; the markers'
  offsets; read_committed readers (franz-go, Sarama and confluent-kafka)
  see only the committed records, read_uncommitted all. franz-go's
  consume-transform-produce (GroupTransactSession: TxnOffsetCommit in the
  transactions). kafka-go has no transactional producer, and its Reader
  hands out transaction markers as messages and keeps aborted records
  (segmentio/kafka-go#1332), so it reads no transactional topic here.
* franz-go with the KIP-848 consumer group protocol (ConsumerGroupHeartbeat
  v1): the group is a `consumer` group and its commits land.
* SASL/SCRAM over TLS (SASL_SSL): Metadata names the SASL_SSL listener,
  each library produces and consumes as a SCRAM user; a wrong password is
  refused (SASL_AUTHENTICATION_FAILED) and writes nothing.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, ConsumerGroupType, \
    KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient, NewTopic, OffsetSpec, ScramCredentialInfo, ScramMechanism,
    UserScramCredentialUpsertion,
)

import go_client
from conftest import Broker, BrokerError, free_port, read_batches, unique_topic
from go_client import FRANZ, KAFKA_GO, LIBRARIES, SARAMA
from pki import make as make_pki

pytestmark = pytest.mark.timeout(120)

CODEC = {FRANZ: 4, SARAMA: 2, KAFKA_GO: 3}          # zstd, snappy, lz4
CODEC_NAME = {FRANZ: "zstd", SARAMA: "snappy", KAFKA_GO: "lz4"}
TRANSACTIONAL = (FRANZ, SARAMA)

ALICE = ("alice", "SCRAM-SHA-256", "alice-secret")
BOB = ("bob", "SCRAM-SHA-512", "bob-secret")


# ---------------------------------------------------------------------------
# The module's broker: PLAINTEXT for the tests' own admin work and most
# clients, SASL_SSL with both SCRAM mechanisms for the security tests.
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def go_broker(tmp_path_factory):
    go_client.binary()      # built (or found up to date) before any broker starts
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    b = Broker(name="go", overrides={})
    b.sasl_ssl_port = free_port()
    b.pki = pki
    listeners = f"PLAINTEXT://127.0.0.1:{b.port},SASL_SSL://127.0.0.1:{b.sasl_ssl_port}"
    b.overrides.update({
        "listeners": listeners,
        "advertised.listeners": listeners,
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        "ssl.keystore.location": str(pki / "broker-keystore.pem"),
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.num.partitions": "4",
        "group.consumer.heartbeat.interval.ms": "500",
        "group.consumer.min.heartbeat.interval.ms": "500",
    })
    try:
        b.start()
    except BrokerError as e:
        b.cleanup()
        pytest.fail(str(e), pytrace=False)
    try:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        futures = admin.alter_user_scram_credentials([
            UserScramCredentialUpsertion(
                user, ScramCredentialInfo(ScramMechanism[mechanism.replace("-", "_")], 4096),
                password.encode())
            for user, mechanism, password in (ALICE, BOB)])
        for future in futures.values():
            future.result(15)
        yield b
    finally:
        b.cleanup()


# ---------------------------------------------------------------------------
# Helpers: gregor-go-client and confluent-kafka
# ---------------------------------------------------------------------------

def go(b: Broker, library: str, *args: str, **flags) -> list[str]:
    return go_client.run(library, b.bootstrap, *args, **flags)


def scram(b: Broker, user: tuple[str, str, str], password: str | None = None) -> dict:
    """gregor-go-client's flags for `user` on the SASL_SSL listener."""
    name, mechanism, secret = user
    return {"bootstrap": f"127.0.0.1:{b.sasl_ssl_port}", "security_protocol": "SASL_SSL",
            "sasl_mechanism": mechanism, "sasl_username": name,
            "sasl_password": secret if password is None else password,
            "ssl_ca": str(b.pki / "ca.pem")}


def go_scram(b: Broker, library: str, user, *args: str, password: str | None = None,
             **flags) -> go_client.Outcome:
    config = scram(b, user, password)
    bootstrap = config.pop("bootstrap")
    return go_client.call(library, bootstrap, *args, **config, **flags)


def create_topic(b: Broker, topic: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(15)


def confluent_produce(b: Broker, topic: str, records: list[tuple[int, str]]) -> list[tuple]:
    """Produces (partition, value) pairs; returns their (partition, offset)."""
    producer = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5})
    reports = []
    for partition, value in records:
        producer.produce(topic, value=value.encode(), partition=partition,
                         on_delivery=lambda err, msg: reports.append(
                             (err, msg.partition(), msg.offset())))
    assert producer.flush(15) == 0
    assert all(err is None for err, _, _ in reports), reports
    return sorted((p, o) for _, p, o in reports)


def confluent_read(b: Broker, topic: str, partition: int = 0,
                   isolation: str = "read_uncommitted") -> list[tuple[int, str]]:
    """(offset, value) of a whole partition, read from its start (assigned,
    no group) to its end."""
    consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique_topic("go-cf"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": isolation, "enable.partition.eof": True})
    try:
        consumer.assign([TopicPartition(topic, partition, 0)])
        got = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == -191:          # _PARTITION_EOF
                    return got
                raise KafkaException(msg.error())
            got.append((msg.offset(), msg.value().decode()))
        raise AssertionError(f"no end of {topic}[{partition}] within 30 s; read {got}")
    finally:
        consumer.close()


def committed(b: Broker, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets for the topic's partitions, as the admin
    API lists them (-1001 where none)."""
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    request = [ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, p) for p in range(partitions)])]
    result = admin.list_consumer_group_offsets(request)[group].result(15)
    return {tp.partition: tp.offset for tp in result.topic_partitions}


def end_offsets(b: Broker, topic: str, partitions: int = 1) -> dict[int, int]:
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    wanted = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(partitions)}
    return {tp.partition: f.result(15).offset for tp, f in admin.list_offsets(wanted).items()}


def records_of(lines: list[str]) -> list[tuple[int, int, str]]:
    """The (partition, offset, value) of a consume's "record" lines, in the
    order printed."""
    out = []
    for line in lines:
        if line.startswith("record "):
            _, partition, offset, value = line.split(" ", 3)
            out.append((int(partition), int(offset), value))
    return out


def assert_consumed(lines: list[str], expected: list[tuple[int, int, str]]) -> None:
    """Every expected record once, each partition's in offset order, then
    the commit."""
    got = records_of(lines)
    assert sorted(got) == sorted(expected), lines
    for partition in {p for p, _, _ in expected}:
        offsets = [o for p, o, _ in got if p == partition]
        assert offsets == sorted(offsets), lines
    assert lines[-1] == f"committed {len(expected)}", lines
    assert len(lines) == len(expected) + 1, lines


def payload(library: str, i: int) -> str:
    # Repetitive, so that every codec pays (franz-go sends a batch
    # uncompressed when compressing does not make it smaller).
    return f"{library}-{i}-" + "gregor" * 12


# ---------------------------------------------------------------------------
# Produce, each with its codec
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("library", LIBRARIES)
def test_produce_offsets_codec_and_read_back(go_broker, library):
    topic = unique_topic(f"go-produce-{library}")
    create_topic(go_broker, topic)
    values = [payload(library, i) for i in range(6)]
    assert go(go_broker, library, "produce", topic, *values) == \
        [f"offset 0 {i}" for i in range(6)]
    # A second call goes on from the end.
    assert go(go_broker, library, "produce", topic, "more-" + values[0]) == ["offset 0 6"]
    assert confluent_read(go_broker, topic) == \
        list(enumerate(values)) + [(6, "more-" + values[0])]
    batches = read_batches(go_broker.partition_dir(topic, 0) / f"{0:020d}.log")
    assert sum(b["count"] for b in batches) == 7
    assert {b["codec"] for b in batches} == {CODEC[library]}, \
        f"{library} should send {CODEC_NAME[library]} batches: {batches}"
    assert end_offsets(go_broker, topic) == {0: 7}


# ---------------------------------------------------------------------------
# Consumer groups with commits
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("library", LIBRARIES)
def test_group_consume_and_commit(go_broker, library):
    topic, group = unique_topic(f"go-group-{library}"), unique_topic(f"go-g-{library}")
    create_topic(go_broker, topic, 2)
    records = [(0, f"p0-{i}") for i in range(3)] + [(1, f"p1-{i}") for i in range(2)]
    assert confluent_produce(go_broker, topic, records) == \
        [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    expected = [(0, i, f"p0-{i}") for i in range(3)] + [(1, i, f"p1-{i}") for i in range(2)]
    assert_consumed(go(go_broker, library, "consume", topic, group, "5"), expected)
    assert committed(go_broker, group, topic, 2) == {0: 3, 1: 2}

    # The group resumes from its commits: two more records, only they come.
    assert confluent_produce(go_broker, topic, [(0, "p0-3"), (1, "p1-2")]) == [(0, 3), (1, 2)]
    assert_consumed(go(go_broker, library, "consume", topic, group, "2"),
                    [(0, 3, "p0-3"), (1, 2, "p1-2")])
    assert committed(go_broker, group, topic, 2) == {0: 4, 1: 3}


def test_franz_go_produces_sarama_and_kafka_go_consume(go_broker):
    topic = unique_topic("go-cross")
    create_topic(go_broker, topic)
    values = [f"cross-{i}" for i in range(4)]
    assert go(go_broker, FRANZ, "produce", topic, *values) == [f"offset 0 {i}" for i in range(4)]
    expected = [(0, i, v) for i, v in enumerate(values)]
    for library in (SARAMA, KAFKA_GO):
        group = unique_topic(f"go-cross-{library}")
        assert_consumed(go(go_broker, library, "consume", topic, group, "4"), expected)
        assert committed(go_broker, group, topic, 1) == {0: 4}
    # And Sarama's snappy batch after franz-go's zstd one, read by franz-go.
    assert go(go_broker, SARAMA, "produce", topic, "from-sarama") == ["offset 0 4"]
    assert_consumed(go(go_broker, FRANZ, "consume", topic, unique_topic("go-cross-f"), "5"),
                    expected + [(0, 4, "from-sarama")])


# ---------------------------------------------------------------------------
# Transactions
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("library", TRANSACTIONAL)
def test_transactions_commit_and_abort(go_broker, library):
    topic = unique_topic(f"go-txn-{library}")
    create_topic(go_broker, topic)
    txn = unique_topic(f"go-txn-id-{library}")
    assert go(go_broker, library, "transaction", topic, txn, "commit", "a", "b") == \
        ["offset 0 0", "offset 0 1", "committed"]
    # The commit marker took offset 2, the abort marker 5.
    assert go(go_broker, library, "transaction", topic, txn, "abort", "x", "y") == \
        ["offset 0 3", "offset 0 4", "aborted"]
    assert go(go_broker, library, "transaction", topic, txn, "commit", "c") == \
        ["offset 0 6", "committed"]
    assert end_offsets(go_broker, topic) == {0: 8}

    # Both transactional libraries read each one's transactions (kafka-go
    # cannot: its Reader hands out the markers as messages and does not drop
    # aborted records, segmentio/kafka-go#1332).
    committed_records = [(0, 0, "a"), (0, 1, "b"), (0, 6, "c")]
    for reader in TRANSACTIONAL:
        group = unique_topic(f"go-rc-{reader}")
        assert_consumed(go(go_broker, reader, "consume", topic, group, "3",
                           isolation_level="read_committed"), committed_records)
        assert committed(go_broker, group, topic, 1) == {0: 7}
    assert confluent_read(go_broker, topic, isolation="read_committed") == \
        [(0, "a"), (1, "b"), (6, "c")]
    assert confluent_read(go_broker, topic, isolation="read_uncommitted") == \
        [(0, "a"), (1, "b"), (3, "x"), (4, "y"), (6, "c")]


def test_franz_go_consume_transform_produce_exactly_once(go_broker):
    """A GroupTransactSession: the copies and the group's offsets
    (TxnOffsetCommit) committed in the same transactions."""
    source, sink = unique_topic("go-eos-in"), unique_topic("go-eos-out")
    group = unique_topic("go-eos-g")
    create_topic(go_broker, source, 2)
    create_topic(go_broker, sink, 2)
    inputs = [(0, "a"), (1, "b"), (0, "c"), (1, "d"), (0, "e")]
    confluent_produce(go_broker, source, inputs)
    lines = go(go_broker, FRANZ, "eos", source, sink, group, unique_topic("go-eos-txn"), "5")
    expected = [(0, 0, "a"), (0, 1, "c"), (0, 2, "e"), (1, 0, "b"), (1, 1, "d")]
    assert sorted(records_of(lines)) == expected, lines
    assert lines[-1] == "committed 5" and "transaction committed" in lines, lines
    written = sorted(tuple(map(int, line.split()[1:])) for line in lines
                     if line.startswith("offset "))
    copies = {p: confluent_read(go_broker, sink, p, "read_committed") for p in (0, 1)}
    assert [v for _, v in copies[0]] == ["eos-a", "eos-c", "eos-e"]
    assert [v for _, v in copies[1]] == ["eos-b", "eos-d"]
    assert written == sorted((p, o) for p in (0, 1) for o, _ in copies[p])
    assert committed(go_broker, group, source, 2) == {0: 3, 1: 2}
    # The group goes on from the offsets its transactions committed.
    confluent_produce(go_broker, source, [(1, "f")])
    lines = go(go_broker, FRANZ, "eos", source, sink, group, unique_topic("go-eos-txn"), "1")
    assert records_of(lines) == [(1, 2, "f")] and lines[-1] == "committed 1", lines
    assert [v for _, v in confluent_read(go_broker, sink, 1, "read_committed")] == \
        ["eos-b", "eos-d", "eos-f"]
    assert committed(go_broker, group, source, 2) == {0: 3, 1: 3}


# ---------------------------------------------------------------------------
# KIP-848
# ---------------------------------------------------------------------------

def test_franz_go_consumer_group_protocol(go_broker):
    topic, group = unique_topic("go-848"), unique_topic("go-848-g")
    create_topic(go_broker, topic, 2)
    assert confluent_produce(go_broker, topic, [(0, "a"), (1, "b"), (0, "c"), (1, "d")]) == \
        [(0, 0), (0, 1), (1, 0), (1, 1)]
    expected = [(0, 0, "a"), (0, 1, "c"), (1, 0, "b"), (1, 1, "d")]
    assert_consumed(go(go_broker, FRANZ, "consume", topic, group, "4",
                       group_protocol="consumer"), expected)
    assert committed(go_broker, group, topic, 2) == {0: 2, 1: 2}
    admin = AdminClient({"bootstrap.servers": go_broker.bootstrap})
    described = admin.describe_consumer_groups([group])[group].result(15)
    assert described.type == ConsumerGroupType.CONSUMER, \
        "franz-go joined with the classic protocol, not KIP-848"
    # Again, resuming from the commits.
    assert confluent_produce(go_broker, topic, [(1, "e")]) == [(1, 2)]
    assert_consumed(go(go_broker, FRANZ, "consume", topic, group, "1",
                       group_protocol="consumer"), [(1, 2, "e")])
    assert committed(go_broker, group, topic, 2) == {0: 2, 1: 3}


# ---------------------------------------------------------------------------
# SASL/SCRAM over TLS
# ---------------------------------------------------------------------------

def ok(outcome: go_client.Outcome) -> list[str]:
    assert outcome.code == 0, f"exited {outcome.code}: {outcome.lines}\n{outcome.stderr[-3000:]}"
    return outcome.lines


@pytest.mark.parametrize("library", LIBRARIES)
def test_scram_over_tls(go_broker, library):
    b = go_broker
    assert ok(go_scram(b, library, ALICE, "nodes")) == [f"node 1 127.0.0.1 {b.sasl_ssl_port}"]
    topic = unique_topic(f"go-scram-{library}")
    create_topic(b, topic)
    assert ok(go_scram(b, library, ALICE, "produce", topic, "s-0", "s-1")) == \
        ["offset 0 0", "offset 0 1"]
    expected = [(0, 0, "s-0"), (0, 1, "s-1")]
    if library in TRANSACTIONAL:
        assert ok(go_scram(b, library, BOB, "transaction", topic, unique_topic("go-scram-txn"),
                           "commit", "t-0")) == ["offset 0 2", "committed"]
        expected.append((0, 2, "t-0"))
    group = unique_topic(f"go-scram-g-{library}")
    assert_consumed(ok(go_scram(b, library, BOB, "consume", topic, group, str(len(expected)),
                                isolation_level="read_committed")), expected)
    assert committed(b, group, topic, 1) == {0: expected[-1][1] + 1}
    assert [(o, v) for _, o, v in expected] == confluent_read(b, topic)


@pytest.mark.parametrize("library", LIBRARIES)
def test_scram_wrong_password_is_refused(go_broker, library):
    b = go_broker
    topic = unique_topic(f"go-scram-bad-{library}")
    create_topic(b, topic)
    for args in (("nodes",), ("produce", topic, "never")):
        outcome = go_scram(b, library, ALICE, *args, password="wrong", deadline="20s")
        assert (outcome.code, outcome.lines) == (3, ["error SASL_AUTHENTICATION_FAILED"]), \
            f"{args}: exited {outcome.code}: {outcome.lines}\n{outcome.stderr[-3000:]}"
    # A user that does not exist, with the other mechanism.
    outcome = go_scram(b, library, ("mallory", "SCRAM-SHA-512", "x"), "nodes", deadline="20s")
    assert (outcome.code, outcome.lines) == (3, ["error SASL_AUTHENTICATION_FAILED"]), \
        f"exited {outcome.code}: {outcome.lines}\n{outcome.stderr[-3000:]}"
    assert end_offsets(b, topic) == {0: 0}
