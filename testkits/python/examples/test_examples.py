"""Application tests against gregor with pytest-gregor and confluent-kafka.

Each test starts its own broker (or cluster) through a fixture and checks a
real outcome: records read back, a producer retrying through injected
errors, time travel aborting a transaction and expiring a dead consumer,
the linter naming a consumer that commits past the high watermark, and a
replicated topic surviving the loss of its leader.

    pip install ./testkits/python confluent-kafka
    GREGOR_BIN=target/debug/gregor pytest testkits/python/examples
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import List, Optional

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from pytest_gregor import GregorBroker, GregorCluster, wait_for


def consume(bootstrap: str, topic: str, count: int, timeout: float = 20.0) -> List[bytes]:
    """Reads `count` records of a topic as a new consumer group would."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{topic}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values: List[bytes] = []
    deadline = time.monotonic() + timeout
    while len(values) < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None and not message.error():
            values.append(message.value())
    consumer.close()
    return values


def read_partition(bootstrap: str, topic: str, partition: int = 0, timeout: float = 20.0,
                   **config) -> List[bytes]:
    """Every record of a partition, from its start to its end."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "enable.partition.eof": True, **config})
    consumer.assign([TopicPartition(topic, partition, 0)])
    values: List[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error() is None:
            values.append(message.value())
        elif message.error().code() == KafkaError._PARTITION_EOF:
            break
        else:
            raise KafkaException(message.error())
    else:
        raise AssertionError(f"{topic}-{partition}: no end in sight after {timeout} s")
    consumer.close()
    return values


def test_records_produced_are_consumed_in_order(gregor_broker: GregorBroker):
    producer = Producer({"bootstrap.servers": gregor_broker.bootstrap})
    for i in range(10):
        producer.produce("orders", value=f"order-{i}".encode())
    assert producer.flush(10) == 0

    assert consume(gregor_broker.bootstrap, "orders", 10) == [f"order-{i}".encode()
                                                               for i in range(10)]


def test_a_producer_retries_through_not_leader_or_follower(gregor_broker: GregorBroker):
    # The next two Produce requests for "payments" are answered
    # NOT_LEADER_OR_FOLLOWER (6) without being written.
    gregor_broker.arm(api="Produce", topic="payments", action={"error": 6}, count=2)
    producer = Producer({"bootstrap.servers": gregor_broker.bootstrap, "client.id": "payments",
                         "retry.backoff.ms": 50})
    outcomes = []
    producer.produce("payments", value=b"charge-42",
                     on_delivery=lambda error, message: outcomes.append(error))
    assert producer.flush(15) == 0
    assert outcomes == [None], "delivered despite the two errors"

    assert gregor_broker.faults() == [], "both injected errors were used"
    produces = [entry for entry in gregor_broker.journal()
                if entry["api"] == "Produce" and entry["client_id"] == "payments"]
    assert [entry["error_code"] for entry in produces] == [6, 6, 0]
    assert [entry["fault"] is not None for entry in produces] == [True, True, False]
    assert read_partition(gregor_broker.bootstrap, "payments") == [b"charge-42"], "written once"


def test_a_paused_partition_holds_writes_until_resumed(gregor_broker: GregorBroker):
    producer = Producer({"bootstrap.servers": gregor_broker.bootstrap})
    producer.produce("audit", value=b"first", partition=0)
    assert producer.flush(10) == 0

    gregor_broker.pause("audit", 0)
    producer.produce("audit", value=b"held", partition=0)
    assert producer.flush(1) == 1, "not acknowledged while paused"
    gregor_broker.resume("audit", 0)
    assert producer.flush(10) == 0
    assert read_partition(gregor_broker.bootstrap, "audit") == [b"first", b"held"]


def test_time_travel_aborts_a_transaction_left_open(gregor_broker: GregorBroker):
    producer = Producer({"bootstrap.servers": gregor_broker.bootstrap, "client.id": "ledger",
                         "transactional.id": "ledger-1", "transaction.timeout.ms": 600_000})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce("ledger", value=f"entry-{i}".encode(), partition=0)
    assert producer.flush(10) == 0

    def aborted():
        return [f for f in gregor_broker.lint() if f["rule"] == "transaction-timed-out"]

    assert not aborted()
    # Ten minutes pass at once: the coordinator aborts the transaction.
    gregor_broker.advance_clock(601_000)
    wait_for(aborted, timeout=15, what="the transaction aborted")
    # Aborting it bumped the producer's epoch: the late commit is fenced.
    with pytest.raises(KafkaException) as refused:
        producer.commit_transaction(10)
    assert refused.value.args[0].code() == KafkaError._FENCED

    # Read-committed readers are no longer held up, and never see the entries.
    plain = Producer({"bootstrap.servers": gregor_broker.bootstrap})
    plain.produce("ledger", value=b"after", partition=0)
    assert plain.flush(10) == 0
    committed = read_partition(gregor_broker.bootstrap, "ledger",
                               **{"isolation.level": "read_committed"})
    assert committed == [b"after"]


# A group member that crashes: killed with SIGKILL, it never leaves its group.
CRASHING_MEMBER = """
import sys
from confluent_kafka import Consumer
consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "shipping",
                     "session.timeout.ms": 60000})
consumer.subscribe(["shipments"], on_assign=lambda c, partitions: print("assigned", flush=True))
while True:
    consumer.poll(0.2)
"""


def test_time_travel_expires_a_crashed_consumer(gregor_broker: GregorBroker):
    admin = AdminClient({"bootstrap.servers": gregor_broker.bootstrap})
    admin.create_topics([NewTopic("shipments", 1)])["shipments"].result(10)
    with subprocess.Popen([sys.executable, "-c", CRASHING_MEMBER, gregor_broker.bootstrap],
                          stdout=subprocess.PIPE, text=True) as member:
        try:
            assert member.stdout.readline().strip() == "assigned"
        finally:
            member.kill()

    def members() -> int:
        group = admin.describe_consumer_groups(["shipping"])["shipping"].result(10)
        return len(group.members)

    assert members() == 1, "a crashed member stays until its session times out"
    gregor_broker.advance_clock(61_000)
    wait_for(lambda: members() == 0, timeout=10, what="the crashed member gone")


def test_the_linter_names_a_consumer_committing_past_the_high_watermark(
        gregor_broker: GregorBroker):
    producer = Producer({"bootstrap.servers": gregor_broker.bootstrap})
    for i in range(10):
        producer.produce("events", value=f"event-{i}".encode(), partition=0)
    assert producer.flush(10) == 0

    # An off-by-100 bug: the next restart would skip records never read.
    consumer = Consumer({"bootstrap.servers": gregor_broker.bootstrap, "client.id": "reports",
                         "group.id": "reports", "enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition("events", 0, 110)], asynchronous=False)
    consumer.close()

    [finding] = [f for f in gregor_broker.lint() if f["client_id"] == "reports"]
    assert finding["rule"] == "commit-beyond-high-watermark"
    [example] = finding["evidence"]["examples"]
    assert (example["offset"], example["high_watermark"]) == (110, 10)


def test_acknowledged_records_survive_the_leaders_death(gregor_cluster: GregorCluster):
    admin = AdminClient({"bootstrap.servers": gregor_cluster.bootstrap})
    admin.create_topics([NewTopic("accounts", 1, replication_factor=3)])["accounts"].result(30)
    gregor_cluster.wait_for(lambda: len(gregor_cluster.isr("accounts", 0)) == 3, 30,
                            "accounts fully replicated")
    producer = Producer({"bootstrap.servers": gregor_cluster.bootstrap, "acks": "all",
                         "enable.idempotence": True, "message.timeout.ms": 60_000})
    delivered = []

    def send(values):
        for value in values:
            producer.produce("accounts", value=value, on_delivery=lambda error, message:
                             delivered.append((error, message.offset(), message.value())))
        assert producer.flush(60) == 0

    send([f"before-{i}".encode() for i in range(50)])
    leader = gregor_cluster.leader_of("accounts", 0)
    gregor_cluster.kill(leader)

    def new_leader() -> Optional[int]:
        now = gregor_cluster.leader_of("accounts", 0)
        return now if now not in (None, leader) else None

    gregor_cluster.wait_for(new_leader, 30, "a new leader")
    send([f"after-{i}".encode() for i in range(50)])

    assert [error for error, _, _ in delivered if error is not None] == []
    acknowledged = {offset: value for _, offset, value in delivered}
    assert len(acknowledged) == 100
    read_back = read_partition(gregor_cluster.bootstrap, "accounts", timeout=30)
    assert dict(enumerate(read_back)) == acknowledged, "every acknowledged record, at its offset"
