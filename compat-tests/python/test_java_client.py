"""Kafka's own Java client (kafka-clients 4.4.0) against gregor on a
PLAINTEXT listener: the idempotent producer it enables by default, a
classic consumer group with committed offsets, the Admin client's offsets,
and transactions read back with read_committed and read_uncommitted, each
cross-checked with confluent-kafka (issue 12, the Java client as a real
client). TLS and SASL with the Java client are in test_tls.py and
test_sasl.py."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer

import java_client
from conftest import unique_topic

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
