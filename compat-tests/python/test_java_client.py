"""Kafka's own Java client (kafka-clients 4.4.0) against gregor on a
PLAINTEXT listener: the idempotent producer it enables by default, a
classic consumer group with committed offsets, the Admin client's offsets,
and transactions read back with read_committed and read_uncommitted, each
cross-checked with confluent-kafka (issue 12, the Java client as a real
client). Then the wider surface: every acks setting with every codec,
seeking by timestamp, and the Admin client's topic, config, record, log
dir, consumer group, transaction, producer, cluster, feature and leader
election calls, each checked against a second client library (and the
segment files). TLS and SASL with the Java client are in test_tls.py and
test_sasl.py."""

from __future__ import annotations

import base64
import os
import struct
import time

import pytest
from confluent_kafka import (TIMESTAMP_CREATE_TIME, Consumer, ConsumerGroupTopicPartitions,
                             Producer, TopicCollection, TopicPartition)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

import java_client
from conftest import now_ms, unique_topic

pytestmark = pytest.mark.timeout(180)


def config(broker, **extra) -> dict:
    return {"bootstrap.servers": broker.bootstrap, **extra}


def confluent_read(broker, topic: str, count: int, isolation: str) -> list[tuple[int, str]]:
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique_topic("cf"),
                         "auto.offset.reset": "earliest", "isolation.level": isolation,
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append((msg.offset(), msg.value().decode()))
    finally:
        consumer.close()
    return got


def test_produce_consume_commit_and_admin_offsets(broker):
    topic = unique_topic("java")
    group = unique_topic("java-g")
    c = config(broker)
    assert java_client.run(c, "create", topic, "1") == [f"created {topic}"]
    # Idempotent by default in Kafka 4's producer: InitProducerId, sequences.
    assert java_client.run(c, "produce", topic, *[f"v{i}" for i in range(5)]) == \
        [f"offset {i}" for i in range(5)]
    assert java_client.run(c, "consume", topic, group, "5") == \
        [f"record {i} v{i}" for i in range(5)] + ["committed 5"]
    assert java_client.run(c, "committed", group, topic) == ["committed 0 5"]
    assert java_client.run(c, "end-offsets", topic) == ["end 0 5"]
    assert confluent_read(broker, topic, 5, "read_committed") == [(i, f"v{i}") for i in range(5)]


def test_transactions_committed_and_aborted(broker):
    topic = unique_topic("java-txn")
    c = config(broker)
    java_client.run(c, "create", topic, "1")
    txn = unique_topic("java-txn-id")
    assert java_client.run(c, "transaction", topic, txn, "commit", "a", "b") == \
        ["offset 0", "offset 1", "committed"]
    # The commit marker took offset 2.
    assert java_client.run(c, "transaction", topic, txn, "abort", "x", "y") == \
        ["offset 3", "offset 4", "aborted"]
    assert java_client.run(c, "transaction", topic, txn, "commit", "c") == \
        ["offset 6", "committed"]
    assert java_client.run(c, "end-offsets", topic) == ["end 0 8"]

    committed = [(0, "a"), (1, "b"), (6, "c")]
    read_committed = config(broker, **{"isolation.level": "read_committed"})
    assert java_client.run(read_committed, "consume", topic, unique_topic("jrc"), "3") == \
        [f"record {o} {v}" for o, v in committed] + ["committed 3"]
    everything = committed[:2] + [(3, "x"), (4, "y")] + committed[2:]
    read_uncommitted = config(broker, **{"isolation.level": "read_uncommitted"})
    assert java_client.run(read_uncommitted, "consume", topic, unique_topic("jru"), "5") == \
        [f"record {o} {v}" for o, v in everything] + ["committed 5"]
    assert confluent_read(broker, topic, 3, "read_committed") == committed


# --- Kafka's command-line tools -------------------------------------------------

TOPICS = "org.apache.kafka.tools.TopicCommand"
PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"


def test_kafka_topics_console_producer_consumer_and_consumer_groups(broker):
    """What kafka-topics.sh, kafka-console-producer.sh,
    kafka-console-consumer.sh and kafka-consumer-groups.sh run."""
    server = ["--bootstrap-server", broker.bootstrap]
    topic = unique_topic("tools")
    group = unique_topic("tools-g")
    out = java_client.run_tool(TOPICS, *server, "--create", "--topic", topic,
                               "--partitions", "3", "--replication-factor", "1",
                               "--config", "retention.ms=3600000")
    assert f"Created topic {topic}." in out
    out = java_client.run_tool(TOPICS, *server, "--describe", "--topic", topic)
    assert "PartitionCount: 3" in out and "ReplicationFactor: 1" in out
    assert "retention.ms=3600000" in out
    assert sorted(line.split("Partition: ")[1].split()[0] for line in out.splitlines()
                  if "Partition: " in line) == ["0", "1", "2"]
    assert topic in java_client.run_tool(TOPICS, *server, "--list").split()

    lines = [f"k{i}:v{i}" for i in range(9)]
    java_client.run_tool(PRODUCER, *server, "--topic", topic,
                         "--reader-property", "parse.key=true",
                         "--reader-property", "key.separator=:", stdin="\n".join(lines) + "\n")
    out = java_client.run_tool(CONSUMER, *server, "--topic", topic, "--from-beginning",
                               "--group", group, "--max-messages", "9",
                               "--formatter-property", "print.key=true",
                               "--formatter-property", "key.separator=:")
    assert sorted(out.split()) == sorted(lines)

    assert group in java_client.run_tool(GROUPS, *server, "--list").split()
    out = java_client.run_tool(GROUPS, *server, "--describe", "--group", group)
    rows = [line.split() for line in out.splitlines() if line.startswith(group)]
    # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
    assert sorted(row[2] for row in rows) == ["0", "1", "2"]
    assert sum(int(row[3]) for row in rows) == 9
    assert all(row[3] == row[4] and row[5] == "0" for row in rows), out

    out = java_client.run_tool(TOPICS, *server, "--delete", "--topic", topic)
    assert topic not in java_client.run_tool(TOPICS, *server, "--list").split()


# --- Producer settings, seeking by time, the Admin client -----------------------

CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
ACKS = ["0", "1", "all"]


def segment_batches(broker, topic: str, partition: int) -> list[dict]:
    """The header of every batch in a partition's first segment file, as
    the broker stored it: codec, record count, producer id and base
    sequence (-1 for a producer that is not idempotent)."""
    data = (broker.partition_dir(topic, partition) / f"{0:020d}.log").read_bytes()
    out, pos = [], 0
    while pos + 61 <= len(data):
        base_offset, length = struct.unpack_from(">qi", data, pos)
        attributes = struct.unpack_from(">h", data, pos + 21)[0]
        producer_id, _, base_sequence, count = struct.unpack_from(">qhii", data, pos + 43)
        out.append({"base_offset": base_offset, "codec": attributes & 7, "count": count,
                    "producer_id": producer_id, "base_sequence": base_sequence})
        pos += 12 + length
    return out


def confluent_read_partitions(broker, topic: str, partitions, count: int) -> dict[int, list]:
    """Every record of `partitions` from their start, read by confluent-kafka
    outside any group: {partition: [(offset, key, value, timestamp, headers)]}."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique_topic("cf"),
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, -2) for p in partitions])  # OFFSET_BEGINNING
    got: dict[int, list] = {p: [] for p in partitions}
    deadline = time.monotonic() + 30
    try:
        while sum(map(len, got.values())) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            kind, timestamp = msg.timestamp()
            assert kind == TIMESTAMP_CREATE_TIME, msg.timestamp()
            key = msg.key().decode() if msg.key() is not None else None
            got[msg.partition()].append((msg.offset(), key, msg.value().decode(), timestamp,
                                         [(k, v.decode()) for k, v in msg.headers() or []]))
    finally:
        consumer.close()
    return got


def test_producer_every_acks_with_every_codec(broker):
    """acks=0, 1 and all, each with no codec, gzip, snappy, lz4 and zstd:
    the offsets the producer learns (none with acks=0), the records read
    back by confluent-kafka, and the batches as stored — one per producer,
    in the codec it chose, idempotent (a producer id, sequence 0) only with
    acks=all, as Kafka 4's producer turns idempotence off by itself for
    acks 0 and 1 when it is not asked for."""
    topic = unique_topic("java-codecs")
    count, base = 5, now_ms() - 60_000
    lines = java_client.run(config(broker), "produce-matrix", topic, str(count), str(base))
    combos = [(acks, codec) for acks in ACKS for codec in CODEC_IDS]
    assert lines == [f"sent {acks} {codec} {p} {-1 if acks == '0' else i} {base + i}"
                     for p, (acks, codec) in enumerate(combos) for i in range(count)]

    got = confluent_read_partitions(broker, topic, range(len(combos)), count * len(combos))
    for p, (acks, codec) in enumerate(combos):
        assert got[p] == [(i, f"k{i}", f"{acks}-{codec}-{i}-" + "abcdefgh" * 16, base + i,
                           [("i", str(i))]) for i in range(count)], (acks, codec)
        [batch] = segment_batches(broker, topic, p)
        assert (batch["base_offset"], batch["count"], batch["codec"]) == \
            (0, count, CODEC_IDS[codec]), (acks, codec, batch)
        if acks == "all":
            assert batch["producer_id"] >= 0 and batch["base_sequence"] == 0, (codec, batch)
        else:
            assert (batch["producer_id"], batch["base_sequence"]) == (-1, -1), (acks, codec, batch)


def test_consumer_seeks_by_time(broker):
    """offsetsForTimes on CreateTime timestamps the producer set (one
    partition in time order, one with a record older than the one before
    it), then seek and read to the end; beginningOffsets, endOffsets, and
    the Admin's ListOffsets (earliest, latest, max timestamp, by time);
    confluent-kafka finds the same offsets."""
    topic = unique_topic("java-time")
    base = (now_ms() // 1000 - 600) * 1000
    records = {0: [(base + 1000 * i, f"a{i}") for i in range(6)],
               1: [(base + 500, "b0"), (base + 2500, "b1"), (base + 9000, "b2"),
                   (base + 4500, "b3")]}
    queries = [(0, base + 2000), (0, base + 2500), (0, base - 5000), (0, base + 99_000),
               (1, base + 4000), (1, base + 9001)]
    spec = ",".join(f"{p}:{ts}:{v}" for p, rs in records.items() for ts, v in rs)
    lines = java_client.run(config(broker), "time-seek", topic, "2", spec,
                            ",".join(f"{p}:{ts}" for p, ts in queries))

    def first_at(p, target):
        """Kafka's answer: the first offset whose timestamp is at least target."""
        return next(((o, ts) for o, (ts, _) in enumerate(records[p]) if ts >= target), None)

    expected = [f"sent {p} {o} {ts}" for p, rs in records.items() for o, (ts, _) in enumerate(rs)]
    expected += ["begin 0 0", "begin 1 0", "end 0 6", "end 1 4"]
    for p, target in queries:
        found = first_at(p, target)
        if found is None:
            expected.append(f"found {p} {target} none")
            continue
        expected.append(f"found {p} {target} {found[0]} {found[1]}")
        expected += [f"read {p} {target} {o} CreateTime {ts} {v}"
                     for o, (ts, v) in enumerate(records[p]) if o >= found[0]]
    expected += ["admin 0 earliest 0 -1", "admin 1 earliest 0 -1",
                 "admin 0 latest 6 -1", "admin 1 latest 4 -1",
                 f"admin 0 max 5 {base + 5000}", f"admin 1 max 2 {base + 9000}"]
    for p, target in queries:
        found = first_at(p, target) or (-1, -1)
        expected.append(f"admin-found {p} {target} {found[0]} {found[1]}")
    assert lines == expected
    # Spot-check the answers that matter: exact hit, between two, the out-of-order partition.
    assert f"found 0 {base + 2500} 3 {base + 3000}" in lines
    assert f"found 1 {base + 4000} 2 {base + 9000}" in lines

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique_topic("cf")})
    try:
        # One query per call: librdkafka keeps one timestamp per partition.
        answered = [consumer.offsets_for_times([TopicPartition(topic, p, ts)], timeout=10)[0]
                    for p, ts in queries]
        assert [(tp.partition, tp.offset, tp.error) for tp in answered] == \
            [(p, (first_at(p, ts) or (-1,))[0], None) for p, ts in queries]
        assert [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                for p in (0, 1)] == [(0, 6), (0, 4)]
    finally:
        consumer.close()


def describe_with_confluent(broker, topic: str) -> dict:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(timeout=10)
    return {name: (e.value, e.source) for name, e in entries.items()}


# ConfigSource ids (DescribeConfigs), as confluent-kafka reports them
DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG = 1, 4, 5


def test_admin_topic_configs_partitions_records_and_log_dirs(broker_factory):
    """On a broker whose message.max.bytes is set statically: createTopics
    with configs, describeConfigs (values, sources, synonyms),
    incrementalAlterConfigs SET / DELETE / APPEND / SUBTRACT and refused
    changes, createPartitions (grow, refused shrink), deleteRecords (before
    an offset, up to the high watermark, beyond the end) and describeLogDirs;
    then confluent-kafka sees the same configs, topic id, watermarks and
    records, and the log dir's sizes are the segment files'."""
    b = broker_factory(**{"message.max.bytes": "500000"})
    topic = unique_topic("java-topic-admin")
    lines = java_client.run(config(b), "topic-admin", topic)
    topic_id = lines[0].split()[3]
    data_dir = os.path.realpath(b.data_dir)

    def described(label, retention, max_bytes, policy):
        max_source = "DYNAMIC_TOPIC_CONFIG" if max_bytes != "500000" else "STATIC_BROKER_CONFIG"
        out = [f"{label} retention.ms {retention} DYNAMIC_TOPIC_CONFIG false",
               f"{label}-synonym retention.ms retention.ms {retention} DYNAMIC_TOPIC_CONFIG",
               f"{label} max.message.bytes {max_bytes} {max_source} false"]
        if max_bytes != "500000":
            out.append(f"{label}-synonym max.message.bytes max.message.bytes {max_bytes} "
                       "DYNAMIC_TOPIC_CONFIG")
        out += [f"{label}-synonym max.message.bytes message.max.bytes 500000 STATIC_BROKER_CONFIG",
                f"{label}-synonym max.message.bytes message.max.bytes 1048588 DEFAULT_CONFIG",
                f"{label} cleanup.policy {policy} DYNAMIC_TOPIC_CONFIG false",
                f"{label}-synonym cleanup.policy cleanup.policy {policy} DYNAMIC_TOPIC_CONFIG",
                f"{label}-synonym cleanup.policy log.cleanup.policy delete DEFAULT_CONFIG",
                f"{label} segment.bytes 1073741824 DEFAULT_CONFIG true",
                f"{label}-synonym segment.bytes log.segment.bytes 1073741824 DEFAULT_CONFIG"]
        return out

    head = [f"created 1 1 {topic_id}", "create-again error TopicExistsException",
            *described("described", "3600000", "2000000", "delete"),
            "alter ok",
            *described("altered", "7200000", "500000", "delete,compact"),
            "subtract ok",
            *described("subtracted", "7200000", "500000", "delete"),
            "alter-unknown error InvalidConfigurationException",
            "alter-invalid error InvalidConfigurationException",
            "grow ok", "shrink error InvalidPartitionsException",
            f"topic {topic_id} 3 false",
            "partition 0 1 1 1", "partition 1 1 1 1", "partition 2 1 1 1",
            "deleted 0 4", "deleted 1 3",
            "delete-beyond error OffsetOutOfRangeException",
            "earliest 0 4", "earliest 1 3", "earliest 2 0"]
    assert lines[:len(head)] == head
    log_dir, *replicas = lines[len(head):]
    node, path, error, total, usable = log_dir.split()[1:]
    assert (node, path, error) == ("1", data_dir, "-")
    assert 0 < int(usable) <= int(total)
    sizes = {p: sum(f.stat().st_size for f in b.partition_dir(topic, p).glob("*.log"))
             for p in range(3)}
    assert sizes[0] > 0 and sizes[1] > 0 and sizes[2] == 0, sizes
    assert replicas == [f"replica 1 {data_dir} {p} {sizes[p]} 0 false" for p in range(3)]

    # What confluent-kafka sees of the same topic.
    configs = describe_with_confluent(b, topic)
    assert {k: configs[k] for k in ("retention.ms", "max.message.bytes", "cleanup.policy")} == {
        "retention.ms": ("7200000", DYNAMIC_TOPIC_CONFIG),
        "max.message.bytes": ("500000", STATIC_BROKER_CONFIG),
        "cleanup.policy": ("delete", DYNAMIC_TOPIC_CONFIG)}
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    description = admin.describe_topics(TopicCollection([topic]))[topic].result(timeout=10)
    uuid = struct.pack(">qq", description.topic_id.get_most_significant_bits(),
                       description.topic_id.get_least_significant_bits())
    assert base64.urlsafe_b64encode(uuid).decode().rstrip("=") == topic_id  # Uuid.toString()
    assert [p.id for p in description.partitions] == [0, 1, 2]
    consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique_topic("cf")})
    try:
        assert [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                for p in range(3)] == [(4, 10), (3, 3), (0, 0)]
    finally:
        consumer.close()
    got = confluent_read_partitions(b, topic, [0], 6)
    assert [(o, v) for o, _, v, _, _ in got[0]] == [(i, f"r{i}") for i in range(4, 10)]


def test_admin_create_topics_reports_the_new_topics_configs(broker):
    """CreateTopicsResult.config(topic): what CreateTopics v5+ answers for
    a new topic is its full configuration, as describeConfigs (here
    confluent-kafka's) then reports it."""
    topic = unique_topic("java-create-configs")
    lines = java_client.run(config(broker), "create-configs", topic,
                            "retention.ms=3600000", "cleanup.policy=compact")
    assert lines[0].startswith("created 1 1 ")
    configs = describe_with_confluent(broker, topic)
    sources = {DYNAMIC_TOPIC_CONFIG: "DYNAMIC_TOPIC_CONFIG", STATIC_BROKER_CONFIG:
               "STATIC_BROKER_CONFIG", DEFAULT_CONFIG: "DEFAULT_CONFIG"}
    created = {line.split()[1]: tuple(line.split()[2:4]) for line in lines[2:]}
    assert lines[1] == f"configs {len(configs)}"
    assert created == {name: (value if value not in (None, "") else "-", sources[source])
                       for name, (value, source) in configs.items()}
    assert created["retention.ms"] == ("3600000", "DYNAMIC_TOPIC_CONFIG")
    assert created["cleanup.policy"] == ("compact", "DYNAMIC_TOPIC_CONFIG")


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_admin_consumer_groups(group_broker, protocol):
    """A Java consumer's group (classic, or KIP-848's consumer protocol)
    while it is in it — listed, described (state, type, assignor, member,
    assignment), its offsets, and the refusals a live group gets — and once
    it has left: listed with state and type filters, offsets altered and one
    deleted. A group made by confluent-kafka (offsets committed outside any
    membership: a simple group) is described and deleted. confluent-kafka
    then sees what the Java client left."""
    b = group_broker
    topic, group, other = (unique_topic(f"java-groups-{protocol}"), unique_topic("java-g"),
                           unique_topic("cf-g"))
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=10)
    producer = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(6):
        producer.produce(topic, value=f"v{i}".encode(), partition=i % 2)
    assert producer.flush(10) == 0
    committer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": other})
    committer.commit(offsets=[TopicPartition(topic, 0, 2), TopicPartition(topic, 1, 1)],
                     asynchronous=False)
    committer.close()

    lines = java_client.run(config(b, **{"group.protocol": protocol}),
                            "group-admin", topic, group, other)
    kind, assignor = ("Classic", "range") if protocol == "classic" else ("Consumer", "uniform")
    listed = lambda label, state: [f"{label} {other} Empty Classic true",  # noqa: E731
                                   f"{label} {group} {state} {kind} false"]
    assert lines == [
        f"consumed 6 {topic}-0,{topic}-1",
        *sorted(listed("live-listed", "Stable")),
        f"group {group} Stable {kind} false {assignor} 1 1",
        f"member {group} java-{group} /127.0.0.1 - {topic}-0,{topic}-1",
        f"offset {group} 0 3 -", f"offset {group} 1 3 -",
        "live-alter error UnknownMemberIdException",
        "live-delete-offsets error GroupSubscribedToTopicException",
        "live-delete error GroupNotEmptyException",
        *sorted(listed("listed", "Empty")),
        *sorted(listed("listed-empty", "Empty")),
        *[line for line in sorted(listed("listed-classic", "Empty")) if "Classic" in line.split()],
        # an empty classic group no longer has a protocol; a consumer group keeps its assignor
        f"group {group} Empty {kind} false {'-' if kind == 'Classic' else assignor} 1 0",
        "alter ok",
        f"offset {group} 0 1 -", f"offset {group} 1 2 moved",
        "delete-offsets ok",
        f"offset {group} 1 2 moved",
        f"group {other} Empty Classic true - 1 0",
        f"offset {other} 0 2 -", f"offset {other} 1 1 -",
        "delete-other ok",
        "delete-other-again error GroupIdNotFoundException",
        f"group {other} error GroupIdNotFoundException",
        f"offsets {other} none",
        f"finally-listed {group} Empty {kind} false",
    ]

    described = admin.describe_consumer_groups([group])[group].result(timeout=10)
    assert (described.state.name, described.type.name, described.members) == \
        ("EMPTY", kind.upper(), [])
    [offsets] = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group)]).values()
    # (confluent-kafka's metadata is a C string: it writes a trailing NUL
    # and reads up to one, so a metadata another client wrote without one
    # comes back with stray bytes; kafka-python checks the metadata.)
    assert [(tp.partition, tp.offset) for tp in offsets.result(timeout=10).topic_partitions] == \
        [(1, 2)]
    groups = {g.group_id for g in admin.list_consumer_groups().result(timeout=10).valid}
    assert group in groups and other not in groups

    from kafka import TopicPartition as KafkaTopicPartition
    from kafka.admin import KafkaAdminClient
    kp = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    try:
        assert {tp: (o.offset, o.metadata) for tp, o in kp.list_group_offsets(group)[group]
                .items()} == {KafkaTopicPartition(topic, 1): (2, "moved")}
    finally:
        kp.close()


def test_admin_transactions_and_producers(broker):
    """describeProducers, describeTransactions and listTransactions (with
    its state, producer id, id pattern and duration filters) around a
    transactional producer's transaction — after initTransactions, while
    ongoing, once committed — beside an idempotent producer on the same
    partition; kafka-python's admin client and a read_committed
    confluent-kafka consumer agree."""
    topic, txn = unique_topic("java-txn-admin"), unique_topic("java-txn-admin-id")
    base = now_ms() - 60_000
    started = now_ms()
    lines = java_client.run(config(broker), "txn-admin", topic, txn, str(base))
    finished = now_ms()
    idem = int(next(line for line in lines if line.startswith("producers-idempotent")).split()[1])
    pid = int(next(line for line in lines if line.startswith("initialized-described")).split()[2])
    assert pid != idem
    marker_line = lines[-2]
    marker_ts = int(marker_line.split()[4])
    assert started <= marker_ts <= finished, (started, marker_line, finished)

    def txn_lines(label, state, epoch, start, partitions, other_state="none", duration=False):
        out = [f"{label}-described {state} {pid} {epoch} 60000 1 {start} {partitions}",
               f"{label}-listed {txn} {pid} {state}",
               f"{label}-listed-by-state {txn} {pid} {state}",
               f"{label}-listed-by-other-state {other_state}",
               f"{label}-listed-by-producer {txn} {pid} {state}",
               f"{label}-listed-by-pattern {txn} {pid} {state}"]
        return out + ([f"{label}-listed-by-duration none"] if duration else [])

    idempotent = f"{idem} 0 2 {base + 2} - -"
    assert lines == [
        "sent 0", "sent 1", "sent 2",
        f"producers-idempotent {idempotent}",
        *txn_lines("initialized", "Empty", 0, "false", "-"),
        "sent 3", "sent 4",
        *txn_lines("ongoing", "Ongoing", 0, "true", f"{topic}-0", duration=True),
        f"producers-ongoing {idempotent}",
        f"producers-ongoing {pid} 0 1 {base + 11} 3 -",
        # Transactions V2 (KIP-890): the commit bumps the epoch; the marker,
        # written with it, resets the sequence and sets the coordinator epoch.
        *txn_lines("committed", "CompleteCommit", 1, "true", "-"),
        f"producers-committed {idempotent}",
        f"producers-committed {pid} 1 -1 {marker_ts} - 0",
        "describe-unknown error TransactionalIdNotFoundException",
    ]

    from kafka import TopicPartition as KafkaTopicPartition
    from kafka.admin import KafkaAdminClient
    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        d = kp.describe_transactions([txn])[txn]
        assert (d.state.value, d.producer_id, d.producer_epoch, d.topic_partitions) == \
            ("CompleteCommit", pid, 1, set())
        listed = [t for ts in kp.list_transactions(transactional_id_pattern=txn).values()
                  for t in ts]
        assert [(t.transactional_id, t.producer_id, t.state.value) for t in listed] == \
            [(txn, pid, "CompleteCommit")]
        [state] = kp.describe_producers([KafkaTopicPartition(topic, 0)]).values()
        assert sorted((p.producer_id, p.producer_epoch, p.last_sequence,
                       p.current_transaction_start_offset) for p in state.active_producers) == \
            sorted([(idem, 0, 2, -1), (pid, 1, -1, -1)])
    finally:
        kp.close()
    assert confluent_read(broker, topic, 5, "read_committed") == \
        [(0, "i0"), (1, "i1"), (2, "i2"), (3, "t0"), (4, "t1")]


def test_admin_cluster_features_and_leader_elections(broker):
    """describeCluster (id, controller, nodes, authorized operations) as
    confluent-kafka's describe_cluster reports it; describeFeatures as
    kafka-python's describe_features does; electLeaders on one broker:
    preferred election not needed (per partition, and as all()'s
    exception), nothing to report for every partition, unclean not needed
    while the leader lives, and an unknown partition."""
    topic = unique_topic("java-cluster")
    lines = java_client.run(config(broker), "cluster-admin", topic)

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    cluster = admin.describe_cluster(include_authorized_operations=True).result(timeout=10)
    nodes = [f"node {n.id} {n.host} {n.port} {n.rack or '-'}"
             for n in sorted(cluster.nodes, key=lambda n: n.id)]
    assert nodes == [f"node 1 {broker.host} {broker.port} -"]
    operations = ",".join(sorted(op.name for op in cluster.authorized_operations))
    # With no authorizer, Kafka grants every operation the cluster resource has.
    assert operations == "ALTER,ALTER_CONFIGS,CLUSTER_ACTION,CREATE,DESCRIBE,DESCRIBE_CONFIGS," \
                         "IDEMPOTENT_WRITE"

    from kafka.admin import KafkaAdminClient
    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        features = kp.describe_features()
    finally:
        kp.close()
    finalized = [f"finalized {name} {f['finalized'][0]} {f['finalized'][1]}"
                 for name, f in sorted(features.items()) if f.get("finalized")]
    supported = [f"supported {name} {f['supported'][0]} {f['supported'][1]}"
                 for name, f in sorted(features.items())]
    epochs = {f.get("finalized_epoch") for f in features.values()}
    assert finalized == ["finalized group.version 1 1", "finalized metadata.version 33 33",
                         "finalized streams.version 1 1", "finalized transaction.version 2 2"]
    assert supported == ["supported group.version 0 1", "supported kraft.version 0 1",
                         "supported metadata.version 7 33", "supported streams.version 0 1",
                         "supported transaction.version 0 2"]

    assert lines == [
        f"cluster-id {cluster.cluster_id}",
        f"controller {cluster.controller.id}",
        *nodes,
        f"cluster-operations {operations}",
        *finalized,
        *supported,
        f"features-epoch {epochs.pop()}",
        # ELECTION_NOT_NEEDED per partition, which ElectLeadersResult.all() raises
        "elect preferred 0 ElectionNotNeededException",
        "elect preferred 1 ElectionNotNeededException",
        "elect-all preferred error ElectionNotNeededException",
        # every partition (null): only those whose leader moved are listed
        "elect-every preferred 0",
        "elect unclean 0 ElectionNotNeededException",
        "elect-missing ok error UnknownTopicOrPartitionException",
        "elect missing 7 UnknownTopicOrPartitionException",
    ]
