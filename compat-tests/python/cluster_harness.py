"""What the cluster suites (test_cluster_*.py, leader_kills.py) share:
addressing the live brokers, creating replicated topics, reading a topic's
leaders, replicas and ISR as a broker's Metadata says, comparing replicas'
logs byte for byte, consuming a whole topic, finding the active
controller, and giving a broker a second log dir."""

from __future__ import annotations

import re
import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, TopicPartition

from conftest import wait_until


def add_log_dir(brokers, node_id: int):
    """Restarts broker `node_id` with a second, empty log dir beside its
    own; returns (the broker, the new dir)."""
    broker = next(b for b in brokers if b.overrides["node.id"] == node_id)
    second = broker.data_dir.parent / "data-second"
    second.mkdir(exist_ok=True)
    broker.overrides["log.dirs"] = f"{broker.data_dir},{second}"
    broker.restart()
    return broker, second


def bootstrap(brokers) -> str:
    """The running brokers' addresses, for clients."""
    return ",".join(b.bootstrap for b in brokers if b.running)


def create_topic(brokers, name: str, partitions: int, replication: int, **configs) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap(brokers)})
    topic = NewTopic(name, partitions, replication, config=configs)
    for future in admin.create_topics([topic]).values():
        future.result(timeout=30)
    # As Kafka's own test harness waits (TestUtils.createTopic): until every
    # running broker's Metadata has the topic with a leader for each
    # partition, so that a client asking any of them sees it whole.
    def led_everywhere(address: str) -> bool:
        try:
            seen = layout(address, name)
        except KafkaException:
            return False
        return len(seen) == partitions and all(leader > 0 for leader, _, _ in seen.values())

    for broker in brokers:
        if broker.running:
            wait_until(lambda: led_everywhere(broker.bootstrap), 30, interval=0.2,
                       what=f"{name} in the metadata of {broker.name}")


def layout(address: str, topic: str) -> dict:
    """{partition: (leader, replicas in assignment order, sorted ISR)} as
    the Metadata of the broker(s) at `address` says."""
    admin = AdminClient({"bootstrap.servers": address})
    described = admin.list_topics(topic, timeout=10).topics[topic]
    return {p.id: (p.leader, list(p.replicas), sorted(p.isrs))
            for p in described.partitions.values()}


def in_sync(seen: dict, partitions: int) -> bool:
    """Every partition has a leader and its whole replica set in sync."""
    return len(seen) == partitions and all(
        leader > 0 and isr == sorted(replicas) for leader, replicas, isr in seen.values())


def replicas_identical(brokers, topic: str, partitions: int) -> bool:
    """Whether every running replica's first segment holds the same bytes
    (leaders wrote offsets and epochs; followers copy bytes)."""
    for partition in range(partitions):
        copies = set()
        for broker in brokers:
            if broker.running:
                log = broker.partition_dir(topic, partition) / "00000000000000000000.log"
                copies.add(log.read_bytes() if log.exists() else b"")
        if len(copies) != 1:
            return False
    return True


def consume_all(address: str, topic: str, partitions: int, expected_count: int,
                timeout: float = 60, **consumer_config) -> list:
    """Every record of the topic from the start: until `expected_count` or
    the timeout, then one more poll to catch anything beyond."""
    consumer = KafkaConsumer(bootstrap_servers=address, enable_auto_commit=False,
                             auto_offset_reset="earliest", **consumer_config)
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expected_count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(records)
        for records in consumer.poll(timeout_ms=1000).values():
            got.extend(records)
    finally:
        consumer.close()
    return got


def active_controller(brokers) -> tuple[int, int] | None:
    """(term, node id) of the latest active controller, from the line each
    broker logs when it takes the lead of the metadata quorum."""
    latest = None
    for node, broker in enumerate(brokers, 1):
        for term in re.findall(r"this node is now the active controller term=(\d+)",
                               broker.log_path.read_text(errors="replace")):
            latest = max(latest or (0, 0), (int(term), node))
    return latest
