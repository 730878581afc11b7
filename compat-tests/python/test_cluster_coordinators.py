"""Issue #5 point 5: the group and transaction coordinators follow the
leaders of their internal partitions (`__consumer_offsets`,
`__transaction_state`, replicated to all three brokers), so consumer
groups and transactions keep working when the coordinator's broker is
killed with SIGKILL: the new leader loads the partition and answers
FindCoordinator, committed offsets and transactional state included.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition as CfPartition
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from cluster_harness import bootstrap, create_topic, layout
from conftest import kafka_python_knows, running_cluster, start_cluster, wait_for_brokers, wait_until

pytestmark = pytest.mark.timeout(240)

INTERNAL_PARTITIONS = 3
OVERRIDES = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "10000",
    "offsets.topic.num.partitions": str(INTERNAL_PARTITIONS),
    "transaction.state.log.num.partitions": str(INTERNAL_PARTITIONS),
    "group.initial.rebalance.delay.ms": "0",
}


@pytest.fixture
def cluster():
    yield from running_cluster(3, OVERRIDES)


def java_partition(key: str, partitions: int) -> int:
    """Kafka's coordinator partition: abs(String.hashCode) % partitions."""
    h = 0
    for ch in key:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return (h & 0x7FFFFFFF) % partitions


def leader_of(cluster, topic: str, partition: int) -> int:
    return layout(bootstrap(cluster), topic)[partition][0]


def kill_leader_of(cluster, topic, partition):
    """SIGKILLs the leader of an internal partition; returns the victim
    once another broker leads it."""
    leader = leader_of(cluster, topic, partition)
    victim = cluster[leader - 1]
    victim.kill()
    wait_until(lambda: leader_of(cluster, topic, partition) not in (-1, leader),
               timeout=30, what=f"a new leader of {topic}-{partition}")
    return victim


def test_consumer_group_offsets_survive_the_coordinator_broker_kill(cluster):
    create_topic(cluster, "work", 3, 3)
    kp = KafkaProducer(bootstrap_servers=bootstrap(cluster), acks="all")
    for i in range(30):
        kp.send("work", value=f"before-{i}".encode(), partition=i % 3)
    kp.flush(30)
    kp.close()

    group = "survivors"
    consumer = KafkaConsumer("work", bootstrap_servers=bootstrap(cluster), group_id=group,
                             enable_auto_commit=False, auto_offset_reset="earliest")
    kafka_python_knows(consumer, ["work"])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < 30 and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            got.extend(records)
    assert len(got) == 30
    consumer.commit()
    consumer.close()

    victim = kill_leader_of(cluster, "__consumer_offsets",
                            java_partition(group, INTERNAL_PARTITIONS))
    survivors = [b for b in cluster if b.running]

    kp = KafkaProducer(bootstrap_servers=bootstrap(survivors), acks="all")
    for i in range(9):
        kp.send("work", value=f"after-{i}".encode(), partition=i % 3)
    kp.flush(30)
    kp.close()

    # confluent-kafka, same group: the new coordinator has the offsets
    cf = Consumer({"bootstrap.servers": bootstrap(survivors), "group.id": group,
                   "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    committed = cf.committed([CfPartition("work", p) for p in range(3)], timeout=30)
    assert [tp.offset for tp in committed] == [10, 10, 10]
    cf.subscribe(["work"])
    after = []
    deadline = time.monotonic() + 60
    while len(after) < 9 and time.monotonic() < deadline:
        msg = cf.poll(0.5)
        if msg is not None and msg.error() is None:
            after.append(msg.value())
    cf.close()
    assert sorted(after) == sorted(f"after-{i}".encode() for i in range(9))

    admin = AdminClient({"bootstrap.servers": bootstrap(survivors)})
    described = admin.describe_consumer_groups([group])[group].result(timeout=30)
    assert described.coordinator.id != int(victim.name.split("-")[1])


def test_transactions_go_on_after_the_coordinator_broker_is_killed(cluster):
    create_topic(cluster, "ledger", 3, 3)
    txn_id = "ledger-writer"

    def producer():
        p = Producer({"bootstrap.servers": bootstrap(cluster), "transactional.id": txn_id,
                      "transaction.timeout.ms": 30000})
        p.init_transactions(60)
        return p

    first = producer()
    first.begin_transaction()
    for i in range(10):
        first.produce("ledger", value=f"one-{i}".encode(), partition=i % 3)
    first.commit_transaction(60)

    kill_leader_of(cluster, "__transaction_state", java_partition(txn_id, INTERNAL_PARTITIONS))

    # a new instance of the same transactional id finds its coordinator
    second = producer()
    second.begin_transaction()
    for i in range(10):
        second.produce("ledger", value=f"two-{i}".encode(), partition=i % 3)
    second.commit_transaction(60)
    second.begin_transaction()
    for i in range(5):
        second.produce("ledger", value=f"aborted-{i}".encode(), partition=i % 3)
    second.abort_transaction(60)

    consumer = KafkaConsumer(bootstrap_servers=bootstrap(cluster), isolation_level="read_committed",
                             enable_auto_commit=False, auto_offset_reset="earliest")
    consumer.assign([TopicPartition("ledger", p) for p in range(3)])
    seen = []
    deadline = time.monotonic() + 60
    while len(seen) < 20 and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            seen.extend(r.value for r in records)
    for records in consumer.poll(timeout_ms=1500).values():
        seen.extend(r.value for r in records)
    consumer.close()
    assert sorted(seen) == sorted([f"one-{i}".encode() for i in range(10)]
                                  + [f"two-{i}".encode() for i in range(10)])


def test_offsets_committed_before_a_quick_restart_of_the_coordinator_broker_survive():
    """The coordinator's broker is killed with SIGKILL and started again
    before its session times out, so it leads __consumer_offsets again with
    the high watermark of its last checkpoint (none in this test: the
    checkpoint interval is an hour): every commit it acknowledged — on all
    in-sync replicas — must still be there."""
    brokers = start_cluster(3, {**OVERRIDES, "broker.session.timeout.ms": "20000",
                                "replica.high.watermark.checkpoint.interval.ms": "3600000"})
    try:
        wait_for_brokers(brokers)
        create_topic(brokers, "work", 1, 3)
        kp = KafkaProducer(bootstrap_servers=bootstrap(brokers), acks="all")
        for i in range(20):
            kp.send("work", value=f"v{i}".encode(), partition=0)
        kp.flush(30)
        kp.close()

        group = "quick-restart"
        committer = KafkaConsumer(bootstrap_servers=bootstrap(brokers), group_id=group,
                                  enable_auto_commit=False)
        committer.commit({TopicPartition("work", 0): OffsetAndMetadata(20, "", -1)})
        committer.close()

        coordinator = leader_of(brokers, "__consumer_offsets",
                                java_partition(group, INTERNAL_PARTITIONS))
        victim = brokers[coordinator - 1]
        victim.kill()
        victim.start()
        wait_for_brokers(brokers)
        assert leader_of(brokers, "__consumer_offsets",
                         java_partition(group, INTERNAL_PARTITIONS)) == coordinator

        cf = Consumer({"bootstrap.servers": bootstrap(brokers), "group.id": group})
        try:
            assert [tp.offset for tp in cf.committed([CfPartition("work", 0)], timeout=30)] == [20]
        finally:
            cf.close()
        reader = KafkaConsumer(bootstrap_servers=bootstrap(brokers), group_id=group,
                               enable_auto_commit=False)
        try:
            assert reader.committed(TopicPartition("work", 0)) == 20
        finally:
            reader.close()
    finally:
        for broker in brokers:
            broker.cleanup()
