"""Time travel (issue 13 point 3): `POST /clock/advance?ms=N` on a test
broker's admin plane moves its clock forward, and what expires by time
fires at once instead of after real minutes:
- a confluent-kafka consumer killed with SIGKILL (session.timeout.ms one
  minute) stays a member until the clock passes its session, then its
  group is empty and kafka-python's admin says so;
- a confluent-kafka transaction left open (transaction.timeout.ms ten
  minutes) is aborted once the clock passes it: a read_committed
  kafka-python consumer never sees its records, and the linter names it;
- records past retention.ms (one hour) are deleted: the low watermark
  moves for confluent-kafka and kafka-python alike.
No test waits the real timeouts; each checks nothing fired before the
advance."""

from __future__ import annotations

import subprocess
import sys
import time

import kafka
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka.admin import KafkaAdminClient

from conftest import FaultPlane, free_port, wait_until

pytestmark = pytest.mark.timeout(120)


def start(broker_factory, **overrides):
    port = free_port()
    broker = broker_factory(**{"admin.listener": f"127.0.0.1:{port}",
                               "admin.fault.plane.enable": "true", **overrides})
    return broker, FaultPlane(port)


def advance(plane: FaultPlane, ms: int) -> dict:
    status, clock = plane.call("POST", f"/clock/advance?ms={ms}")
    assert status == 200, (status, clock)
    return clock


MEMBER = """
import sys
from confluent_kafka import Consumer
consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2],
                     "session.timeout.ms": 60000, "heartbeat.interval.ms": 3000})
consumer.subscribe([sys.argv[3]], on_assign=lambda c, ps: print("assigned", flush=True))
while True:
    consumer.poll(0.5)
"""


def test_a_dead_members_session_expires_when_the_clock_passes_it(broker_factory, topic):
    broker, plane = start(broker_factory)
    group = f"tt-{topic}"
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce(topic, b"x")
    producer.flush(10)
    member = subprocess.Popen([sys.executable, "-c", MEMBER, broker.bootstrap, group, topic],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert member.stdout.readline().strip() == "assigned"
    finally:
        member.kill()
        member.wait(10)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)

    def described():
        return admin.describe_groups([group])[group]

    def members():
        return len(described()["members"])
    time.sleep(2)
    assert members() == 1, "a killed member stays until its session expires"
    clock = advance(plane, 61_000)
    assert clock["offset_ms"] >= 61_000
    wait_until(lambda: members() == 0, timeout=10, what="the dead member expired")
    assert described()["group_state"] == "Empty", described()
    admin.close()


def test_an_open_transaction_is_aborted_when_the_clock_passes_its_timeout(broker_factory, topic):
    broker, plane = start(broker_factory)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "slow-txn",
                         "transactional.id": "tt-open", "transaction.timeout.ms": 600000})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, value=f"open{i}".encode(), partition=0)
    assert producer.flush(30) == 0
    time.sleep(1)
    status, found = plane.call("GET", "/lint")
    assert not [f for f in found if f["rule"] == "transaction-timed-out"], found
    advance(plane, 601_000)
    wait_until(lambda: any(f["rule"] == "transaction-timed-out" and f["client_id"] == "slow-txn"
                           for f in plane.call("GET", "/lint")[1]),
               timeout=15, what="the transaction aborted")
    consumer = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap,
                                   isolation_level="read_committed",
                                   auto_offset_reset="earliest", consumer_timeout_ms=3000)
    tp = kafka.TopicPartition(topic, 0)
    consumer.assign([tp])
    assert [r.value for r in consumer] == [], "an aborted transaction's records stay hidden"
    assert consumer.position(tp) == 6, "past the five records and the abort marker"
    consumer.close()


def test_retention_deletes_what_the_clock_has_aged(broker_factory, topic):
    broker, plane = start(broker_factory)
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1, config={"retention.ms": "3600000",
                                                       "segment.bytes": "1024"})])[topic] \
        .result(30)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for i in range(40):
        producer.produce(topic, value=b"r" * 100 + str(i).encode(), partition=0)
        producer.flush(10)
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "tt-retention"})

    def low() -> int:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[0]
    time.sleep(1)
    assert low() == 0, "nothing is past retention yet"
    advance(plane, 2 * 3_600_000)
    wait_until(lambda: low() > 0, timeout=15, what="aged segments deleted")
    moved = low()
    consumer.close()
    kp = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap)
    tp = kafka.TopicPartition(topic, 0)
    assert kp.beginning_offsets([tp])[tp] == moved
    assert kp.end_offsets([tp])[tp] == 40
    kp.close()
