"""The fault plane on the admin listener: exact, deterministic faults that
real clients must ride through (confluent-kafka and kafka-python)."""

import time

import kafka
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import FaultPlane, free_port

NOT_LEADER_OR_FOLLOWER = 6
REQUEST_TIMED_OUT = 7


def start(broker_factory):
    port = free_port()
    broker = broker_factory(**{"admin.listener": f"127.0.0.1:{port}",
                               "admin.fault.plane.enable": "true"})
    return broker, FaultPlane(port)


def read_all(bootstrap, topic, partitions=1):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "faults", "enable.auto.commit": False,
                         "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    values, eofs, deadline = [], 0, time.time() + 20
    while eofs < partitions and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            eofs += 1
            continue
        values.append(message.value().decode())
    consumer.close()
    return values


def test_confluent_producer_retries_through_injected_errors(broker_factory, topic):
    broker, admin = start(broker_factory)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "retry.backoff.ms": 20})
    producer.produce(topic, b"warm-up")
    assert producer.flush(10) == 0
    admin.arm(api="Produce", topic=topic, action={"error": NOT_LEADER_OR_FOLLOWER}, count=2)
    admin.arm(api="Produce", topic=topic, action={"error": REQUEST_TIMED_OUT}, count=1)
    reports = []
    for i in range(5):
        producer.produce(topic, b"v%d" % i, on_delivery=lambda err, msg: reports.append(err))
        assert producer.flush(20) == 0
    assert reports == [None] * 5
    assert read_all(broker.bootstrap, topic) == ["warm-up"] + [f"v{i}" for i in range(5)]
    injected = [e for e in admin.journal() if e["fault"]]
    assert [(e["api"], e["error_code"]) for e in injected] == [
        ("Produce", NOT_LEADER_OR_FOLLOWER), ("Produce", NOT_LEADER_OR_FOLLOWER), ("Produce", REQUEST_TIMED_OUT)]
    assert admin.call("GET", "/faults")[1] == []


def test_kafka_python_producer_retries_through_not_leader(broker_factory, topic):
    broker, admin = start(broker_factory)
    producer = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, retries=5, retry_backoff_ms=20)
    producer.send(topic, b"warm-up").get(timeout=10)
    admin.arm(api="Produce", topic=topic, partition=0, action={"error": NOT_LEADER_OR_FOLLOWER}, count=2)
    assert producer.send(topic, b"after").get(timeout=20).offset == 1
    producer.close()
    assert read_all(broker.bootstrap, topic) == ["warm-up", "after"]


def test_idempotent_producer_survives_injected_disconnects_without_duplicates(broker_factory, topic):
    broker, admin = start(broker_factory)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 5,
                         "retry.backoff.ms": 20})
    producer.produce(topic, b"warm-up")
    assert producer.flush(10) == 0
    # The broker appends, then the connection drops mid-response: the
    # producer must retry, and dedup must keep every record exactly once.
    admin.arm(api="Produce", topic=topic, action="disconnect", count=3)
    errors = []
    for i in range(300):
        producer.produce(topic, b"r%d" % i, on_delivery=lambda err, msg: err and errors.append(err))
        producer.poll(0)
    assert producer.flush(30) == 0
    assert errors == []
    assert read_all(broker.bootstrap, topic) == ["warm-up"] + [f"r{i}" for i in range(300)]
    assert len([e for e in admin.journal() if e["fault"] == "Disconnect"]) == 3


def test_latency_pause_and_client_scoping(broker_factory, topic):
    broker, admin = start(broker_factory)
    producer = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, client_id="slow-one")
    producer.send(topic, b"first").get(timeout=10)
    admin.arm(api="Produce", client_id="someone-else", action={"error": NOT_LEADER_OR_FOLLOWER}, count=1)
    admin.arm(api="Produce", client_id="slow-one", action={"latency_ms": 400}, count=1)
    started = time.time()
    producer.send(topic, b"second").get(timeout=10)
    assert time.time() - started >= 0.4
    assert [f["client_id"] for f in admin.call("GET", "/faults")[1]] == ["someone-else"]

    assert admin.call("POST", f"/partitions/{topic}/0/pause")[0] == 204
    future = producer.send(topic, b"held")
    time.sleep(0.5)
    assert not future.is_done
    assert admin.call("POST", f"/partitions/{topic}/0/resume")[0] == 204
    assert future.get(timeout=10).offset == 2
    producer.close()
    admin.call("DELETE", "/faults")
    assert admin.call("GET", "/faults")[1] == []
    journal = admin.journal()
    assert any(e["api"] == "Produce" and e["client_id"] == "slow-one" and e["fault"] == "LatencyMs(400)"
               for e in journal)


def test_error_faults_on_admin_apis_reach_both_admin_clients(broker_factory, topic):
    from confluent_kafka.admin import AdminClient, NewTopic
    from kafka.admin import KafkaAdminClient, NewTopic as KpNewTopic

    broker, admin = start(broker_factory)
    POLICY_VIOLATION = 44
    admin.arm(api="CreateTopics", action={"error": POLICY_VIOLATION}, count=2)
    confluent = AdminClient({"bootstrap.servers": broker.bootstrap})
    try:
        confluent.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
        raise AssertionError("CreateTopics should have failed")
    except Exception as error:  # confluent_kafka.KafkaException
        assert error.args[0].code() == POLICY_VIOLATION
    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        kp.create_topics([KpNewTopic(topic, 1, 1)])
        raise AssertionError("CreateTopics should have failed")
    except kafka.errors.PolicyViolationError:
        pass
    # The faults are used up: the topic can now be created, and nothing was created before.
    assert topic not in confluent.list_topics(timeout=10).topics
    confluent.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
    kp.close()
    assert [(e["api"], e["error_code"]) for e in admin.journal() if e["fault"]] == [
        ("CreateTopics", POLICY_VIOLATION), ("CreateTopics", POLICY_VIOLATION)]
