"""acks=all and min.insync.replicas (issue #5 point 3, single-broker half).

With fewer in-sync replicas than the topic's ``min.insync.replicas``, an
acks=all write is refused with NOT_ENOUGH_REPLICAS (19) and nothing is
appended; acks=1 still works; lowering the config makes acks=all work again
without a restart. One broker has one replica in sync.
"""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry,
                                   ConfigResource, NewTopic)
from kafka import KafkaProducer
from kafka.errors import NotEnoughReplicasError

from conftest import wait_until

pytestmark = pytest.mark.timeout(60)


def create(broker, name: str, min_isr: str) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, 1, 1, config={"min.insync.replicas": min_isr})])
    for future in futures.values():
        future.result(timeout=10)


def confluent_send(broker, name: str, acks: str, value: bytes):
    """Delivers one record without retries; the delivery report's error
    (None on success) and offset."""
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": acks,
                         "enable.idempotence": False, "retries": 0})
    reports = []
    producer.produce(name, value=value,
                     on_delivery=lambda err, msg: reports.append((err, msg.offset())))
    producer.flush(15)
    assert len(reports) == 1
    return reports[0]


def test_confluent_acks_all_needs_min_insync_replicas(broker, topic):
    create(broker, topic, "2")
    error, _ = confluent_send(broker, topic, "all", b"refused")
    assert error is not None and error.code() == KafkaError.NOT_ENOUGH_REPLICAS, error
    error, offset = confluent_send(broker, topic, "1", b"accepted")
    assert error is None and offset == 0, "acks=1 still works; nothing was appended before"

    # Lowering the topic's min.insync.replicas takes effect at once.
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    resource = ConfigResource(
        ConfigResource.Type.TOPIC, topic,
        incremental_configs=[ConfigEntry("min.insync.replicas", "1",
                                         incremental_operation=AlterConfigOpType.SET)])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=10)
    error, offset = wait_until(
        lambda: (lambda r: r if r[0] is None else None)(confluent_send(broker, topic, "all", b"now")),
        timeout=15, what="acks=all accepted after lowering min.insync.replicas")
    assert offset == 1


def test_kafka_python_acks_all_needs_min_insync_replicas(broker, topic):
    create(broker, topic, "3")
    strict = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", retries=0)
    with pytest.raises(NotEnoughReplicasError):
        strict.send(topic, b"refused").get(timeout=15)
    strict.close()
    relaxed = KafkaProducer(bootstrap_servers=broker.bootstrap, acks=1, retries=0)
    metadata = relaxed.send(topic, b"accepted").get(timeout=15)
    assert metadata.offset == 0
    relaxed.close()
